"""The data-efficiency chain end to end on a micro study: pool, probe, selections, teachers, the
untrained baseline and 07_data_efficiency, then a second run that finds everything done."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import red_outputs, run_sor
from scale_or_reason import units
from scale_or_reason.config.params import load_study
from scale_or_reason.core import files
from scale_or_reason.data import pool as pool_data
from test_efficiency import FIXTURE

pytestmark = pytest.mark.slow  # a whole micro study through papermill


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    runs = tmp_path_factory.mktemp("efficiency-runs")
    finished = run_sor("study", str(FIXTURE), runs_dir=runs)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return runs, finished


@pytest.fixture
def study(finished_study, monkeypatch):
    monkeypatch.setenv("SOR_RUNS_DIR", str(finished_study[0]))
    return load_study(FIXTURE)


def test_every_unit_ran_and_a_second_run_finds_them_done(finished_study, study):
    runs, _ = finished_study
    timings = pd.read_csv(units.study_dir(study) / "timings.csv")
    assert set(timings["status"]) == {"ran"}
    assert set(timings["stage"]) == {"generate", "train", "evaluate", "efficiency"}
    again = run_sor("study", str(FIXTURE), runs_dir=runs)
    assert again.returncode == 0, again.stderr[-2000:]
    assert set(pd.read_csv(units.study_dir(study) / "timings.csv")["status"]) == {"skipped"}


def test_the_pool_and_the_probes_verdict_on_each_of_its_questions(study):
    data = units.data_dir(study)
    pool = pool_data.load_pool(data)
    questions = files.read_jsonl(data / pool_data.QUESTIONS_FILE)
    assert len(pool) == 2 * 20 * 3 and len(questions) == 2 * 20
    solved = files.read_json(units.eval_dir(study, "tiny", "probe") / pool_data.SOLVED_FILE)
    assert solved["questions"] == len(questions) and set(solved["pass_rate"]) == {"general_oe", "general_mc"}
    assert set(solved["solved"]) <= {q["id"] for q in questions}


def test_each_selection_records_what_it_trained_on(study):
    metrics = files.read_json(units.train_dir(study, "tiny", "select-correct_only-8") / "train_metrics.json")
    per_family = metrics["selection"]["per_family"]
    assert {family: stats["examples"] for family, stats in per_family.items()} == {
        "general_oe": 8,
        "general_mc": 8,
    }
    assert metrics["selection"]["correct_share"] == 1.0 and metrics["samples"] == 16


def test_the_untrained_baseline_costs_nothing_and_the_analysis_ranks_the_teachers(study):
    results = pd.read_csv(units.results_csv(study))
    base = results[results["recipe"] == "base"]
    assert len(base) == 2 and (base["train_flops"] == 0).all()
    folder = units.efficiency_dir(study)
    teachers = pd.read_csv(folder / "teachers.csv")
    assert set(teachers["teacher"]) == {"full-0", "answer-50"}
    assert (
        teachers.set_index("teacher").loc["answer-50", "teacher_accuracy"] == 0.5
    )  # exactly half made wrong
    for name in ("accuracy_vs_examples", "selection_vs_train_flops", "teacher_choice"):
        assert (folder / "figures" / f"{name}.png").stat().st_size > 10_000
    selection = pd.read_csv(folder / "selection.csv")
    assert set(selection["recipe"]) == {*study.selection.recipes(), "reasoning"}
    assert set(selection["family"]) == {"general_oe", "general_mc", "mean"}
    summary = (units.study_dir(study) / "summary.md").read_text()
    assert (
        "Teachers ranked by the smoke student's gain" in summary
        and "Accuracy against training examples" in summary
    )


def test_the_executed_notebooks_are_kept_without_a_red_box(finished_study, study):
    assert (units.efficiency_dir(study) / "07_data_efficiency.ipynb").is_file()
    executed = sorted(finished_study[0].rglob("0*.ipynb"))
    assert not {path.name: red_outputs(path) for path in executed if red_outputs(path)}
