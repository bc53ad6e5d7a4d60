"""`scale_or_reason.teachers`: the public name of the released pairs' loader (`data.released`)."""

from .data.released import load_released_pairs, released_pairs_report

__all__ = ["load_released_pairs", "released_pairs_report"]
