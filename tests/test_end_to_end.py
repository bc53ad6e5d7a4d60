"""The whole papermill chain on the micro study, as `sor study` runs it."""

import shutil

import pandas as pd
import pytest
import yaml

from conftest import PARAMETERS, red_outputs, run_sor
from scale_or_reason import units
from scale_or_reason.config.params import load_study
from scale_or_reason.units import plan

REQUIRED_COLUMNS = {
    "scale",
    "params",
    "recipe",
    "family",
    "benchmark",
    "accuracy",
    "n",
    "train_tokens",
    "train_flops",
    "gen_tokens_mean",
    "inference_flops",
}


sor = run_sor


@pytest.mark.slow
def test_no_executed_stage_notebook_shows_a_red_box(smoke_reference):
    """Library chatter (lm-eval's text progress bars and its warnings about a loaded model, git
    outside a repository, tqdm without widgets) stays out of the cells: red means wrong."""
    executed = sorted(smoke_reference.rglob("0*.ipynb"))
    assert {path.name[:2] for path in executed} == {"01", "02", "03", "04", "05", "06"}
    red = {str(path.relative_to(smoke_reference)): red_outputs(path) for path in executed}
    assert not {name: texts for name, texts in red.items() if texts}


@pytest.mark.slow
def test_smoke_study_runs_end_to_end_and_resumes(smoke_reference, monkeypatch, tmp_path):
    isolated_runs = tmp_path / "runs"  # a copy: the rerun below rewrites the study's records
    shutil.copytree(smoke_reference, isolated_runs, symlinks=True)
    monkeypatch.setenv("SOR_RUNS_DIR", str(isolated_runs))
    study = load_study("parameters/smoke.yaml")
    first_run = pd.read_csv(units.study_dir(study) / "timings.csv")
    assert set(first_run["status"]) == {"ran"} and len(first_run) == len(plan(study, "parameters/smoke.yaml"))
    results = pd.read_csv(units.results_csv(study))
    assert set(results.columns) >= REQUIRED_COLUMNS
    assert len(results) == len(units.students(study)) * len(study.benchmarks)
    assert {"sequential-50", "mixed-50"} <= set(results["recipe"])
    assert results["accuracy"].between(0, 1).all()
    assert (results["train_flops"] > 0).all() and (results["inference_flops"] > 0).all()
    reasoning = results[results["recipe"] == "reasoning"].set_index(["scale", "benchmark"])["train_tokens"]
    ift = results[results["recipe"] == "ift"].set_index(["scale", "benchmark"])["train_tokens"]
    assert (reasoning > ift).all(), "reasoning targets are longer, so they cost more tokens"

    for unit in plan(study, "parameters/smoke.yaml"):
        assert units.is_complete(unit.folder), unit.key
        assert (unit.folder / unit.notebook.name).is_file(), f"executed notebook kept for {unit.key}"
    drawn = {
        units.analysis_dir(study): (
            "accuracy_vs_train_flops",
            "accuracy_vs_inference_flops",
            "accuracy_vs_params",
            "flops_exact_vs_paper",
            "gain_vs_token_factor",
            "answer_length_by_outcome",
            "inference_flops_vs_size",
            "early_stopping",
        ),
        units.curriculum_dir(study): ("curriculum_gain", "curriculum_orders", "curriculum_vs_train_flops"),
        units.transfer_dir(study): ("transfer_gap",),
    }
    for folder, names in drawn.items():
        for name in names:
            for suffix in ("png", "pdf"):
                assert (folder / "figures" / f"{name}.{suffix}").stat().st_size > 0, name
    summary = (units.study_dir(study) / "summary.md").read_text()
    assert "At equal size, reasoning beats IFT in " in summary and "## Verdicts" in summary
    for table in ("fits", "verdicts", "lengths", "truncation", "curricula"):
        assert (units.analysis_dir(study) / "tables" / f"{table}.csv").is_file()

    model = units.train_dir(study, "tiny", "ift") / "model" / "model.safetensors"
    stamp = model.stat().st_mtime_ns
    again = sor("study", "parameters/smoke.yaml", runs_dir=isolated_runs)
    assert again.returncode == 0, again.stderr[-3000:]
    timings = pd.read_csv(units.study_dir(study) / "timings.csv")
    assert set(timings["status"]) == {"skipped"}
    assert model.stat().st_mtime_ns == stamp


def test_a_typo_in_the_parameters_stops_before_any_work(isolated_runs, tmp_path):
    data = yaml.safe_load((PARAMETERS / "smoke.yaml").read_text())
    data["training"]["epoch"] = 2
    bad = tmp_path / "typo.yaml"
    bad.write_text(yaml.safe_dump(data))
    finished = sor("study", str(bad), runs_dir=isolated_runs, timeout=120)
    assert finished.returncode == 2
    assert "unknown key 'training.epoch' (did you mean 'epochs'?)" in finished.stderr
    assert not (isolated_runs / "smoke").exists()


def test_a_missing_parameters_file_is_named(isolated_runs):
    finished = sor("study", "parameters/nope.yaml", runs_dir=isolated_runs, timeout=120)
    assert (
        finished.returncode == 2
        and "parameters file not found" in finished.stderr
        and "nope.yaml" in finished.stderr
    )


def test_check_lists_units(isolated_runs):
    finished = sor("check", "parameters/smoke.yaml", runs_dir=isolated_runs, timeout=120)
    assert finished.returncode == 0
    assert "train:tiny-ift" in finished.stdout and "to do" in finished.stdout
