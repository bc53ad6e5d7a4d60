"""What the command line needs of the orchestration layer before it knows the command: the
executors' names, the smoke test's step counts and the errors a run stops with.

Light on purpose (no papermill, submitit or torch), so that `sor --help` and a bad argument
answer at once; the modules that run things import these names from here.
"""

from __future__ import annotations

EXECUTORS = ("local", "slurm")

STEPS = 20  # the smoke test's optimizer steps
WARMUP_STEPS = 3  # not timed: the first steps pay for allocation and kernel selection


class UnitFailed(RuntimeError):
    """A unit's notebook raised; the message names the unit and ends with its log's tail."""


class UnknownNotebookParameter(ValueError):
    """A unit would pass a notebook a parameter its `parameters` cell does not define."""


class SlurmUnavailable(RuntimeError):
    """No Slurm to talk to: the message names the command tried and what it said."""
