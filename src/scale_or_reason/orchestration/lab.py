"""JupyterLab for this project: exploring never edits what git tracks.

`make lab` starts JupyterLab with `parameters/jupyter/jupyter_server_config.py`, whose pre-save
hook is `strip_tracked_notebook`: a notebook that git tracks (the stage notebooks, 00_explore) is
saved as committed, without outputs, execution counts or the kernel's `language_info`, so running
and saving it leaves `git status` clean. Executed copies with their outputs stay in the run folders
(papermill's), and notebooks git does not track keep their outputs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbstripout import strip_output

# What JupyterLab adds on save beyond outputs and counts: the kernel's language details (its
# patch release differs between machines), widget state and cell view flags.
SAVED_ONLY_KEYS = [
    "metadata.language_info",
    "metadata.widgets",
    "metadata.signature",
    "cell.metadata.collapsed",
    "cell.metadata.scrolled",
    "cell.metadata.execution",
    "cell.metadata.ExecuteTime",
    "cell.metadata.jp-MarkdownHeadingCollapsed",
    "cell.metadata.heading_collapsed",
    "cell.metadata.hidden",
]


def tracked_by_git(path: Path) -> bool:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--error-unmatch", path.name],
            cwd=path.parent,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:  # no git on this machine: nothing is tracked
        return False
    return listed.returncode == 0


def strip_notebook(notebook: NotebookNode) -> NotebookNode:
    """The notebook as committed: no outputs, no counts, cells numbered, no saved-only metadata."""
    return strip_output(
        notebook, keep_output=False, keep_count=False, keep_id=False, extra_keys=SAVED_ONLY_KEYS
    )


def strip_tracked_notebook(model: dict, path: str, contents_manager, **_) -> None:
    """Jupyter server's pre-save hook (`ContentsManager.pre_save_hook`)."""
    if model.get("type") != "notebook":
        return
    if tracked_by_git(Path(contents_manager.root_dir) / path):
        model["content"] = strip_notebook(nbformat.from_dict(model["content"]))  # JSON from the browser
