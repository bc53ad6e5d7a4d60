# JupyterLab for this project (`make lab` passes this file with --config): notebooks git tracks are
# saved as committed, without outputs, so exploring leaves `git status` clean (see
# scale_or_reason/orchestration/lab.py). Executed copies with outputs live in the run folders.
from scale_or_reason.orchestration.lab import strip_tracked_notebook

c.ContentsManager.pre_save_hook = strip_tracked_notebook  # noqa: F821 (`c` is Jupyter's config)
