"""The README's accuracy table is read from the committed accuracy.csv, never typed."""

import pandas as pd
import pytest

from conftest import PARAMETERS, REPO
from scale_or_reason.analysis import markdown, stages
from scale_or_reason.cli import main
from scale_or_reason.config.params import load_study


def test_the_readme_table_is_the_committed_accuracy_csv():
    study = load_study(PARAMETERS / "embedded.yaml")
    name, table = stages.readme_accuracy_block(study)
    readme = (REPO / "README.md").read_text()
    assert f"<!-- {name} -->\n{table}\n<!-- end {name} -->" in readme, (
        "run `sor readme parameters/embedded.yaml`"
    )


def test_a_cell_is_the_mean_with_its_interval_and_rows_run_by_size():
    accuracy = pd.DataFrame(
        {
            "scale": ["l", "s", "s", "l"],
            "recipe": ["reasoning", "reasoning", "ift", "ift"],
            "benchmark": "math_oe",
            "mean": [0.5, 0.25, 0.125, 0.0],
            "low": [0.4, 0.2, 0.1, 0.0],
            "high": [0.6, 0.3, 0.15, 0.01],
        }
    )
    lines = markdown.accuracy_markdown(accuracy, ["s", "l"], ["math_oe", "absent"]).splitlines()
    assert [line.split("|")[1].strip() + " " + line.split("|")[2].strip() for line in lines[2:]] == [
        "s ift",
        "s reasoning",
        "l ift",
        "l reasoning",
    ]
    assert "0.50 (0.40–0.60)" in lines[-1] and "absent" not in lines[0]


def test_the_block_is_replaced_between_its_markers_only():
    text = "intro\n<!-- t -->\nold\n<!-- end t -->\nafter\n"
    assert markdown.replace_block(text, "t", "new") == "intro\n<!-- t -->\nnew\n<!-- end t -->\nafter\n"
    with pytest.raises(ValueError, match="<!-- t -->"):
        markdown.replace_block("no markers", "t", "new")


def test_sor_readme_rewrites_the_table_and_names_a_missing_marker(tmp_path, capsys):
    readme = tmp_path / "README.md"
    study = load_study(PARAMETERS / "embedded.yaml")
    name, table = stages.readme_accuracy_block(study)
    readme.write_text(f"# x\n<!-- {name} -->\nstale\n<!-- end {name} -->\n")
    assert main(["readme", str(PARAMETERS / "embedded.yaml"), "--readme", str(readme)]) == 0
    assert table in readme.read_text() and "stale" not in readme.read_text()
    readme.write_text("# no table here\n")
    assert main(["readme", str(PARAMETERS / "embedded.yaml"), "--readme", str(readme)]) == 2
    assert "accuracy from figures/embedded/accuracy.csv" in capsys.readouterr().err


def test_sor_compare_counts_the_rerun_cells_inside_the_committed_prediction_intervals(tmp_path, capsys):
    committed = pd.DataFrame(
        {
            "scale": ["s", "s", "l", "m"],
            "recipe": ["ift", "reasoning", "ift", "ift"],
            "benchmark": "math_oe",
            "mean": [0.5, 0.5, 0.9, 0.4],
            "low": [0.45, 0.45, 0.85, 0.35],
            "high": [0.55, 0.55, 0.95, 0.45],
            "sd_seeds": [0.05, 0.05, 0.02, None],
            "seeds": [3, 3, 3, 1],
        }
    )
    # Prediction half-widths t(2)·sd·√(2/3): 0.18 and 0.07. 0.62 lands outside the confidence
    # interval but inside the prediction interval; 0.3 outside; 0.95 inside; m has one seed.
    rerun = committed.assign(mean=[0.62, 0.3, 0.95, 0.9], seeds=3)
    committed.to_csv(tmp_path / "committed.csv", index=False)
    rerun.to_csv(tmp_path / "rerun.csv", index=False)
    assert main(["compare", str(tmp_path / "committed.csv"), str(tmp_path / "rerun.csv")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 of 3 rerun seed means inside the committed 95% prediction intervals (67%)")
    assert "1 students with one seed not judged" in out
    assert "reasoning" in out and "0.300" in out and "0.620" not in out
    rerun.assign(benchmark="other").to_csv(tmp_path / "rerun.csv", index=False)
    assert main(["compare", str(tmp_path / "committed.csv"), str(tmp_path / "rerun.csv")]) == 2
    assert "share no student and benchmark" in capsys.readouterr().err
