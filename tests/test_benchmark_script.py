"""The speed benchmark runs and prints a row per student size (its figures are not asserted: they
are the machine's, not the code's)."""

import os
import subprocess
import sys

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
