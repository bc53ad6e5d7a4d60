"""Shared fixtures: every test writes runs and caches under its own temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

# NumPy's BLAS on one thread, as the study's kernels run (OMP_NUM_THREADS): the bootstrap's small
# matrix products spun two threads against each other, 3x slower on a busy 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest

from scale_or_reason.config.params import load_study

REPO = Path(__file__).resolve().parents[1]  # this checkout: the project of its own studies
PARAMETERS = REPO / "parameters"
SMOKE = PARAMETERS / "smoke.yaml"


@pytest.fixture(autouse=True)
def isolated_runs(tmp_path_factory, monkeypatch) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    monkeypatch.setenv("SOR_RUNS_DIR", str(runs))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(runs / ".cache" / "datasets"))
    monkeypatch.setenv("MPLCONFIGDIR", str(runs / ".cache" / "matplotlib"))
    return runs


@pytest.fixture
def smoke_study():
    return load_study(SMOKE)


@pytest.fixture(scope="session")
def small_tokenizer():
    from scale_or_reason.config.families import FAMILIES
    from scale_or_reason.data.teachers import synthetic_pairs
    from scale_or_reason.data.tokenizer import build_tokenizer, tokenizer_corpus

    rows = [row for family in FAMILIES for row in synthetic_pairs(family, "train", 200, 0)]
    return build_tokenizer(tokenizer_corpus(rows), 400)


def run_sor(*args, runs_dir, timeout=600, **popen):
    """`sor ARGS` in a subprocess writing under `runs_dir`, offline, from the repository root."""
    import subprocess
    import sys

    env = dict(os.environ, SOR_RUNS_DIR=str(runs_dir), HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "scale_or_reason.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def red_outputs(notebook_path: Path) -> list[str]:
    """What JupyterLab would show in a red box in an executed notebook: errors and stderr text."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    return [
        output.get("ename") or output.get("text", "")
        for output in outputs
        if output.output_type == "error" or (output.output_type == "stream" and output.name == "stderr")
    ]


@pytest.fixture(scope="session")
def smoke_reference(tmp_path_factory) -> Path:
    """The smoke study run once, uninterrupted, for the tests that compare against it."""
    runs = tmp_path_factory.mktemp("smoke-reference")
    finished = run_sor("study", "parameters/smoke.yaml", runs_dir=runs)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return runs


def pytest_configure(config):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
