"""The explorer of 00_explore: any finished study's students against a chosen cost, with intervals
and the frontier, redrawn as the dropdowns change; tested without a browser."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from scale_or_reason.analysis import explore
from scale_or_reason.analysis.pareto import pareto_mask


@pytest.mark.slow
def test_a_students_table_carries_cost_interval_and_frontier(smoke_reference):
    results = explore.study_results("smoke", smoke_reference)
    intervals = explore.bootstrap_intervals("smoke", smoke_reference)
    table = explore.student_table(results, "math_oe", "inference", "exact", explore.MEAN, intervals)
    chosen = results[results["benchmark"] == "math_oe"].set_index(["scale", "recipe"])
    students = list(zip(table["scale"], table["recipe"], strict=True))
    assert np.allclose(table["cost"], chosen.loc[students, "inference_flops_exact"])
    assert table["cost"].is_monotonic_increasing and (table["count"] == "exact").all()
    assert table["on_frontier"].tolist() == pareto_mask(table["cost"], table["accuracy"]).tolist()
    bootstrap = intervals[intervals["benchmark"] == "math_oe"].set_index(["scale", "recipe"])
    first = table.iloc[0]
    assert first["low"] == bootstrap.loc[(first["scale"], first["recipe"]), "low"]
    one_seed = explore.student_table(results, "math_oe", "train", "paper", 0)
    assert ((one_seed["low"] <= one_seed["accuracy"]) & (one_seed["accuracy"] <= one_seed["high"])).all()
    with pytest.raises(ValueError, match="no run with seed 7"):
        explore.student_table(results, "math_oe", "train", "paper", 7)
    with pytest.raises(ValueError, match="no results on benchmark 'nope'"):
        explore.student_table(results, "nope", "train", "paper")


@pytest.mark.slow
def test_the_explorer_redraws_on_every_change(smoke_reference):
    explorer = explore.Explorer(smoke_reference)
    first = explorer.benchmark.options[0]
    assert explorer.study.options == ("smoke",) and set(explorer.table["benchmark"]) == {first}
    training = explorer.table.copy()
    explorer.axis.value = "inference"
    assert not np.allclose(explorer.table["cost"].sort_values(), training["cost"].sort_values())
    explorer.benchmark.value = "math_oe"
    assert set(explorer.table["benchmark"]) == {"math_oe"}
    drawn = explorer.figure.axes[0]
    assert drawn.get_title() == "math_oe" and "inference FLOPs" in drawn.get_xlabel()


@pytest.mark.slow
def test_the_explorer_opens_on_the_notebooks_choices_where_they_finished(smoke_reference, tmp_path):
    runs = tmp_path / "runs"
    for name in ("another", "smoke"):
        shutil.copytree(smoke_reference / "smoke", runs / name)
    explorer = explore.Explorer(runs, "smoke", "general_mc", "inference", "exact")
    chosen = (explorer.study.value, explorer.benchmark.value, explorer.axis.value, explorer.count.value)
    assert chosen == ("smoke", "general_mc", "inference", "exact")
    assert set(explorer.table["benchmark"]) == {"general_mc"}
    assert "inference FLOPs" in explorer.figure.axes[0].get_xlabel()
    fallback = explore.Explorer(runs, "embedded", "nope")  # not finished here: the first of each
    assert (fallback.study.value, fallback.benchmark.value) == ("another", fallback.benchmark.options[0])


@pytest.mark.slow
def test_two_studies_compare_on_one_axis_or_name_the_missing_one(smoke_reference, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(smoke_reference / "smoke", runs / "smoke")
    # One finished study (after `make study` alone): nothing to compare it with, and no error.
    assert explore.compare_finished("smoke", None, "math_oe", "train", "paper", runs) is None
    shutil.copytree(smoke_reference / "smoke", runs / "smoke-again")
    figure, table = explore.compare_finished("smoke", None, "math_oe", "train", "paper", runs)
    assert [ax.get_title() for ax in figure.axes] == ["smoke: math_oe", "smoke-again: math_oe"]
    assert table.groupby("study").size().to_dict() == {"smoke": 6, "smoke-again": 6}
    with pytest.raises(ValueError, match="embedded has not finished"):
        explore.compare_finished("smoke", "embedded", "math_oe", "train", "paper", runs)


@pytest.mark.slow
def test_the_explore_notebook_runs_headless(smoke_reference, tmp_path):
    executed = tmp_path / "explore.ipynb"
    command = [sys.executable, "-m", "papermill", "notebooks/00_explore.ipynb", str(executed)]
    command += ["-p", "runs_dir", str(smoke_reference), "-p", "first", "smoke", "-p", "second", "smoke"]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    import nbformat

    cells = [c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"]
    outputs = [output for cell in cells for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
