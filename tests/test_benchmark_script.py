"""The speed benchmark runs and prints a row per student size (its figures are not asserted: they
are the machine's, not the code's)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import psutil
import pytest

from conftest import REPO


@pytest.mark.slow
def test_the_speed_benchmark_prints_a_row_per_scale(tmp_path):
    command = [
        sys.executable,
        "benchmarks/speed.py",
        "parameters/smoke.yaml",
        "--steps",
        "14",
        "--items",
        "2",
    ]
    finished = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "SOR_RUNS_DIR": str(tmp_path)},
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    lines = finished.stdout.strip().splitlines()
    header = lines[-3].split()
    assert header[:4] == ["scale", "params", "trainer_ms", "bare_ms"] and "eval_items_per_s" in header
    assert [line.split()[0] for line in lines[-2:]] == ["tiny", "small"]


@pytest.mark.slow
def test_the_seed_noise_benchmark_prints_each_cells_seed_spread(tmp_path):
    command = [
        sys.executable,
        "benchmarks/seed_noise.py",
        "parameters/smoke.yaml",
        "--cells",
        "tiny:ift",
        "--seeds",
        "0",
        "1",
        "--jobs",
        "1",
        "--set",
        "training.init_std=0.05",
        "--out",
        str(tmp_path / "not-yet" / "per_seed.csv"),  # a folder the script makes
    ]
    env = {**os.environ, "SOR_RUNS_DIR": str(tmp_path / "runs")}
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
    assert finished.returncode == 0, finished.stderr[-3000:]
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    per_seed = pd.read_csv(tmp_path / "not-yet" / "per_seed.csv")
    assert sorted(per_seed["seed"].unique()) == [0, 1] and set(per_seed["scale"]) == {"tiny"}
    spread = per_seed.groupby("benchmark")["accuracy"].std(ddof=1)
    assert summary["cells"] == per_seed["benchmark"].nunique()
    assert summary["max_sd"] == pytest.approx(round(spread.max(), 4))
    assert "training.init_std=0.05; seeds [0, 1]" in finished.stdout
    trained = list((tmp_path / "runs" / "smoke" / "train").iterdir())
    assert len(trained) == 2  # the two seeds, in the study's own unit folders
    assert {"median_sd_items", "median_sd_beyond_items"} <= set(summary)
    assert "sd_items  sd_beyond_items" in finished.stdout
    assert "resource_tracker" not in finished.stderr  # the workers finished cleanly, nothing leaked

    # Against an earlier table whose seeds spread wider on every cell: this run's runs are found,
    # and each cell reads lower.
    wider = per_seed.assign(accuracy=per_seed["accuracy"] + np.where(per_seed["seed"] == 0, -0.2, 0.2))
    wider.to_csv(tmp_path / "wider.csv", index=False)
    compared = subprocess.run(
        [*command, "--against", str(tmp_path / "wider.csv")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
    )
    assert compared.returncode == 0, compared.stderr[-3000:]
    cells = per_seed["benchmark"].nunique()
    assert f"seed SD lower in {cells} of {cells} cells" in compared.stdout
    assert json.loads(compared.stdout.strip().splitlines()[-1])["against"]["variant_lower"] == cells
    missing = subprocess.run(
        [*command, "--against", str(tmp_path / "none.csv")], cwd=REPO, capture_output=True, text=True, env=env
    )
    assert missing.returncode != 0 and "--against" in missing.stderr and "none.csv" in missing.stderr


@pytest.mark.slow
def test_the_seed_noise_benchmark_stopped_takes_its_workers_along(tmp_path):
    command = [sys.executable, "benchmarks/seed_noise.py", "parameters/smoke.yaml", "--cells", "tiny:ift"]
    command += ["--seeds", "0", "1", "--jobs", "2"]
    env = {**os.environ, "SOR_RUNS_DIR": str(tmp_path / "runs")}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    script = subprocess.Popen(command, cwd=REPO, env=env, **quiet)
    try:
        workers = running_workers(psutil.Process(script.pid), count=2, within=300)
        time.sleep(3)  # inside their runs
        script.send_signal(signal.SIGTERM)
        assert script.wait(timeout=60) != 0
        _, alive = psutil.wait_procs(workers, timeout=20)
        assert not alive, f"{len(alive)} workers outlived the stopped script"
    finally:
        script.kill()


def running_workers(parent: psutil.Process, count: int, within: float) -> list[psutil.Process]:
    """The pool's worker processes (spawned interpreters), once `count` of them run."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        workers = [child for child in parent.children() if "multiprocessing" in " ".join(child.cmdline())]
        if len(workers) >= count:
            return workers
        time.sleep(0.5)
    raise AssertionError(f"the script started fewer than {count} workers in {within} s")


def test_the_coverage_benchmark_prints_the_grid():
    finished = subprocess.run(
        [sys.executable, "benchmarks/coverage.py", "--studies", "4"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    lines = finished.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["seed_sd", "accuracy", "studies", "accuracy_coverage"]
    assert len(lines) == 1 + 8


@pytest.mark.slow
def test_the_overhead_benchmark_splits_each_stage_around_the_training_loop(smoke_reference):
    command = [sys.executable, "benchmarks/overhead.py", "parameters/smoke.yaml"]
    env = {**os.environ, "SOR_RUNS_DIR": str(smoke_reference)}
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert finished.returncode == 0, finished.stderr[-3000:]
    lines = finished.stdout.strip().splitlines()
    header = lines[0].split()
    assert header[:3] == ["units", "process_start", "kernel_and_saving"] and "fixed_per_unit" in header
    rows = {line.split()[0]: line.split() for line in lines[2:] if line.split()[0] in ("train", "evaluate")}
    loop = header.index("loop") + 1  # the row starts with the stage's name
    # The training loop, and an evaluation's generation, both recorded by the units themselves.
    assert float(rows["train"][loop]) > 0 and float(rows["evaluate"][loop]) > 0
    assert lines[-1].startswith("fixed cost per unit, all stages: mean ")


def test_the_seed_noise_benchmark_compares_two_saved_tables_without_running(tmp_path):
    saved = REPO / "benchmarks" / "seed_noise_runs"
    earlier = pd.read_csv(saved / "as-the-file.csv")
    later = earlier.assign(
        accuracy=earlier.groupby(["scale", "recipe", "benchmark"])["accuracy"].transform("mean")
    )
    later.to_csv(tmp_path / "flat.csv", index=False)  # every seed at its cell's mean: no spread left
    command = [sys.executable, "benchmarks/seed_noise.py", "--compare", str(saved / "as-the-file.csv")]
    env = {**os.environ, "SOR_RUNS_DIR": str(tmp_path / "runs")}
    compared = subprocess.run(
        [*command, str(tmp_path / "flat.csv")], cwd=REPO, capture_output=True, text=True, env=env
    )
    assert compared.returncode == 0, compared.stderr[-3000:]
    result = json.loads(compared.stdout.strip().splitlines()[-1])
    assert result["variant_lower"] == result["cells"] == 16 and result["p_value"] < 0.001
    assert "seed SD lower in 16 of 16 cells" in compared.stdout
    wrong = subprocess.run(
        [*command, str(saved / "README.md")], cwd=REPO, capture_output=True, text=True, env=env
    )
    assert wrong.returncode != 0 and "--compare" in wrong.stderr and "README.md" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    assert not (tmp_path / "runs").exists()  # no data generated, nothing trained
