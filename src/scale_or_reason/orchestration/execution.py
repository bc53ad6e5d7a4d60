"""Executing one unit: a papermill run of its stage notebook in the unit's folder, the same for
the local runner and for a Slurm job.

The executed notebook and its log stay in the unit's folder: they are the record of what ran. A
unit that fails reports the exception that stopped its notebook first, then the tail of its log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import units
from ..config import paths
from ..config.params import StudyParams
from ..units import Unit
from . import warm_kernels
from .interface import UnitFailed

LOG_TAIL_LINES = 30


@dataclass
class Outcome:
    unit: Unit
    status: str  # ran | skipped | failed
    seconds: float = 0.0
    error: str = field(default="", repr=False)


def kernel_environment(study: StudyParams, threads: int) -> dict[str, str]:
    """The study's project, caches inside the study's folder, the unit's thread budget and, for
    offline studies, no hub.

    A study that downloads (`runner.offline: false`) keeps the user's own Hugging Face cache, where
    multi-GB models are shared between studies."""
    cache = units.study_dir(study) / ".cache"
    env = dict(os.environ)
    env.update(
        SOR_PROJECT_DIR=str(paths.project_dir()),
        SOR_RUNS_DIR=str(paths.runs_dir()),
        MPLCONFIGDIR=str(cache / "matplotlib"),
        IPYTHONDIR=str(cache / "ipython"),
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
    )
    if study.runner.offline:
        env.update(
            HF_HOME=str(cache / "huggingface"),
            HF_DATASETS_CACHE=str(cache / "datasets"),
            HF_HUB_OFFLINE="1",
            HF_DATASETS_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            WANDB_MODE="offline",  # `training.report_to: wandb` logs locally; `wandb sync` uploads later
        )
    return env


def execute(unit: Unit, study: StudyParams, kernels: warm_kernels.KernelPool | None = None) -> None:
    """One papermill execution, its kernel from `kernels` when given; the executed notebook and its
    log stay in the unit's folder."""
    # An interrupted training unit keeps its periodic checkpoints and resumes from the last one.
    units.reset(unit.folder, keep=(units.CHECKPOINTS,) if unit.stage == "train" else ())
    log_file = unit.folder / "papermill.log"
    executed = unit.folder / unit.notebook.name
    arguments = [
        str(unit.notebook),
        str(executed),
        "-y",
        yaml.safe_dump(unit.parameters),
        "--cwd",
        str(paths.project_dir()),
        "-k",
        "python3",
        "--log-output",
        "--no-progress-bar",
    ]
    environment = kernel_environment(study, unit.threads)
    command = [sys.executable, "-m", "papermill", *arguments]
    if kernels is not None:
        environment = kernels.environment(environment)
        command = warm_kernels.command("papermill", arguments)
    with log_file.open("w") as log:
        finished = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=environment, check=False)
    if finished.returncode != 0:
        reason = notebook_error(executed) or "the notebook stopped"
        tail = "\n".join(log_file.read_text().splitlines()[-LOG_TAIL_LINES:])
        raise UnitFailed(f"{unit.key} failed: {reason}\nlast lines of {log_file}:\n{tail}")
    if not units.is_complete(unit.folder):
        raise UnitFailed(f"{unit.key}: the notebook finished but did not mark {unit.folder} complete")


def notebook_error(executed: Path) -> str:
    """The exception that stopped an executed notebook, as `Name: message` ("" if none is recorded),
    so that a failed unit's first line says why, above the papermill log's traceback."""
    try:
        cells = json.loads(executed.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return ""
    errors = [out for cell in cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    return f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else ""


def timed(unit: Unit, study: StudyParams, kernels: warm_kernels.KernelPool | None = None) -> Outcome:
    """Execute `unit`; its outcome, failed or not, with the seconds it took."""
    start = time.perf_counter()
    try:
        execute(unit, study, kernels)
    except UnitFailed as error:
        return Outcome(unit, "failed", time.perf_counter() - start, str(error))
    return Outcome(unit, "ran", time.perf_counter() - start)


def log_tail(path: Path) -> str:
    """The last lines of a log, headed by its path ("" if it does not exist)."""
    if not path.is_file():
        return ""
    lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return f"\n--- last lines of {path} ---\n" + "\n".join(lines)
