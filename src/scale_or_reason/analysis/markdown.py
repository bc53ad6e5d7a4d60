"""Markdown for the summaries: tables with numbers as printed here (missing values as —)."""

from __future__ import annotations

import pandas as pd


def _cell(value, floatfmt: str) -> str:
    if isinstance(value, float):
        return "—" if pd.isna(value) else format(value, floatfmt)
    return "—" if value is None else str(value)


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".3g") -> str:
    return frame.map(lambda value: _cell(value, floatfmt)).to_markdown(index=False, disable_numparse=True)


def interval_cell(mean: float, low: float, high: float) -> str:
    """An accuracy as printed beside its 95% interval: `0.62 (0.58–0.66)`."""
    return f"{mean:.2f} ({low:.2f}–{high:.2f})"


def accuracy_markdown(accuracy: pd.DataFrame, scales: list[str], benchmarks: list[str]) -> str:
    """The accuracy table of `accuracy.csv` (scale, recipe, benchmark, mean, low, high, ...) as one
    row per student, smallest first and IFT before reasoning, one column per benchmark."""
    table = accuracy.assign(
        cell=[interval_cell(*row) for row in accuracy[["mean", "low", "high"]].to_numpy()]
    )
    wide = table.pivot_table(index=["scale", "recipe"], columns="benchmark", values="cell", aggfunc="first")
    wide = wide.reindex(columns=[b for b in benchmarks if b in wide.columns]).reset_index()
    recipes = list(dict.fromkeys(["ift", "reasoning", *sorted(accuracy["recipe"].unique())]))
    wide = wide.sort_values(
        ["scale", "recipe"],
        key=lambda column: column.map((scales if column.name == "scale" else recipes).index),
    )
    return markdown_table(wide)


def replace_block(text: str, name: str, content: str) -> str:
    """`text` with what stands between `<!-- name -->` and `<!-- end name -->` replaced by
    `content`; the markers must both be there."""
    start, end = f"<!-- {name} -->", f"<!-- end {name} -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"expected one {start!r} followed by one {end!r}")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n{content}\n{end}{tail}"
