"""A study survives a kill: finished units stay untouched, the killed unit starts over or resumes
from its last checkpoint, and the results equal an uninterrupted run's. One runner per study."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from safetensors.torch import load_file

from conftest import PARAMETERS, REPO, run_sor
from scale_or_reason import units
from scale_or_reason.config.params import load_study, parse_study
from scale_or_reason.data import generation
from scale_or_reason.orchestration import lock
from scale_or_reason.training import train
from scale_or_reason.units import plan

# Columns that measure the machine, not the study.
WALL_CLOCK = ["train_seconds", "mfu"]


def fingerprints(folder):
    """Every file of a folder with its modification time and content hash."""
    return {
        path.relative_to(folder): (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def comparable(results_csv):
    table = pd.read_csv(results_csv).drop(columns=WALL_CLOCK)
    return table.sort_values(["scale", "recipe", "benchmark"]).reset_index(drop=True)


def wait_for_training(planned, deadline):
    """Until one training unit has finished and the next one is inside `train_student` (its data
    tokenized; the smoke students then train for a fraction of a second)."""
    while time.monotonic() < deadline:
        trains = [u for u in planned if u.stage == "train"]
        finished = [u for u in trains if units.is_complete(u.folder)]
        running = [
            u
            for u in trains
            if not units.is_complete(u.folder)
            and (u.folder / "papermill.log").is_file()
            and " rows tokenized, " in (u.folder / "papermill.log").read_text(errors="ignore")
        ]
        if finished and running:
            return finished, running[0]
        time.sleep(0.05)
    raise TimeoutError("the study never reached a second training unit")


def processes_writing_to(runs_dir) -> list[int]:
    """Pids of the processes whose environment points SOR_RUNS_DIR at `runs_dir`."""
    marker = f"SOR_RUNS_DIR={runs_dir}".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if int(environ.parent.name) != os.getpid() and marker in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
        except OSError:  # gone, or not ours to read
            continue
    return pids


def wait_for_orphans(runs_dir, deadline: float) -> None:
    """Jupyter starts each kernel in a session of its own, out of the runner's reach; a kernel whose
    runner died exits within a second (ipykernel's parent poller), and may finish its cell first."""
    while processes_writing_to(runs_dir):
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes still write to {runs_dir}: {processes_writing_to(runs_dir)}")
        time.sleep(0.1)


@pytest.mark.slow
def test_a_study_killed_mid_training_resumes_to_the_same_results(smoke_reference, isolated_runs):
    study = load_study("parameters/smoke.yaml")
    planned = plan(study, "parameters/smoke.yaml")
    env = dict(os.environ, SOR_RUNS_DIR=str(isolated_runs), HF_HUB_OFFLINE="1")
    command = [sys.executable, "-m", "scale_or_reason.cli", "study", "parameters/smoke.yaml", "--jobs", "1"]
    # Its own session: the kill reaches the runner and papermill, as a lost node would.
    runner = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    try:
        _, killed = wait_for_training(planned, time.monotonic() + 300)
        os.killpg(runner.pid, signal.SIGKILL)
    finally:
        runner.wait(timeout=60)
    killed_after = time.monotonic() - started
    wait_for_orphans(isolated_runs, time.monotonic() + 30)
    before = {u.key: fingerprints(u.folder) for u in planned if units.is_complete(u.folder)}
    assert "generate:data" in before and any(k.startswith("train:") for k in before)
    unfinished = [u for u in planned if u.key not in before]
    assert any(u.stage == "train" for u in unfinished)

    resumed_start = time.monotonic()
    again = run_sor("study", "parameters/smoke.yaml", runs_dir=isolated_runs)  # two at a time again
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    resumed_after = time.monotonic() - resumed_start
    print(f"killed after {killed_after:.1f} s in {killed.key}; resumed run took {resumed_after:.1f} s")

    for unit in planned:
        assert units.is_complete(unit.folder), unit.key
        if unit.key in before:
            assert fingerprints(unit.folder) == before[unit.key], f"{unit.key} was recomputed"
    timings = pd.read_csv(units.study_dir(study) / "timings.csv").set_index(["stage", "unit"])["status"]
    # Exactly what was unfinished runs again (the unit killed, unless its kernel finished it first).
    assert {unit.key: timings[(unit.stage, unit.name)] for unit in planned} == {
        unit.key: "skipped" if unit.key in before else "ran" for unit in planned
    }
    reference = comparable(smoke_reference / "smoke" / "results.csv")
    pd.testing.assert_frame_equal(comparable(units.results_csv(study)), reference)


def checkpointing_study(every: int):
    data = yaml.safe_load((PARAMETERS / "smoke.yaml").read_text())
    data["training"].update(epochs=2, checkpoint_steps=every)
    return data


KILL_AT_STEP = textwrap.dedent(
    """
    import os, signal, sys, yaml
    from transformers import TrainerCallback
    from scale_or_reason.config.params import parse_study
    from scale_or_reason.training import train

    class KillAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == {step}:
                os.kill(os.getpid(), signal.SIGKILL)

    original = train.SmallVocabSFTTrainer.__init__
    def with_kill(self, *a, **k):
        original(self, *a, **k)
        self.add_callback(KillAt())
    train.SmallVocabSFTTrainer.__init__ = with_kill
    study = parse_study(yaml.safe_load(open(sys.argv[1])))
    train.train_student(study, "tiny", "ift")
    """
)


def test_a_training_unit_killed_mid_run_resumes_from_its_last_checkpoint(
    tmp_path, monkeypatch, isolated_runs, capsys
):
    data = checkpointing_study(every=4)
    params_file = tmp_path / "checkpointing.yaml"
    params_file.write_text(yaml.safe_dump(data))
    study = parse_study(data)
    generation.generate_data(study)
    folder = units.train_dir(study, "tiny", "ift")

    script = tmp_path / "kill_at_step.py"
    script.write_text(KILL_AT_STEP.replace("{step}", "6"))
    env = dict(os.environ, SOR_RUNS_DIR=str(isolated_runs))
    killed = subprocess.run(
        [sys.executable, str(script), str(params_file)], env=env, capture_output=True, text=True, timeout=300
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not units.is_complete(folder)
    assert [p.name for p in (folder / units.CHECKPOINTS).glob("checkpoint-*")] == ["checkpoint-4"]

    units.reset(folder, keep=(units.CHECKPOINTS,))  # what the runner does to an unfinished unit
    resumed = train.train_student(study, "tiny", "ift")
    assert resumed["steps"] == 20 and not (folder / units.CHECKPOINTS).exists()
    assert f"resuming from {folder / units.CHECKPOINTS / 'checkpoint-4'}" in capsys.readouterr().out

    monkeypatch.setenv("SOR_RUNS_DIR", str(tmp_path / "uninterrupted"))
    generation.generate_data(study)
    uninterrupted = train.train_student(study, "tiny", "ift")
    weights = load_file(folder / "model" / "model.safetensors")
    reference = load_file(units.train_dir(study, "tiny", "ift") / "model" / "model.safetensors")
    assert weights.keys() == reference.keys()
    for name in weights:
        assert (weights[name] - reference[name]).abs().max() < 1e-6, name
    assert resumed["last_logged_loss"] == pytest.approx(uninterrupted["last_logged_loss"], rel=0.2)


def test_a_second_runner_of_the_same_study_stops_and_names_the_first(smoke_study, isolated_runs):
    with lock.study_lock(smoke_study):
        blocked = run_sor("study", "parameters/smoke.yaml", runs_dir=isolated_runs, timeout=120)
    assert blocked.returncode == 1
    message = blocked.stderr.strip().splitlines()[-1]
    assert message.startswith("error: study 'smoke' is already being run by pid ") and "--wait" in message
    assert f"pid {os.getpid()} " in message
    assert not units.data_dir(smoke_study).exists(), "the second runner did work"


def test_a_waiting_runner_goes_ahead_once_the_lock_is_free(smoke_study):
    with lock.study_lock(smoke_study):
        pass
    with lock.study_lock(smoke_study, wait=True):  # free again: taken at once
        holder = (units.study_dir(smoke_study) / ".lock").read_text()
    assert f'"pid": {os.getpid()}' in holder


def test_a_killed_runner_leaves_no_stale_lock(smoke_study, isolated_runs, tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from scale_or_reason.config.params import load_study\n"
            "from scale_or_reason.orchestration import lock\n"
            "with lock.study_lock(load_study('parameters/smoke.yaml')):\n"
            "    print('held', flush=True); time.sleep(120)",
        ],
        cwd=REPO,
        env=dict(os.environ, SOR_RUNS_DIR=str(isolated_runs)),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(lock.StudyLocked, match=f"pid {holder.pid} "), lock.study_lock(smoke_study):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with lock.study_lock(smoke_study):  # the kernel released it with the process
        pass
