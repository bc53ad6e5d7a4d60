"""Every location the project uses, defined once.

Relative paths given in parameters files or notebook parameters resolve against the repository
root, so a command means the same thing from the shell, from papermill and from JupyterLab (whose
kernels start in `notebooks/`).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
PARAMETERS_DIR = REPO_ROOT / "parameters"
FIGURES_DIR = REPO_ROOT / "figures"


def runs_dir() -> Path:
    """Where studies write; `SOR_RUNS_DIR` moves it (tests point it at a temporary folder)."""
    return Path(os.environ.get("SOR_RUNS_DIR", REPO_ROOT / "runs")).resolve()


def resolve(path: str | os.PathLike) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path
