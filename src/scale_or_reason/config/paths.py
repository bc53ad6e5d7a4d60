"""Every location the project uses, defined once.

Two kinds of place:

- the *project*: the folder a study belongs to, which holds `parameters/` and receives `runs/`
  (and `figures/`). It is `SOR_PROJECT_DIR` when set, else the nearest folder upward from the
  working directory that holds `parameters/`, else the working directory itself. Relative paths
  in parameters files and notebook parameters resolve against it, so a command means the same
  thing from the shell, from papermill and from JupyterLab (whose kernels start in `notebooks/`),
  whether the toolkit is this repository's editable install or a package installed elsewhere.
- the *package*: what `sor` needs to run any study, shipped inside the installed package (the
  stage notebooks, the paper's model configs, the multi-GPU launch configs).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = PACKAGE_DIR / "notebooks"
MODEL_CONFIGS_DIR = PACKAGE_DIR / "model_configs"
PAPER_DATA_DIR = PACKAGE_DIR / "paper_data"  # the paper's published numbers (arXiv 2509.22193)
ACCELERATE_CONFIGS_DIR = PACKAGE_DIR / "accelerate_configs"
PROJECT_MARKER = "parameters"


def find_project(start: Path) -> Path | None:
    """The nearest folder from `start` upward that holds `parameters/`, if any."""
    start = start.resolve()
    return next((folder for folder in (start, *start.parents) if (folder / PROJECT_MARKER).is_dir()), None)


def project_dir() -> Path:
    """Where relative paths resolve and runs land: `SOR_PROJECT_DIR`, else the project around the
    working directory, else the working directory."""
    if os.environ.get("SOR_PROJECT_DIR"):
        return Path(os.environ["SOR_PROJECT_DIR"]).expanduser().resolve()
    return find_project(Path.cwd()) or Path.cwd().resolve()


def use_project_of(parameters_file: str | os.PathLike) -> Path:
    """Fix the project for this process (and the kernels and jobs it starts) from a parameters
    file: the project around the working directory when there is one, else the one around the
    file, else the working directory. `SOR_PROJECT_DIR`, when set, wins."""
    if not os.environ.get("SOR_PROJECT_DIR"):
        around_file = find_project(Path(parameters_file).expanduser().absolute().parent)
        chosen = find_project(Path.cwd()) or around_file or Path.cwd().resolve()
        os.environ["SOR_PROJECT_DIR"] = str(chosen)
    return project_dir()


def toolkit_git_dir() -> Path | None:
    """The `.git` (folder or worktree file) of the checkout this package runs from, if any."""
    return next((folder / ".git" for folder in PACKAGE_DIR.parents if (folder / ".git").exists()), None)


def runs_dir() -> Path:
    """Where studies write; `SOR_RUNS_DIR` moves it (tests point it at a temporary folder)."""
    return Path(os.environ.get("SOR_RUNS_DIR") or project_dir() / "runs").resolve()


def resolve(path: str | os.PathLike) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else project_dir() / path
