"""Units as Slurm jobs: dependencies, resuming from jobs.json, failures, and the smoke study on a real
one-node Slurm started on this machine (tests/slurm_cluster.py).

    SOR_REQUIRE_SLURM=1 .venv/bin/python -m pytest tests/test_slurm.py

Without root or apt-get the cluster test is skipped with the reason, unless SOR_REQUIRE_SLURM=1
(CI), where it fails instead.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import time

import pandas as pd
import pydantic
import pytest

import slurm_cluster
from conftest import run_sor
from scale_or_reason import units
from scale_or_reason.config import paths
from scale_or_reason.config.params import SlurmParams, load_study
from scale_or_reason.core import files
from scale_or_reason.orchestration import slurm
from scale_or_reason.orchestration.slurm import SlurmUnavailable
from scale_or_reason.units import plan

SMOKE = "parameters/smoke.yaml"
# Columns that depend on how fast and how crowded the machine was, not on what was computed.
TIMING_WORDS = ("seconds", "time", "mfu", "peak", "per_second")
FAST = SlurmParams(poll_seconds=0.01)
ONLY = "evaluate:tiny-*"  # the units the real cluster runs


@pytest.fixture
def planned(smoke_study):
    return plan(smoke_study, SMOKE)


def by_key(planned):
    return {u.key: u for u in planned}


# --- parameters and dependencies -------------------------------------------------------------


def test_slurm_params_defaults_and_validation():
    defaults = SlurmParams()
    assert (defaults.partition, defaults.gpus_per_node, defaults.cpus_per_task) == (None, 0, 1)
    assert (defaults.mem_gb, defaults.time_minutes, defaults.account, defaults.poll_seconds) == (
        None,
        60,
        None,
        5,
    )
    assert SlurmParams(partition="gpu", gpus_per_node=8, mem_gb=1.5).gpus_per_node == 8
    bad_values = (
        {"gpus_per_node": -1},
        {"cpus_per_task": 0},
        {"time_minutes": 0},
        {"poll_seconds": 0},
        {"mem_gb": 0},
    )
    for bad in (*bad_values, {"partiton": "gpu"}):
        with pytest.raises(pydantic.ValidationError):
            SlurmParams(**bad)


def test_dependencies_are_the_jobs_of_the_needs(planned):
    planned = by_key(planned)
    jobs = {
        "generate:data": "10",
        "train:tiny-ift": "11",
        "evaluate:tiny-ift": "21",
        "evaluate:small-ift": "22",
    }
    assert slurm.dependency(planned["generate:data"], jobs) is None
    assert slurm.dependency(planned["train:tiny-ift"], jobs) == "afterok:10"
    assert slurm.dependency(planned["evaluate:tiny-ift"], jobs) == "afterok:11"
    # a need that is already complete has no job: nothing to wait for
    assert slurm.dependency(planned["evaluate:small-ift"], jobs) is None
    assert slurm.dependency(planned["analyze:study"], jobs) == "afterok:21:22"


def test_dependants_are_transitive_and_ordered(planned):
    after_training = slurm.dependants("train:tiny-ift", planned)
    assert after_training == ["evaluate:tiny-ift", "analyze:study", "curriculum:study", "transfer:study"]
    assert len(slurm.dependants("generate:data", planned)) == len(planned) - 1


def test_squeue_lines_are_parsed_by_job_id():
    queue = slurm.parse_squeue("12|PENDING|Dependency|sor:smoke:a|b\n\n13|RUNNING|None|x\n")
    assert queue["12"] == slurm.QueuedJob("12", "PENDING", "Dependency", "sor:smoke:a|b")
    assert queue["13"].alive and queue["12"].alive
    assert not slurm.parse_squeue("14|PENDING|DependencyNeverSatisfied|x")["14"].alive
    assert not slurm.parse_squeue("15|COMPLETED|None|x")["15"].alive


def test_executor_asks_for_what_the_parameters_say(smoke_study, tmp_path, monkeypatch):
    fake_srun = tmp_path / "bin" / "srun"  # submitit refuses to build an executor without srun
    fake_srun.parent.mkdir()
    fake_srun.write_text("#!/bin/sh\nexit 0\n")
    fake_srun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_srun.parent}{os.pathsep}{os.environ['PATH']}")
    asked = SlurmParams(partition="gpu", gpus_per_node=2, mem_gb=1.5, time_minutes=90)
    executor = slurm._executor(smoke_study, asked)
    assert executor.parameters == {"partition": "gpu", "gpus_per_node": 2, "mem": "1536M", "time": 90}
    assert str(executor.folder) == str(units.study_dir(smoke_study) / "slurm" / "%j")
    assert "gpus_per_node" not in slurm._executor(smoke_study, SlurmParams()).parameters


# --- reachability ----------------------------------------------------------------------------


def _commands_on_path(tmp_path, monkeypatch, squeue_script: str) -> None:
    folder = tmp_path / "fake-slurm"
    folder.mkdir()
    for command in slurm.COMMANDS:
        script = folder / command
        script.write_text(squeue_script if command == "squeue" else "#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))


def test_missing_commands_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SlurmUnavailable, match="sbatch, squeue, scancel, srun not found on PATH"):
        slurm.check_reachable()


def test_an_unreachable_controller_is_reported_with_the_command(tmp_path, monkeypatch):
    failing = "#!/bin/sh\necho 'slurm_load_jobs error: Unable to contact slurm controller' >&2\nexit 1\n"
    _commands_on_path(tmp_path, monkeypatch, failing)
    with pytest.raises(SlurmUnavailable, match=r"`squeue --me .*` failed: slurm_load_jobs error: Unable to"):
        slurm.check_reachable()


def test_a_reachable_controller_passes(tmp_path, monkeypatch):
    _commands_on_path(tmp_path, monkeypatch, "#!/bin/sh\necho '7|RUNNING|None|x'\n")
    slurm.check_reachable()


# --- a scripted Slurm: resuming and failures -------------------------------------------------


class ScriptedSlurm:
    """squeue answers from a script; sbatch hands out ids; each poll of the queue "runs" the jobs
    whose dependencies succeeded (writing what submitit and the notebook would), failing some."""

    def __init__(self, study, queue_text="", fail=()):
        self.study, self.fail = study, set(fail)
        self.queue = slurm.parse_squeue(queue_text)
        self.submitted: dict[str, tuple] = {}  # job id -> (unit, dependency)
        self.cancelled: list[str] = []
        self.succeeded: set[str] = set()
        self.next_id = 100
        self.polls = 0

    def command(self, command, check=True):
        if command[0] == "scancel":
            self.cancelled += command[1:]
            for job_id in command[1:]:
                self.queue.pop(job_id, None)
            return ""
        assert command == slurm.SQUEUE
        assert self.polls < 100, "still polling: the runner does not see that its jobs ended"
        if self.polls:
            self._run_ready()
        self.polls += 1
        return "\n".join(f"{j.job_id}|{j.state}|{j.reason}|{j.name}" for j in self.queue.values())

    def submit(self, executor, unit, study, params, after):
        job_id, self.next_id = str(self.next_id), self.next_id + 1
        self.submitted[job_id] = (unit, after)
        reason = "Dependency" if after else "None"
        self.queue[job_id] = slurm.QueuedJob(job_id, "PENDING", reason, slurm.job_name(study, unit))
        return job_id

    def _run_ready(self):
        for job_id, (unit, after) in list(self.submitted.items()):
            if job_id not in self.queue:
                continue
            needs = after.removeprefix("afterok:").split(":") if after else []
            if any(n not in self.succeeded and n not in self.queue for n in needs):
                self.queue[job_id] = slurm.QueuedJob(
                    job_id, "PENDING", slurm.NEVER_SATISFIED, self.queue[job_id].name
                )
            elif all(n in self.succeeded for n in needs):
                self._finish(job_id, unit)

    def _finish(self, job_id, unit):
        job = slurm._job_paths(self.study, job_id)
        job.folder.mkdir(parents=True, exist_ok=True)
        unit.folder.mkdir(parents=True, exist_ok=True)
        if unit.key in self.fail:
            job.stderr.write_text("Traceback (most recent call last):\nUnitFailed: boom in the notebook\n")
            (unit.folder / "papermill.log").write_text("Executing cell 7\nValueError: the loss is nan\n")
            result = (
                "error",
                "Traceback (most recent call last):\n"
                "scale_or_reason.orchestration.execution.UnitFailed: boom\n",
            )
        else:
            units.mark_complete(unit.folder)
            result = ("success", 3.0)
            self.succeeded.add(job_id)
        job.result_pickle.write_bytes(pickle.dumps(result))
        del self.queue[job_id]


@pytest.fixture
def scripted(smoke_study, monkeypatch):
    def install(queue_text="", fail=()):
        fake = ScriptedSlurm(smoke_study, queue_text, fail)
        monkeypatch.setattr(slurm, "_slurm", fake.command)
        monkeypatch.setattr(slurm, "_submit", fake.submit)
        monkeypatch.setattr(slurm, "_executor", lambda study, params: None)
        monkeypatch.setattr(slurm, "check_reachable", lambda: None)
        return fake

    return install


def test_a_pending_job_is_reused_and_a_vanished_one_resubmitted(smoke_study, planned, scripted):
    keys = by_key(planned)
    for key in ("generate:data", "train:tiny-ift"):
        keys[key].folder.mkdir(parents=True)
        units.mark_complete(keys[key].folder)
    recorded = {
        "train:small-ift": "41",
        "evaluate:small-ift": "42",
        "train:tiny-reasoning": "43",
        "evaluate:tiny-reasoning": "44",
        "train:small-reasoning": "45",
    }
    files.write_json(slurm.slurm_dir(smoke_study) / "jobs.json", recorded)
    name = lambda key: slurm.job_name(smoke_study, keys[key])  # noqa: E731
    fake = scripted(
        f"41|RUNNING|None|{name('train:small-ift')}\n"
        f"42|PENDING|Dependency|{name('evaluate:small-ift')}\n"
        # 43 vanished; 44 waits on it, so it must be replaced too (and cancelled first)
        f"44|PENDING|Dependency|{name('evaluate:tiny-reasoning')}\n"
        # 45 is someone else's job now: ids restart when a cluster's state is wiped
        "45|PENDING|Priority|another-job\n"
    )
    to_run = {u.key for u in planned if not units.is_complete(u.folder)}
    job_ids = slurm.submit_units(planned, smoke_study, to_run, SlurmParams())

    assert job_ids["train:small-ift"] == "41" and job_ids["evaluate:small-ift"] == "42"
    assert fake.cancelled == ["44"]
    resubmitted = {unit.key: (job_id, after) for job_id, (unit, after) in fake.submitted.items()}
    assert set(resubmitted) == to_run - {"train:small-ift", "evaluate:small-ift"}
    assert "generate:data" not in resubmitted and "train:tiny-ift" not in resubmitted
    new_train = resubmitted["train:tiny-reasoning"][0]
    assert resubmitted["train:tiny-reasoning"][1] is None  # its only need is complete
    assert resubmitted["evaluate:tiny-reasoning"][1] == f"afterok:{new_train}"
    analysis_needs = resubmitted["analyze:study"][1].removeprefix("afterok:").split(":")
    assert len(analysis_needs) == 6  # no evaluation is complete
    assert "42" in analysis_needs and resubmitted["evaluate:tiny-reasoning"][0] in analysis_needs
    assert files.read_json(slurm.slurm_dir(smoke_study) / "jobs.json") == {**recorded, **job_ids}


def test_complete_units_are_skipped_and_the_rest_run(smoke_study, planned, scripted):
    fake = scripted()
    keys = by_key(planned)
    keys["generate:data"].folder.mkdir(parents=True)
    units.mark_complete(keys["generate:data"].folder)
    outcomes = {o.unit.key: o for o in slurm.run_units_slurm(planned, smoke_study, set(), FAST)}
    assert [o.unit.key for o in outcomes.values()] == [u.key for u in planned]
    assert outcomes["generate:data"].status == "skipped"
    assert {o.status for k, o in outcomes.items() if k != "generate:data"} == {"ran"}
    assert outcomes["train:tiny-ift"].seconds == 3.0  # what the job measured, not the polling
    assert len(fake.submitted) == len(planned) - 1

    fake.submitted.clear()
    again = slurm.run_units_slurm(planned, smoke_study, {"analyze"}, FAST)
    assert [u.key for u, _ in fake.submitted.values()] == ["analyze:study"]
    assert {o.unit.key for o in again if o.status == "ran"} == {"analyze:study"}

    # A rerun job that fails before its notebook starts leaves the old folder complete: still a failure.
    fake.fail = {"analyze:study"}
    third = {o.unit.key: o for o in slurm.run_units_slurm(planned, smoke_study, {"analyze"}, FAST)}
    assert units.is_complete(keys["analyze:study"].folder) and third["analyze:study"].status == "failed"


def test_a_failed_job_shows_its_logs_and_its_dependants_are_cancelled(smoke_study, planned, scripted, capsys):
    fake = scripted(fail={"train:tiny-ift"})
    outcomes = {o.unit.key: o for o in slurm.run_units_slurm(planned, smoke_study, set(), FAST)}
    failed = outcomes["train:tiny-ift"]
    assert failed.status == "failed"
    assert "failed in Slurm job" in failed.error and "UnitFailed: boom" in failed.error
    assert "ValueError: the loss is nan" in failed.error and "papermill.log" in failed.error
    assert "UnitFailed: boom in the notebook" in failed.error  # submitit's stderr
    cancelled = ["evaluate:tiny-ift", "analyze:study", "curriculum:study", "transfer:study"]
    for key in cancelled:
        assert (
            outcomes[key].status == "failed" and "needs train:tiny-ift, which failed" in outcomes[key].error
        )
    job_of = {unit.key: job_id for job_id, (unit, _) in fake.submitted.items()}
    assert sorted(fake.cancelled) == sorted(job_of[key] for key in cancelled)
    assert outcomes["evaluate:small-ift"].status == "ran"
    shown = capsys.readouterr()
    assert "failed  train:tiny-ift" in shown.out + shown.err


def test_a_dependency_never_satisfied_is_cancelled_and_reported(smoke_study, planned, scripted):
    keys = by_key(planned)
    fake = scripted()
    # A job from an earlier submission that waits on a job that failed then: nothing here fails.
    fake.queue["7"] = slurm.QueuedJob("7", "PENDING", slurm.NEVER_SATISFIED, "x")
    tracked = {"train:tiny-ift": slurm.Tracked(keys["train:tiny-ift"], "7", time.monotonic())}
    outcome = slurm.wait_for(tracked, planned, smoke_study, FAST)["train:tiny-ift"]
    assert outcome.status == "failed" and slurm.NEVER_SATISFIED in outcome.error
    assert fake.cancelled == ["7"]


# --- a real Slurm on this machine ------------------------------------------------------------


@pytest.fixture(scope="session")
def local_slurm(tmp_path_factory):
    try:
        cluster = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    except (slurm_cluster.ClusterUnavailable, OSError, subprocess.SubprocessError) as error:
        if os.environ.get("SOR_REQUIRE_SLURM") == "1":
            pytest.fail(f"SOR_REQUIRE_SLURM=1 but Slurm could not be started: {error}")
        print(f"Slurm could not be started: {error}")
        pytest.skip(f"Slurm could not be started: {error}")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SLURM_CONF", str(cluster.conf))
            yield cluster
    finally:
        slurm_cluster.stop(cluster)


def _without_timings(table: pd.DataFrame) -> pd.DataFrame:
    kept = [c for c in table.columns if not any(word in c.lower() for word in TIMING_WORDS)]
    return table[kept].sort_values(["scale", "recipe", "benchmark"]).reset_index(drop=True)


@pytest.mark.slow
def test_smoke_study_on_slurm_matches_the_local_run(local_slurm, smoke_reference, monkeypatch):
    """`sor study --executor slurm` against the same study run by the local executor: the tiny
    student's four recipes and what they need (nine jobs in three waves of dependencies; the
    whole study would repeat the same kinds of job for the other student and the analyses)."""
    slurm_runs, local_runs = paths.runs_dir(), smoke_reference
    study = load_study(SMOKE)
    planned = units.only(plan(study, SMOKE), [ONLY])
    start = time.perf_counter()
    on_slurm = run_sor(
        "study", SMOKE, "--executor", "slurm", "--only", ONLY, runs_dir=slurm_runs, timeout=900
    )
    print(f"smoke study on Slurm: {time.perf_counter() - start:.0f} s")
    if on_slurm.returncode != 0:
        print(local_slurm.log_tails())
    assert on_slurm.returncode == 0, on_slurm.stdout[-3000:] + on_slurm.stderr[-3000:]
    assert "as Slurm jobs" in on_slurm.stdout
    jobs = files.read_json(slurm.slurm_dir(study) / "jobs.json")
    assert set(jobs) == {u.key for u in planned}
    for unit in planned:
        assert units.is_complete(unit.folder), unit.key
        job_folder = slurm.slurm_dir(study) / jobs[unit.key]
        assert (job_folder / f"{jobs[unit.key]}_0_log.out").is_file(), unit.key
        assert (job_folder / f"{jobs[unit.key]}_0_result.pkl").is_file(), unit.key
    assert len(set(jobs.values())) == len(planned)
    assert all(o.status == "skipped" for o in slurm.run_units_slurm(planned, study, set(), SlurmParams()))

    for unit in (u for u in planned if u.stage == "evaluate"):
        metrics = unit.folder.relative_to(slurm_runs) / "metrics.csv"
        on_slurm_metrics, local_metrics = (pd.read_csv(runs / metrics) for runs in (slurm_runs, local_runs))
        pd.testing.assert_frame_equal(_without_timings(on_slurm_metrics), _without_timings(local_metrics))
    # Same seed, same threads, same CPU: the trained weights and the generations are the same bytes,
    # from fresh kernels on Slurm and from the local runner's warm (forked) ones.
    for unit in (u for u in planned if u.stage == "train"):
        checkpoint = unit.folder.relative_to(slurm_runs) / "model" / "model.safetensors"
        assert (slurm_runs / checkpoint).read_bytes() == (local_runs / checkpoint).read_bytes(), unit.key
    for unit in (u for u in planned if u.stage == "evaluate"):
        written = sorted((unit.folder / "samples").glob("*.jsonl"))
        assert len(written) == len(study.benchmarks), unit.key
        for samples in (path.relative_to(slurm_runs) for path in written):
            assert (slurm_runs / samples).read_bytes() == (local_runs / samples).read_bytes(), samples
