"""Run folders: where each unit of a study writes, and how it proves it finished.

A study writes under `runs/<study>/`; each unit (generation, one training, one evaluation, the
analysis) owns a folder whose name ends with a fingerprint of the parameters that shape its
outputs, so changed parameters get a new folder and unchanged ones find their finished work.
Artifacts are written to a temporary name and renamed into place; a unit writes `complete.json`
last, and a folder without it is treated as unfinished and started again from scratch.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from . import paths
from .params import StudyParams, fingerprint
from .recipes import parse_recipe

COMPLETE = "complete.json"
CHECKPOINTS = "checkpoints"  # a training unit's periodic checkpoints: kept when it restarts
# Part of every fingerprint: bump it when what a unit writes changes shape, so that finished units
# of the old shape are not reused (v2: FLOPs counted both ways and MFU; v3: epochs laid out in
# the recipe's rows, curricula).
ARTIFACT_VERSION = 3


def study_dir(study: StudyParams) -> Path:
    return paths.runs_dir() / study.study


POOL_FIELDS = {"questions_per_family", "traces_per_question", "error_rate"}


def data_fingerprint(study: StudyParams) -> str:
    parts = [ARTIFACT_VERSION, study.seed, study.teacher, study.tokenizer, study.benchmarks]
    if study.selection:  # the candidate pool is generated data, and the tokenizer learns its traces
        parts.append(study.selection.model_dump(include=POOL_FIELDS))
    return fingerprint(*parts)


def _pool_recipe_settings(study: StudyParams, recipe: str) -> dict:
    """The settings beyond the data that shape a data-efficiency recipe's rows."""
    parsed = parse_recipe(recipe)
    if parsed.order == "teacher":
        return {"examples_per_family": study.teacher_choice.examples_per_family}
    if parsed.order == "probe":
        return {"probe": study.selection.probe, "pool_questions": study.selection.questions_per_family}
    if parsed.order == "select":
        settings = study.selection.model_dump(include={"length_percentile", "diverse_per_question"})
        return {**settings, "probe": study.selection.probe} if parsed.strategy == "unsolved" else settings
    return {}


def data_dir(study: StudyParams) -> Path:
    return study_dir(study) / f"generate-{data_fingerprint(study)}"


def train_fingerprint(study: StudyParams, scale: str, recipe: str) -> str:
    training = study.training.model_dump(exclude={"threads"})
    scale_config = study.students.scales[scale]
    pool_settings = _pool_recipe_settings(study, recipe)
    extra = (pool_settings,) if pool_settings else ()  # the pairs' recipes keep their folders' names
    return fingerprint(data_fingerprint(study), scale_config, recipe, training, study.seed, *extra)


def train_dir(study: StudyParams, scale: str, recipe: str) -> Path:
    return study_dir(study) / "train" / f"{scale}-{recipe}-{train_fingerprint(study, scale, recipe)}"


def eval_fingerprint(study: StudyParams, scale: str, recipe: str) -> str:
    evaluation = study.evaluation.model_dump(exclude={"threads"})
    return fingerprint(train_fingerprint(study, scale, recipe), evaluation, study.seed)


def eval_dir(study: StudyParams, scale: str, recipe: str) -> Path:
    return study_dir(study) / "evaluate" / f"{scale}-{recipe}-{eval_fingerprint(study, scale, recipe)}"


def _evaluations(study: StudyParams) -> list[str]:
    return [eval_fingerprint(study, scale, recipe) for scale, recipe in study.students_to_train()]


def analysis_dir(study: StudyParams) -> Path:
    return study_dir(study) / f"analysis-{fingerprint(ARTIFACT_VERSION, _evaluations(study), study.analysis)}"


def curriculum_dir(study: StudyParams) -> Path:
    key = fingerprint(ARTIFACT_VERSION, _evaluations(study), study.analysis, study.curricula)
    return study_dir(study) / f"curriculum-{key}"


def transfer_dir(study: StudyParams) -> Path:
    key = fingerprint(ARTIFACT_VERSION, _evaluations(study), study.analysis, [b.variant for b in study.benchmarks])
    return study_dir(study) / f"transfer-{key}"


def efficiency_dir(study: StudyParams) -> Path:
    sections = (study.analysis, study.selection, study.teacher_choice)
    key = fingerprint(ARTIFACT_VERSION, _evaluations(study), *sections)
    return study_dir(study) / f"efficiency-{key}"


def results_csv(study: StudyParams) -> Path:
    return study_dir(study) / "results.csv"


# --- atomic writes ---------------------------------------------------------------------------


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Let `write` fill a temporary file or folder beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(path)
    _remove(temporary)
    try:
        write(temporary)
    except BaseException:
        _remove(temporary)
        raise
    if path.is_dir():
        shutil.rmtree(path)
    os.replace(temporary, path)
    return path


def write_text(path: Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, data: object) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


# --- completion ------------------------------------------------------------------------------


def is_complete(folder: Path) -> bool:
    return (folder / COMPLETE).is_file()


def mark_complete(folder: Path, **facts) -> None:
    """The last write of a unit: from here on its outputs are trusted and reused."""
    write_json(folder / COMPLETE, {"finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **facts})


def reset(folder: Path, keep: tuple[str, ...] = ()) -> None:
    """Start an unfinished unit again from nothing but the entries named in `keep` (a training
    unit's periodic checkpoints, from which it resumes)."""
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name not in keep:
                _remove(entry)
    folder.mkdir(parents=True, exist_ok=True)


def require_complete(folder: Path, what: str) -> Path:
    if not is_complete(folder):
        raise FileNotFoundError(f"{what} has not finished: no {COMPLETE} in {folder}")
    return folder


# --- one runner per study --------------------------------------------------------------------


class StudyLocked(RuntimeError):
    """Another `sor study` is running the same study."""


def _holder(lock_file: Path) -> str:
    try:
        facts = json.loads(lock_file.read_text())
    except (OSError, json.JSONDecodeError):
        return "another process"
    return f"pid {facts['pid']} on {facts['host']} since {facts['since']} ({facts['command']})"


@contextmanager
def study_lock(study: StudyParams, wait: bool = False) -> Iterator[None]:
    """Hold the study's lock while its units run, so two runners never do the same work twice.

    An OS file lock, released by the kernel when its holder exits in any way (a SIGKILL included),
    so a killed study never leaves a stale lock behind. Without `wait` a second runner stops at
    once, naming the holder; with it, it waits its turn.
    """
    lock_file = study_dir(study) / ".lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(lock_file)
            if not wait:
                raise StudyLocked(f"study {study.study!r} is already being run by {holder}; "
                                  f"let it finish, stop it, or pass --wait to run after it") from None
            print(f"waiting for {holder} to finish study {study.study!r}", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        facts = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                 "command": " ".join(sys.argv)}  # fmt: skip
        handle.write(json.dumps(facts))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
