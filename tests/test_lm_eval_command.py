"""An evaluation unit explains itself: the `lm_eval` command it writes reproduces its accuracies
with lm-eval's own CLI, from a runs folder copied elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from scale_or_reason.evaluation.evaluate import LM_EVAL_SCRIPT
from scale_or_reason.evaluation.lm_eval_tasks import TASK_PREFIX
from scale_or_reason.evaluation.scoring import SYNTHETIC_METRIC


def evaluation_folder(runs: Path, name: str) -> Path:
    (folder,) = (runs / "smoke" / "evaluate").glob(f"{name}-*")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("run", ["small-ift", "small-reasoning"])
def test_the_written_lm_eval_command_reproduces_the_unit_from_a_moved_runs_folder(
    run, smoke_reference, tmp_path
):
    moved = tmp_path / "elsewhere" / "runs"
    shutil.copytree(smoke_reference, moved)
    folder = evaluation_folder(moved, run)
    settings = json.loads((folder / "lm_eval_settings.json").read_text())
    assert settings["model_args"].get("enable_thinking") == (False if run.endswith("-ift") else None)
    for task_yaml in (folder / "tasks").glob("*.yaml"):
        assert str(smoke_reference) not in task_yaml.read_text()  # data named relative to the unit
    venv_bin = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=f"{venv_bin}{os.pathsep}{os.environ['PATH']}", HF_HUB_OFFLINE="1")
    finished = subprocess.run(
        [str(folder / LM_EVAL_SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    (results_file,) = (folder / "lm_eval_cli").rglob("results_*.json")
    results = json.loads(results_file.read_text())["results"]
    metrics = pd.read_csv(folder / "metrics.csv")
    for row in metrics.itertuples():
        reproduced = results[TASK_PREFIX + row.benchmark][f"{SYNTHETIC_METRIC},none"]
        assert reproduced == pytest.approx(row.accuracy), row.benchmark
