"""Markdown for the summaries: tables with numbers as printed here (missing values as —)."""

from __future__ import annotations

import pandas as pd


def _cell(value, floatfmt: str) -> str:
    if isinstance(value, float):
        return "—" if pd.isna(value) else format(value, floatfmt)
    return "—" if value is None else str(value)


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".3g") -> str:
    return frame.map(lambda value: _cell(value, floatfmt)).to_markdown(index=False, disable_numparse=True)
