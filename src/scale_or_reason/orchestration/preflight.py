"""Checks that stop a study before any expensive work: each failure is one line naming the key.

Validation (`config.params`) checks the parameters file alone; these checks look at the machine: the
run folder can be written, local models and data exist and hold what loading them needs. Without
them a typo in a path surfaces minutes later, inside a notebook, after the peak-FLOPs benchmark,
the data generation or a training run has already started. Nothing here touches the network: a
hub id is left to the unit that downloads it.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

from .. import units
from ..config import paths
from ..config.params import ParametersError, StudyParams
from ..core.files import DATA_FILE_TYPES
from ..evaluation.custom_tasks import task_yaml

LOCAL_PREFIXES = ("/", ".", "~")
DATA_SUFFIXES = tuple(DATA_FILE_TYPES)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def check_study(study: StudyParams) -> None:
    """Raise `ParametersError` for the first thing that would make a unit fail for certain."""
    check_runs_folder(study)
    check_paths(study)


def check_paths(study: StudyParams) -> None:
    """Every model folder, data file and config the parameters name exists and holds what loading
    it needs (what `sor check` and `--dry-run` check too: they write nothing)."""
    for scale, params in study.students.scales.items():
        if params.model is not None and looks_local(params.model):
            check_model_folder(params.model, f"students.scales.{scale}.model")
        for recipe, source in (params.trained or {}).items():
            if looks_local(source):
                check_model_folder(source, f"students.scales.{scale}.trained.{recipe}")
    teacher = study.teacher
    if teacher.kind != "synthetic" and looks_local(teacher.source, DATA_SUFFIXES):
        check_exists(teacher.source, "teacher.source")
    if teacher.model is not None and looks_local(teacher.model):
        check_model_folder(teacher.model, "teacher.model")
    for benchmark in (b for b in study.benchmarks if b.is_task):
        task_yaml(benchmark)  # the folder, its YAML and the task, each a one-line error
    if study.training.accelerate_config is not None:
        study.training.accelerate_config_file()
    if study.training.report_to == "wandb" and find_spec("wandb") is None:
        raise ParametersError(
            "training.report_to: wandb needs the wandb package (pip install wandb); "
            "tensorboard needs nothing more"
        )


def looks_local(name: str, suffixes: tuple[str, ...] = ()) -> bool:
    """A path rather than a hub id: it exists here, or is written like a path (or a data file)."""
    return paths.resolve(name).exists() or name.startswith(LOCAL_PREFIXES) or name.endswith(suffixes)


def check_runs_folder(study: StudyParams) -> None:
    """Create the study's folder and write a probe file in it: the runs go nowhere else."""
    folder = units.study_dir(study)
    probe = folder / f".preflight-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ParametersError(
            f"the run folder {folder} cannot be written ({reason}): set SOR_RUNS_DIR to a writable folder"
        ) from None


def check_exists(name: str, key: str) -> Path:
    path = paths.resolve(name)
    if not path.exists():
        raise ParametersError(f"{key}: no such file or folder {path}")
    return path


def check_model_folder(name: str, key: str) -> None:
    """A local model must hold what `from_pretrained` reads: config, safetensors, tokenizer."""
    folder = check_exists(name, key)
    if not folder.is_dir():
        raise ParametersError(f"{key}: {folder} is a file, not a model folder")
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any(folder.glob("*.safetensors")):
        missing.append("safetensors weights (*.safetensors)")
    if not any((folder / file).is_file() for file in TOKENIZER_FILES):
        missing.append(f"a tokenizer ({' or '.join(TOKENIZER_FILES)})")
    if missing:
        listed = ", ".join(missing[:-1]) + " and " + missing[-1] if len(missing) > 1 else missing[0]
        raise ParametersError(f"{key}: the model folder {folder} lacks {listed}")
