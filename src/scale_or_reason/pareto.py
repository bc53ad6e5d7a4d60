"""`scale_or_reason.pareto`: the public name of `analysis.pareto` (frontiers and fitted curves)."""

from .analysis.pareto import *  # noqa: F403
from .analysis.pareto import __all__  # noqa: F401
