"""Planning a study: units, dependencies, skipping finished work."""

import pytest

from scale_or_reason import units
from scale_or_reason.orchestration import execution, runner
from scale_or_reason.orchestration.execution import Outcome
from scale_or_reason.orchestration.runner import timing_table
from scale_or_reason.units import plan


def test_plan_has_one_unit_per_stage_and_student(smoke_study):
    planned = plan(smoke_study, "parameters/smoke.yaml")
    keys = [u.key for u in planned]
    assert keys[0] == "generate:data" and keys[-3:] == ["analyze:study", "curriculum:study", "transfer:study"]
    assert sum(u.stage == "train" for u in planned) == 6 == sum(u.stage == "evaluate" for u in planned)
    assert {"train:tiny-sequential-50", "train:tiny-mixed-50"} <= set(keys)
    by_key = {u.key: u for u in planned}
    assert by_key["evaluate:tiny-ift"].needs == ("train:tiny-ift",)
    assert by_key["train:small-reasoning"].needs == ("generate:data",)
    assert set(by_key["analyze:study"].needs) == {u.key for u in planned if u.stage == "evaluate"}
    assert by_key["transfer:study"].needs == by_key["analyze:study"].needs  # smoke tests one rephrased set
    assert by_key["train:small-reasoning"].cost > by_key["train:tiny-ift"].cost
    assert (
        by_key["train:tiny-reasoning"].cost
        > by_key["train:tiny-mixed-50"].cost
        > by_key["train:tiny-ift"].cost
    )
    assert all(u.parameters["parameters_file"].endswith("parameters/smoke.yaml") for u in planned)


def test_finished_units_are_skipped_and_unfinished_ones_run(smoke_study, monkeypatch):
    planned = plan(smoke_study, "parameters/smoke.yaml")
    for unit in planned:
        if unit.stage in ("generate", "train"):
            unit.folder.mkdir(parents=True, exist_ok=True)
            units.mark_complete(unit.folder)
    executed = []

    def fake_execute(unit, study, kernels=None):
        executed.append(unit.key)
        units.mark_complete(unit.folder)

    monkeypatch.setattr(execution, "execute", fake_execute)
    outcomes = runner.run_units(planned, smoke_study, jobs=2, rerun=set())
    assert sorted(executed) == sorted(
        u.key for u in planned if u.stage in ("evaluate", "analyze", "curriculum", "transfer")
    )
    assert set(executed[-3:]) == {"analyze:study", "curriculum:study", "transfer:study"}
    assert {o.unit.key: o.status for o in outcomes}["train:tiny-ift"] == "skipped"
    executed.clear()
    runner.run_units(planned, smoke_study, jobs=1, rerun={"analyze"})
    assert executed == ["analyze:study"]


def test_a_failed_unit_stops_its_dependants_and_is_reported(smoke_study, monkeypatch):
    planned = plan(smoke_study, "parameters/smoke.yaml")

    def fail_training(unit, study, kernels=None):
        if unit.key == "train:tiny-ift":
            raise execution.UnitFailed("train:tiny-ift failed")
        units.mark_complete(unit.folder)

    monkeypatch.setattr(execution, "execute", fail_training)
    outcomes = {o.unit.key: o.status for o in runner.run_units(planned, smoke_study, jobs=1, rerun=set())}
    assert outcomes["train:tiny-ift"] == "failed"
    assert "evaluate:tiny-ift" not in outcomes and "analyze:study" not in outcomes


def test_timing_table_counts_units_and_seconds(smoke_study):
    planned = plan(smoke_study, "parameters/smoke.yaml")
    table = timing_table(
        [Outcome(planned[0], "ran", 2.0), Outcome(planned[1], "ran", 3.0), Outcome(planned[3], "skipped")]
    )
    assert table.loc["train", "seconds"] == 3.0 and table.loc["train", "skipped"] == 1
    assert list(table.index) == ["generate", "train"]


def test_unknown_rerun_stage_is_named():
    with pytest.raises(ValueError, match="unknown stage"):
        runner.run_study("parameters/smoke.yaml", rerun=("training",))
