"""The paper's published numbers as a study: its table checked, its costs estimated, its claims
recounted, and `sor study parameters/paper-reported.yaml` end to end."""

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import PARAMETERS, run_sor
from scale_or_reason import units
from scale_or_reason.analysis import reported
from scale_or_reason.config import paths
from scale_or_reason.config.params import ParametersError, load_study, parse_study
from scale_or_reason.core import flops
from scale_or_reason.core.model_configs import student_architecture
from scale_or_reason.orchestration import estimates

REPORTED = PARAMETERS / "paper-reported.yaml"
SIZES = [0.5, 1.5, 3.0, 7.0, 14.0]


def published_table() -> pd.DataFrame:
    return pd.read_csv(paths.PAPER_DATA_DIR / reported.TABLE_FILE)


def test_the_published_table_is_complete_and_counts_the_papers_28_of_40(tmp_path):
    table = reported.read_accuracy_table(
        paths.PAPER_DATA_DIR / reported.TABLE_FILE, ["general", "math"], SIZES
    )
    wide = table.pivot_table(index=["corpus", "family", "size_b"], columns="format", values="accuracy")
    assert len(wide) == 40
    assert int((wide["reasoning"] > wide["ift"]).sum()) == 28  # the paper's text: 28 of 40 cells


def test_a_missing_cell_is_named(tmp_path):
    path = tmp_path / "table.csv"
    table = published_table()
    drop = (table["corpus"] == "math") & (table["family"] == "math_mc") & (table["size_b"] == 3)
    table[~(drop & (table["format"] == "ift"))].to_csv(path, index=False)
    with pytest.raises(reported.ReportedTableError, match="corpus math, math_mc, ift, 3B"):
        reported.read_accuracy_table(path, ["general", "math"], SIZES)


def test_an_accuracy_outside_0_to_100_is_named_by_its_line(tmp_path):
    path = tmp_path / "table.csv"
    table = published_table()
    table.loc[5, "accuracy"] = 104.0
    table.to_csv(path, index=False)
    with pytest.raises(reported.ReportedTableError, match=r"line 7: accuracy 104.0 outside 0-100"):
        reported.read_accuracy_table(path, ["general"], SIZES)


def test_scale_names_give_the_size_or_a_clear_error():
    assert reported.size_b("0.5b") == 0.5 and reported.size_b("14b") == 14.0
    with pytest.raises(reported.ReportedTableError, match="'small'"):
        reported.size_b("small")


def test_training_flops_are_the_papers_formula_over_the_corpus_at_its_mean_length():
    study = load_study(REPORTED)
    arch = student_architecture(study, "7b")
    corpus = study.reported.corpus_sizes["general"]
    estimate = reported.train_flops_estimate(arch, corpus, "reasoning", 4.0)
    length = round((corpus.prompt_chars + corpus.reasoning_chars) / 4.0)
    assert estimate == pytest.approx(corpus.samples * 3 * flops.forward_flops(arch, length))
    # 7.6B parameters, 2.7k tokens, 1M samples: near 6·N·D (the formula counts two MLP matrices
    # of three, full-width keys and values, and attention)
    six_n_d = 6 * 7.6e9 * length * corpus.samples
    assert 0.7 * six_n_d < estimate < 1.3 * six_n_d


def test_inference_flops_follow_the_published_power_law():
    laws = reported.published(reported.POWER_LAWS_FILE)
    assert reported.inference_flops_law(laws, "general_oe", "reasoning", 7.0) == pytest.approx(
        2.77e12 * 7.0**0.85
    )


def test_frontier_gaps_measure_how_far_below_the_frontier():
    results = pd.DataFrame(
        {
            "family": ["f"] * 3,
            "scale": ["a", "b", "c"],
            "recipe": ["ift", "reasoning", "ift"],
            "train_flops": [1.0, 2.0, 3.0],
            "accuracy": [0.5, 0.7, 0.6],
        }
    )
    gaps = reported.frontier_gaps(results, "train_flops").set_index("scale")
    assert gaps["on"].tolist() == [True, True, False]
    assert gaps.loc["c", "gap"] == pytest.approx(0.1)


def test_the_wording_sentence_names_cells_outside_the_papers_description():
    gaps = pd.DataFrame(
        {
            "family": ["math_mc", "general_oe"],
            "scale": ["7b", "14b"],
            "recipe": ["reasoning", "reasoning"],
            "on": [True, True],
            "gap": [0.0, 0.0],
        }
    )
    sentence = reported.paper_wording_headline(gaps, "training")
    assert "part ways" in sentence and "math_mc 7b" in sentence and "general_oe 14b" not in sentence
    assert "agrees" in reported.paper_wording_headline(gaps.iloc[[1]], "training")


def study_data(**changes) -> dict:
    data = yaml.safe_load(REPORTED.read_text())
    data.update(changes)
    return data


def test_a_reported_study_runs_nothing_and_plans_one_analysis():
    study = load_study(REPORTED)
    assert units.runs(study) == []
    planned = units.plan(study, REPORTED)
    assert [unit.key for unit in planned] == ["analyze:study"]
    described = estimates.describe(study, planned)
    assert "the paper's published numbers" in described
    saved = sum(
        reported.train_flops_estimate(
            student_architecture(study, scale),
            study.reported.corpus_sizes[corpus],
            fmt,
            study.reported.chars_per_token,
        )
        for scale in ("7b", "14b")
        for corpus in ("general", "math")
        for fmt in ("ift", "reasoning")
    )
    assert (
        f"training the students at 7b, 14b (predicted from 0.5b, 1.5b, 3b) cost an estimated {saved:.3g}"
        in (described)
    )
    with pytest.raises(ParametersError, match="remove benchmarks"):
        parse_study(study_data(benchmarks=[{"name": "gsm8k"}]))
    missing = study_data()
    del missing["reported"]["corpus_sizes"]["math"]
    with pytest.raises(ParametersError, match="no entry for corpus 'math'"):
        parse_study(missing)
    ordinary = yaml.safe_load((PARAMETERS / "smoke.yaml").read_text())
    ordinary["benchmarks"] = []
    with pytest.raises(ParametersError, match="benchmarks: name at least one"):
        parse_study(ordinary)


@pytest.mark.slow
def test_sor_study_draws_the_papers_figures_and_recounts_its_claims(tmp_path, isolated_runs):
    parameters = tmp_path / "paper-reported.yaml"
    figures = tmp_path / "figures"
    analysis = {**study_data()["analysis"], "figures_dir": str(figures)}  # its analysis.predict kept
    parameters.write_text(yaml.safe_dump(study_data(analysis=analysis)))
    finished = run_sor("study", str(parameters), runs_dir=isolated_runs)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert not figures.exists()  # an analysis writes into its run folder only
    published = run_sor("study", str(parameters), "--publish-figures", runs_dir=isolated_runs)
    assert published.returncode == 0, published.stderr[-3000:]
    published_png = len(list(figures.glob("*.png")))
    assert f"published {2 * published_png + 1} files into {figures}" in published.stdout  # PNG, PDF, summary
    study = load_study(parameters)
    results = pd.read_csv(units.results_csv(study))
    assert len(results) == 80 and results["train_flops_estimated"].all()
    assert results.loc[results["corpus"] == "math", "inference_flops"].isna().all()
    assert results.loc[results["corpus"] == "general", "inference_flops"].gt(0).all()
    summary = (figures / "summary.md").read_text()
    assert "reasoning beats IFT at equal size in 28 of 40" in summary
    assert "no interval exists" in summary and "**estimates**" in summary
    drawn = {path.stem for path in figures.glob("*.png")}
    assert drawn == {
        "general-accuracy_vs_train_flops",
        "general-accuracy_vs_inference_flops",
        "general-gain_vs_size",
        "general-inference_flops_vs_size",
        "math-accuracy_vs_train_flops",
        "math-gain_vs_size",
        "predicted_vs_actual",
    }
    fits = pd.read_csv(units.analysis_dir(study) / "tables" / "general-fits.csv")
    ceilings = reported.teacher_ceilings()
    assert (fits["alpha"] + fits["beta"] <= fits["family"].map(ceilings) + 1e-9).all()
    assert not math.isnan(fits["mae"].max())
    # the backtest: 0.5B-3B fitted, 7B and 14B predicted and scored against the published rows
    tables = units.analysis_dir(study) / "tables"
    predictions = pd.read_csv(tables / "predictions.csv")
    assert len(predictions) == 2 * 4 * 2 * 2 * 3  # corpora × families × formats × sizes × methods
    assert set(predictions["scale"]) == {"7b", "14b"} and predictions["actual"].notna().all()
    published_rows = results.set_index(["corpus", "family", "recipe", "scale"])["accuracy"]
    keys = list(predictions[["corpus", "family", "recipe", "scale"]].itertuples(index=False, name=None))
    assert np.allclose(published_rows.loc[keys].to_numpy(), predictions["actual"])
    assert (predictions["low"] <= predictions["predicted"]).all()
    assert (predictions["predicted"] <= predictions["high"]).all()
    scores = pd.read_csv(tables / "prediction_scores.csv")
    assert len(scores) == 2 * 3 and (scores["predictions"] == 16).all() and (scores["verdicts"] == 8).all()
    assert "Predicting 7b, 14b from 0.5b, 1.5b, 3b only" in summary
    assert "## Predicted from the small students: 0.5b, 1.5b, 3b → 7b, 14b" in summary


class FakeReplicates:
    """One benchmark's bootstrap as `paper_comparison` reads it: samples per student column."""

    def __init__(self, samples: dict[tuple[str, str], list[float]]):
        self.students = list(samples)
        self.accuracy_samples = np.array(list(samples.values())).T  # replicates × students

    def column(self, scale: str, recipe: str) -> int:
        return self.students.index((scale, recipe))


def test_the_comparison_averages_a_familys_benchmarks_in_every_replicate():
    replicates = {
        "squad": FakeReplicates({("7b", "ift"): [0.5, 0.6, 0.7, 0.8]}),
        "coqa": FakeReplicates({("7b", "ift"): [0.1, 0.2, 0.3, 0.4]}),
    }
    students = pd.DataFrame(
        {
            "family": ["general_oe", "general_oe"],
            "scale": ["7b", "7b"],
            "recipe": ["ift", "ift"],
            "benchmark": ["squad", "coqa"],
            "accuracy": [0.65, 0.25],
        }
    )
    row = reported.paper_comparison(replicates, students, "general").iloc[0]
    assert row["ours"] == pytest.approx(0.45) and row["paper"] == pytest.approx(0.564)
    assert row["difference"] == pytest.approx(0.45 - 0.564)
    averaged = [0.3, 0.4, 0.5, 0.6]  # replicate by replicate, not each benchmark's own interval
    assert (row["low"], row["high"]) == pytest.approx(tuple(np.percentile(averaged, [2.5, 97.5])))
    assert row["benchmarks"] == 2
