"""Figures in one style: seaborn's colour-blind palette, print-sized, saved as PNG and PDF.

Colour says how a student was trained (IFT, reasoning, sequential or mixed curriculum), benchmark
families have colours of their own, the marker says its scale; log axes are labelled in engineering
units at 1 and 3 of each decade, or more densely or sparsely as their span needs (`_log_axis`).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from ..config.recipes import CURRICULUM_KINDS, FORMATS, GRANULARITIES
from .pareto import SaturatingFit, fit_power_law, frontier_steps
from .uncertainty import ITEMS_ONLY

ORDERS = (*FORMATS, *CURRICULUM_KINDS, *GRANULARITIES[1:])  # the recipe kinds, in colour order
ORDER_LABELS = {
    "ift": "IFT",
    "reasoning": "reasoning",
    "sequential": "sequential curriculum",
    "mixed": "mixed curriculum",
    "key": "reasoning, key steps only",
    "answer": "reasoning, empty trace",
}
FLOPS_LABELS = {"train_flops": "training FLOPs", "inference_flops": "inference FLOPs per query"}
COUNT_LABELS = {
    "paper": "paper formula",
    "exact": "exact count",
    "estimated": "estimated",  # a reported study's training FLOPs
    "power_law": "paper's power law",  # a reported study's inference FLOPs
}
PUBLISHED_COUNTS = ("estimated", "power_law")
MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*"]


def set_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 200, "savefig.bbox": "tight"})


def colour(order: str) -> tuple:
    return sns.color_palette("colorblind")[ORDERS.index(order)]


def family_colours(count: int) -> list:
    """Colours for benchmark families, apart from the recipes' four and from each other: the
    palette's second pink and its pale yellow come last."""
    palette = sns.color_palette("colorblind")
    return [palette[index] for index in (4, 5, 7, 9, 8, 6)[:count]]


def marker(scale: str, scales: list[str]) -> str:
    return MARKERS[scales.index(scale) % len(MARKERS)]


def save(fig: plt.Figure, folders: list[Path], name: str) -> list[Path]:
    """Write `name`.png and `name`.pdf into every folder; PDF metadata without a date, so
    unchanged figures stay byte-identical between runs."""
    written = []
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        fig.savefig(folder / f"{name}.png", metadata={"Software": None})
        fig.savefig(folder / f"{name}.pdf", metadata={"CreationDate": None, "Producer": None})
        written += [folder / f"{name}.png", folder / f"{name}.pdf"]
    return written


def _panel_grid(count: int, columns: int = 2, sharey: bool = True) -> tuple[plt.Figure, list[plt.Axes]]:
    columns = min(columns, count)
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.0 * rows), sharey=sharey, squeeze=False)
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat)[:count]


def _log_axis(axis) -> None:
    # 1-3-10: two labels a decade; 1-2-5 crowded "50M 100M 200M" into each other on two decades,
    # but is what an axis spanning about a decade needs to show more than one label. Narrower, a
    # log locator falls back to matplotlib's linear one, whose eight labels overlap: three instead.
    # Wider than five decades, powers of ten: there matplotlib skips decades and, with 1-3, draws none.
    span = axis.get_view_interval()
    if _ticks_within(span, (1.0,)) > 5:
        axis.set_major_locator(LogLocator(base=10))
    elif _ticks_within(span, (1.0, 3.0)) >= 3:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
    elif _ticks_within(span, (1.0, 2.0, 5.0)) >= 2:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    else:
        axis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(EngFormatter(sep=""))
    axis.set_minor_formatter(NullFormatter())


def _ticks_within(interval, subs) -> int:
    low, high = sorted(interval)
    if low <= 0:
        return 0
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    return sum(low <= sub * 10.0**decade <= high for decade in decades for sub in subs)


def flops_label(flops: str, count: str) -> str:
    """A FLOPs axis label on two lines, so that neighbouring panels' labels never meet."""
    return f"{FLOPS_LABELS[flops]}\n({COUNT_LABELS[count]})"


def _log_x(ax: plt.Axes, label: str, accuracy_axis: bool = True) -> None:
    """Log x axis: studies span one or two decades, where powers of ten alone leave panels bare."""
    ax.set_xscale("log")
    _log_axis(ax.xaxis)
    ax.set_xlabel(label)
    if accuracy_axis:
        ax.set(ylabel="accuracy", ylim=(-0.03, 1.03))


def _points(
    ax,
    table: pd.DataFrame,
    x: str,
    y: str,
    scales: list[str],
    size: float = 60,
    alpha: float = 1.0,
    probability: str | None = None,
) -> None:
    """One marker per row, its 95% interval as an error bar where the table has `low` and `high`,
    and, with `probability`, filled by the chance of being on the frontier (`FILLS`)."""
    for _, row in table.iterrows():
        tint = colour(row["order"])
        if "low" in row and pd.notna(row["low"]):
            error = [[row[y] - row["low"]], [row["high"] - row[y]]]
            ax.errorbar(
                row[x], row[y], yerr=error, fmt="none", ecolor=tint, elinewidth=0.8, alpha=0.7 * alpha
            )
        fill = _fill(row[probability]) if probability else "full"
        ax.plot(
            row[x],
            row[y],
            linestyle="",
            marker=marker(row["scale"], scales),
            markersize=np.sqrt(size),
            color=tint,
            fillstyle=fill,
            markerfacecoloralt="white",
            markeredgecolor="white" if fill == "full" else tint,
            markeredgewidth=0.6 if fill == "full" else 1.0,
            alpha=alpha,
            zorder=3,
        )


# How likely a point is to be on the frontier (share of bootstrap replicates), drawn as its fill.
FILLS = (
    (0.9, "full", "on the frontier in ≥ 90% of replicates"),
    (0.5, "left", "in 50–90%"),
    (0.0, "none", "in < 50%"),
)


def _fill(probability: float) -> str:
    if pd.isna(probability):
        return "full"
    return next(fill for floor, fill, _ in FILLS if probability >= floor)


def _fill_handles() -> list:
    return [
        plt.Line2D(
            [],
            [],
            color="0.3",
            marker="o",
            linestyle="",
            fillstyle=fill,
            markerfacecoloralt="white",
            label=label,
        )
        for _, fill, label in FILLS
    ]


def interval_handles(kinds) -> list:
    """The legend's line on what the error bars hold (`kinds`: the `interval` column of the
    points drawn, "seeds and items" or "items only"), when the table says."""
    if kinds is None:
        return []
    found = sorted(set(pd.Series(kinds).dropna()))
    if not found:
        return []
    words = " / ".join(found) if len(found) > 1 else found[0]
    if found == [ITEMS_ONLY]:
        words = "items only (one seed)"
    return [
        plt.Line2D(
            [], [], color="0.3", marker="|", markersize=10, linestyle="", label=f"95% interval: {words}"
        )
    ]


def _legend(
    fig: plt.Figure, orders, scales: list[str], extra: list | None = None, shown=None, intervals=None
) -> None:
    """Colours for `orders`, markers for the `shown` scales (default: all), each the marker the
    points drew: its index in the study's `scales`; with `intervals` (the points' `interval`
    column), what their error bars hold."""
    handles = [
        plt.Line2D([], [], color=colour(o), marker="o", linestyle="", label=ORDER_LABELS[o])
        for o in ORDERS
        if o in set(orders)
    ]
    listed = scales if shown is None else [s for s in scales if s in set(shown)]
    handles += [
        plt.Line2D([], [], color="0.3", marker=marker(s, scales), linestyle="", label=s) for s in listed
    ]
    handles += (extra or []) + interval_handles(intervals)
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()


FRONTIER_HANDLE = plt.Line2D([], [], color="0.35", linestyle="--", label="Pareto frontier (seed means)")
PUBLISHED_FRONTIER_HANDLE = plt.Line2D([], [], color="0.35", linestyle="--", label="Pareto frontier")


def _fit_line(ax, fit: SaturatingFit, xs, order: str, band: pd.DataFrame | None = None) -> None:
    grid = np.logspace(np.log10(min(xs)) - 0.1, np.log10(max(xs)) + 0.1, 100)
    ax.plot(grid, fit(grid), color=colour(order), linewidth=1.2, alpha=0.8, zorder=1)
    if band is not None and len(band):
        ax.fill_between(
            band["x"], band["low"], band["high"], color=colour(order), alpha=0.15, linewidth=0, zorder=0
        )


# --- 04_pareto ------------------------------------------------------------------------------


def accuracy_vs_flops(
    results, panels, flops, scales, count="paper", fits=None, bands=None, ceilings=None
) -> plt.Figure:
    """Accuracy against FLOPs, one panel per family: pure formats in colour with their fitted
    curves (and the curves' 95% bands), curricula (if any) faded, every point with its 95%
    interval and filled by its chance of being on the frontier, and the frontier through the seed
    means dashed.

    `panels` maps a family to the benchmark shown; `fits` maps (family, recipe) to a fit; `bands`
    is the `fit_bands` table; `ceilings` maps a family to its teacher's accuracy, drawn dotted.
    """
    fig, axes = _panel_grid(len(panels))
    probability = f"p_{flops.removesuffix('_flops')}_frontier"
    probability = probability if probability in results else None
    for ax, (family, benchmark) in zip(axes, panels.items(), strict=False):
        table = results[results["benchmark"] == benchmark]
        pure = table["recipe"].isin(FORMATS)
        _points(ax, table[~pure], flops, "accuracy", scales, size=30, alpha=0.55, probability=probability)
        _points(ax, table[pure], flops, "accuracy", scales, probability=probability)
        for recipe in FORMATS:
            if fits and (family, recipe) in fits:
                band = None
                if bands is not None:
                    chosen = (
                        (bands["family"] == family) & (bands["recipe"] == recipe) & (bands["flops"] == flops)
                    )
                    band = bands[chosen]
                _fit_line(ax, fits[(family, recipe)], table[flops], recipe, band)
        xs, ys = frontier_steps(table[flops], table["accuracy"])
        ax.step(xs, ys, where="post", color="0.35", linestyle="--", linewidth=1, zorder=2)
        if ceilings:
            ax.axhline(ceilings[family], color="0.5", linestyle=":", linewidth=1, zorder=1)
        _log_x(ax, flops_label(flops, count))
        ax.set_title(family if family == benchmark else f"{family} ({benchmark})")
    band_words = ", 95% band" if bands is not None else ""
    fit_handle = plt.Line2D([], [], color="0.3", linewidth=1.2, label=f"fit α+β(1−e^(−γx^δ)){band_words}")
    frontier = PUBLISHED_FRONTIER_HANDLE if count in PUBLISHED_COUNTS else FRONTIER_HANDLE
    extra = [frontier] + ([fit_handle] if fits else []) + (_fill_handles() if probability else [])
    if ceilings:
        extra.append(plt.Line2D([], [], color="0.5", linestyle=":", label="teacher (the fits' ceiling)"))
    _legend(fig, results["order"], scales, extra, intervals=results.get("interval"))
    return fig


def ours_vs_paper(comparison: pd.DataFrame) -> plt.Figure:
    """The released students' accuracy here (with its 95% interval) against the paper's Table 1,
    one marker per family × size × format, the diagonal where they agree."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    families = list(dict.fromkeys(comparison["family"]))
    for row in comparison.itertuples():
        tint = colour(row.recipe)
        error = [[row.ours - row.low], [row.high - row.ours]]
        ax.errorbar(row.paper, row.ours, yerr=error, fmt="none", ecolor=tint, elinewidth=0.8, alpha=0.7)
        ax.plot(row.paper, row.ours, linestyle="", marker=MARKERS[families.index(row.family)], color=tint)
    ax.plot([0, 1], [0, 1], color="0.5", linestyle=":", linewidth=1)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="accuracy in the paper (Table 1)",
        ylabel="accuracy here, 95% interval",
    )
    handles = [
        plt.Line2D([], [], color=colour(o), marker="o", linestyle="", label=ORDER_LABELS[o]) for o in FORMATS
    ]
    handles += [
        plt.Line2D([], [], color="0.3", marker=MARKERS[i], linestyle="", label=family)
        for i, family in enumerate(families)
    ]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def predicted_vs_actual(predictions: pd.DataFrame, level: float) -> plt.Figure:
    """Each predicted accuracy (with its interval at `level`) against the student's measured one,
    a panel per method: colour the format, marker the predicted scale, the diagonal where they
    agree. Predictions without a measured student are left out."""
    known = predictions[predictions["actual"].notna()]
    methods = list(dict.fromkeys(known["method"]))
    scales = list(dict.fromkeys(known.sort_values("params")["scale"]))
    # one range for every panel, from the lowest point or interval down to a tenth below it
    bottom = max(0.0, np.floor(10 * min(known["actual"].min(), known["low"].min())) / 10)
    fig, axes = _panel_grid(len(methods), columns=len(methods))
    for ax, method in zip(axes, methods, strict=False):
        for row in known[known["method"] == method].itertuples():
            tint = colour(row.recipe)
            error = [[row.predicted - row.low], [row.high - row.predicted]]
            ax.errorbar(
                row.actual, row.predicted, yerr=error, fmt="none", ecolor=tint, elinewidth=0.8, alpha=0.7
            )
            ax.plot(row.actual, row.predicted, linestyle="", marker=marker(row.scale, scales), color=tint)
        ax.plot([0, 1], [0, 1], color="0.5", linestyle=":", linewidth=1)
        ax.set(xlim=(bottom, 1), ylim=(bottom, 1), title=method, xlabel="measured accuracy")
    axes[0].set_ylabel(f"predicted accuracy, {level:.0%} interval")
    handles = [
        plt.Line2D([], [], color=colour(o), marker="o", linestyle="", label=ORDER_LABELS[o]) for o in FORMATS
    ]
    handles += [
        plt.Line2D([], [], color="0.3", marker=marker(s, scales), linestyle="", label=s) for s in scales
    ]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def gain_vs_size(differences: pd.DataFrame) -> plt.Figure:
    """Reasoning minus IFT at equal size against size, one line per family (`differences`: family,
    params, difference; with `low` and `high`, their intervals)."""
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    families = differences.groupby("family", sort=False)
    for (family, group), tint in zip(families, family_colours(families.ngroups), strict=True):
        group = group.sort_values("params")
        ax.plot(group["params"], group["difference"], marker="o", linewidth=1.2, label=family, color=tint)
        if "low" in group:
            ax.fill_between(group["params"], group["low"], group["high"], alpha=0.15, linewidth=0, color=tint)
    ax.axhline(0, color="0.4", linewidth=0.8)
    _log_x(ax, "parameters N", accuracy_axis=False)
    # Language-model sizes are said in billions (B), not giga.
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda value, _: EngFormatter(sep="")(value).replace("G", "B"))
    )
    ax.set(ylabel="accuracy, reasoning − IFT")
    ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def power_laws_vs_size(laws: pd.DataFrame, sizes: list[float]) -> plt.Figure:
    """The paper's Figure 14 from its published fits: inference FLOPs per example against size,
    coefficient × N^exponent (N in billions), one panel per family, a marker at each student size."""
    fig, axes = _panel_grid(laws["family"].nunique())
    at = np.array(sorted(sizes))
    grid = np.logspace(np.log10(at.min()), np.log10(at.max()), 50)
    for ax, (family, group) in zip(axes, laws.groupby("family", sort=False), strict=False):
        for law in group.itertuples():
            tint = colour(law.format)
            label = f"{ORDER_LABELS[law.format]}: ∝ $N^{{{law.exponent:.2f}}}$"
            ax.plot(grid, law.coefficient * grid**law.exponent, color=tint, linewidth=1.2, label=label)
            ax.scatter(at, law.coefficient * at**law.exponent, color=tint, s=30, zorder=3)
        ax.set(yscale="log", ylabel="inference FLOPs per example", title=family)
        _log_axis(ax.yaxis)
        _log_x(ax, "parameters N", accuracy_axis=False)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}B"))
        ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


def accuracy_vs_params(results: pd.DataFrame, benchmarks: list[str], scales: list[str]) -> plt.Figure:
    """Accuracy against student size on every benchmark, transfer sets included (pure formats)."""
    results = results[results["recipe"].isin(FORMATS)]
    fig, axes = _panel_grid(len(benchmarks), columns=3)
    for ax, benchmark in zip(axes, benchmarks, strict=False):
        table = results[results["benchmark"] == benchmark]
        for order, group in table.groupby("order"):
            ax.plot(group["params"], group["accuracy"], color=colour(order), linewidth=1, zorder=1)
        _points(ax, table, "params", "accuracy", scales)
        _log_x(ax, "parameters")
        ax.set_title(benchmark)
    _legend(fig, results["order"], scales, intervals=results.get("interval"))
    return fig


def flops_divergence(results: pd.DataFrame, scales: list[str]) -> plt.Figure:
    """Exact count over the paper's formula, per student: training, and inference per query
    (averaged over benchmarks). Below 1 the paper's formula overcounts this architecture."""
    students = (
        results.groupby(["scale", "recipe", "order"], sort=False)
        .agg(
            params=("params", "first"),
            training=("train_flops_exact", "first"),
            training_paper=("train_flops_paper", "first"),
            inference=("inference_flops_exact", "mean"),
            inference_paper=("inference_flops_paper", "mean"),
        )
        .reset_index()
    )
    fig, axes = _panel_grid(2)
    for ax, kind in zip(axes, ("training", "inference"), strict=False):
        table = students.assign(ratio=students[kind] / students[f"{kind}_paper"])
        for order, group in table[table["recipe"].isin(FORMATS)].groupby("order"):
            ax.plot(group["params"], group["ratio"], color=colour(order), linewidth=1, zorder=1)
        _points(ax, table, "params", "ratio", scales)
        _log_x(ax, "parameters", accuracy_axis=False)
        ax.axhline(1.0, color="0.35", linestyle="--", linewidth=1)
        ax.set(ylabel="exact / paper FLOPs", title=f"{kind} FLOPs")
    _legend(fig, students["order"], scales)
    return fig


def gain_vs_token_factor(pairs: pd.DataFrame, scales: list[str]) -> plt.Figure:
    """The paper's Figure 1: reasoning's accuracy gain over IFT against how many more tokens it
    generates, one point per benchmark × scale. `pairs` has benchmark, scale, family, gain,
    token_factor."""
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    families = list(dict.fromkeys(pairs["family"]))
    palette = dict(zip(families, family_colours(len(families)), strict=True))
    for _, row in pairs.iterrows():
        ax.scatter(
            row["token_factor"],
            row["gain"],
            color=palette[row["family"]],
            marker=marker(row["scale"], scales),
            s=55,
            edgecolor="white",
            linewidth=0.5,
            zorder=3,
        )
    ax.axhline(0, color="0.35", linewidth=1)
    ax.set_xscale("log")
    _log_axis(ax.xaxis)
    ax.set(xlabel="reasoning / IFT generated tokens", ylabel="accuracy gain of reasoning over IFT")
    handles = [plt.Line2D([], [], color=c, marker="o", linestyle="", label=f) for f, c in palette.items()]
    handles += [
        plt.Line2D([], [], color="0.3", marker=marker(s, scales), linestyle="", label=s) for s in scales
    ]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def answer_lengths(lengths: pd.DataFrame, panels: dict[str, str], params: dict[str, int]) -> plt.Figure:
    """The paper's Figure 4: mean answer length of failures (dashed) and successes (solid)
    against scale, per family, for both pure formats."""
    fig, axes = _panel_grid(len(panels), sharey=False)
    for ax, (family, benchmark) in zip(axes, panels.items(), strict=False):
        table = lengths[(lengths["benchmark"] == benchmark) & lengths["recipe"].isin(FORMATS)]
        for (recipe, correct), group in table.groupby(["recipe", "correct"]):
            group = group.assign(params=group["scale"].map(params)).sort_values("params")
            ax.plot(
                group["params"],
                group["gen_tokens_mean"],
                color=colour(recipe),
                marker="o",
                markersize=4,
                linestyle="-" if correct else "--",
                linewidth=1.2,
            )
        _log_x(ax, "parameters", accuracy_axis=False)
        ax.set(ylabel="generated tokens", title=family)
    handles = [plt.Line2D([], [], color=colour(o), label=ORDER_LABELS[o]) for o in FORMATS]
    handles += [
        plt.Line2D([], [], color="0.3", linestyle="-", label="correct"),
        plt.Line2D([], [], color="0.3", linestyle="--", label="wrong"),
    ]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def inference_flops_vs_size(students: pd.DataFrame, count: str) -> plt.Figure:
    """The paper's Figure 14: inference FLOPs per query against model size, with a power-law fit
    per format. `students` has params, order and inference_flops (mean over benchmarks)."""
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    for order, group in students.groupby("order"):
        a, b = fit_power_law(group["params"], group["inference_flops"])
        grid = np.logspace(np.log10(group["params"].min()), np.log10(group["params"].max()), 50)
        ax.scatter(group["params"], group["inference_flops"], color=colour(order), s=45, zorder=3)
        ax.plot(
            grid,
            a * grid**b,
            color=colour(order),
            linewidth=1.2,
            label=f"{ORDER_LABELS[order]}: ∝ $N^{{{b:.2f}}}$",
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="parameters N",
        ylabel=f"inference FLOPs per query ({COUNT_LABELS[count]})",
    )
    _log_axis(ax.xaxis)
    _log_axis(ax.yaxis)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def early_stopping(
    truncation: pd.DataFrame, results: pd.DataFrame, panels: dict[str, str], scales: list[str], count: str
) -> plt.Figure:
    """The paper's Figure 12: reasoning students' accuracy when generation stops at the 25th,
    50th and 75th percentile of their answer length (and uncut), against inference FLOPs; IFT
    students for reference."""
    column = f"inference_flops_{count}"
    fig, axes = _panel_grid(len(panels))
    for ax, (family, benchmark) in zip(axes, panels.items(), strict=False):
        for scale, group in truncation[truncation["benchmark"] == benchmark].groupby("scale", sort=False):
            group = group.sort_values("percentile")
            ax.plot(
                group[column], group["accuracy"], color=colour("reasoning"), linewidth=1, alpha=0.7, zorder=1
            )
            ax.scatter(
                group[column],
                group["accuracy"],
                color=colour("reasoning"),
                marker=marker(scale, scales),
                s=18 + 0.5 * group["percentile"],
                edgecolor="white",
                linewidth=0.5,
                zorder=3,
            )
        ift = results[(results["benchmark"] == benchmark) & (results["recipe"] == "ift")]
        _points(ax, ift.assign(inference_flops=ift[column]), "inference_flops", "accuracy", scales)
        _log_x(ax, flops_label("inference_flops", count))
        ax.set_title(family)
    note = plt.Line2D(
        [], [], color=colour("reasoning"), marker="o", label="reasoning cut at p25 · p50 · p75 · uncut"
    )
    _legend(fig, ["ift"], scales, [note])
    return fig


# --- 05_curriculum --------------------------------------------------------------------------


def _line_with_interval(ax, x, table: pd.DataFrame, y: str, interval: str, tint, **style) -> None:
    """A line through `table[y]`, with error bars from the `<interval>_low`/`_high` columns (or
    `low`/`high` for an empty prefix) where the table has them."""
    low, high = (f"{interval}_low", f"{interval}_high") if interval else ("low", "high")
    if low in table and table[low].notna().any():
        error = [(table[y] - table[low]).clip(lower=0), (table[high] - table[y]).clip(lower=0)]
        ax.errorbar(x, table[y], yerr=error, fmt="none", ecolor=tint, elinewidth=0.8, alpha=0.6)
    ax.plot(x, table[y], color=tint, **style)


def curriculum_gain(table: pd.DataFrame, scales: list[str]) -> plt.Figure:
    """Accuracy gain over pure IFT against the reasoning share ρ, per family, one line per
    curriculum order and scale (ρ = 0 is IFT, ρ = 100% pure reasoning)."""
    families = list(dict.fromkeys(table["family"]))
    fig, axes = _panel_grid(len(families))
    for ax, family in zip(axes, families, strict=False):
        rows = table[table["family"] == family]
        for scale, at_scale in rows.groupby("scale", sort=False):
            ends = at_scale[at_scale["order"].isin(FORMATS)]
            for order in CURRICULUM_KINDS:
                line = pd.concat([ends, at_scale[at_scale["order"] == order]]).sort_values("reasoning_share")
                if len(line) > len(ends):
                    _line_with_interval(
                        ax,
                        100 * line["reasoning_share"],
                        line,
                        "gain_over_ift",
                        "gain",
                        colour(order),
                        marker=marker(scale, scales),
                        linewidth=1.2,
                        markersize=5,
                    )
        ax.axhline(0, color="0.35", linewidth=1)
        ax.set(
            xlabel="reasoning share ρ (%)",
            ylabel="accuracy gain over IFT",
            title=family,
            xticks=[0, 25, 50, 75, 100],
        )
    _legend(fig, list(CURRICULUM_KINDS), scales, shown=table["scale"])
    return fig


def curriculum_orders(table: pd.DataFrame) -> plt.Figure:
    """Sequential against mixed, accuracy against ρ, with the mean answer length on a second
    axis (dotted), per family and curriculum scale."""
    cells = list(dict.fromkeys(zip(table["family"], table["scale"], strict=True)))
    fig, axes = _panel_grid(len(cells), sharey=False)
    for ax, (family, scale) in zip(axes, cells, strict=False):
        rows = table[(table["family"] == family) & (table["scale"] == scale)]
        ends = rows[rows["order"].isin(FORMATS)]
        lengths = ax.twinx()
        for order in CURRICULUM_KINDS:
            line = pd.concat([ends, rows[rows["order"] == order]]).sort_values("reasoning_share")
            _line_with_interval(
                ax,
                100 * line["reasoning_share"],
                line,
                "accuracy",
                "",
                colour(order),
                marker="o",
                linewidth=1.4,
            )
            lengths.plot(
                100 * line["reasoning_share"],
                line["gen_tokens_mean"],
                color=colour(order),
                linestyle=":",
                linewidth=1.2,
            )
        ax.set(
            xlabel="reasoning share ρ (%)",
            ylabel="accuracy",
            ylim=(-0.03, 1.03),
            title=f"{family}, {scale}",
            xticks=[0, 25, 50, 75, 100],
        )
        lengths.set_ylabel("generated tokens (dotted)")
        lengths.grid(False)
    handles = [plt.Line2D([], [], color=colour(o), label=ORDER_LABELS[o]) for o in CURRICULUM_KINDS]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def curriculum_vs_flops(
    results: pd.DataFrame, panels: dict[str, str], scales: list[str], count: str
) -> plt.Figure:
    """Accuracy against training FLOPs at the curriculum scales, ρ written beside each
    curriculum point."""
    curriculum_scales = set(results.loc[~results["recipe"].isin(FORMATS), "scale"])
    results = results[results["scale"].isin(curriculum_scales) | results["recipe"].isin(FORMATS)]
    fig, axes = _panel_grid(len(panels))
    for ax, (family, benchmark) in zip(axes, panels.items(), strict=False):
        table = results[results["benchmark"] == benchmark]
        _points(ax, table, "train_flops", "accuracy", scales, size=45)
        for _, row in table[~table["recipe"].isin(FORMATS)].iterrows():
            # Curricula of one scale and share cost the same: their labels go on opposite sides.
            side = 1 if CURRICULUM_KINDS.index(row["order"]) % 2 else -1
            ax.annotate(
                f"{row['reasoning_share']:.0%}",
                (row["train_flops"], row["accuracy"]),
                textcoords="offset points",
                xytext=(5 * side, 3),
                ha="left" if side > 0 else "right",
                fontsize=7,
                color=colour(row["order"]),
            )
        _log_x(ax, flops_label("train_flops", count))
        ax.set_title(family)
    _legend(fig, results["order"], scales, intervals=results.get("interval"))
    return fig


# --- 06_transfer ----------------------------------------------------------------------------

ZERO_HANDLE = plt.Line2D(
    [], [], color="0.3", marker="o", markerfacecolor="none", linestyle="", label="scores 0 off distribution"
)
SET_STYLES = ("-", "--", ":", "-.")


def _gap_points(ax, table: pd.DataFrame, scales: list[str]) -> None:
    """Hollow where the student scores 0 off distribution: its drop is then only its
    in-distribution accuracy, not a measure of transfer."""
    for _, row in table.iterrows():
        filled = row["accuracy"] > 0
        ax.scatter(
            row["params"],
            row["gap"],
            marker=marker(row["scale"], scales),
            s=45,
            linewidth=1.0,
            zorder=3,
            facecolors=colour(row["order"]) if filled else "none",
            edgecolors=colour(row["order"]),
        )


def transfer_gap(table: pd.DataFrame, scales: list[str]) -> plt.Figure:
    """Accuracy drop from in-distribution (in-distribution minus transfer accuracy) against
    student size, IFT against reasoning, one panel per family × kind of transfer. `table` is
    `transfer.transfer_gaps`; several sets of one kind share a panel, told apart by line style."""
    pure = table[table["recipe"].isin(FORMATS)]
    pure = pure.assign(order=pure["recipe"])
    cells = list(dict.fromkeys(zip(pure["family"], pure["kind"], strict=True)))
    fig, axes = _panel_grid(len(cells), columns=min(3, len(set(pure["kind"]))))
    for ax, (family, kind) in zip(axes, cells, strict=False):
        panel = pure[(pure["family"] == family) & (pure["kind"] == kind)]
        benchmarks = list(dict.fromkeys(panel["benchmark"]))
        for (benchmark, order), line in panel.groupby(["benchmark", "order"], sort=False):
            line = line.sort_values("params")
            style = SET_STYLES[benchmarks.index(benchmark) % len(SET_STYLES)]
            ax.plot(line["params"], line["gap"], color=colour(order), linestyle=style, linewidth=1, zorder=1)
        _gap_points(ax, panel, scales)
        ax.axhline(0, color="0.35", linewidth=1)
        _log_x(ax, "parameters", accuracy_axis=False)
        ax.set(
            ylabel="accuracy drop from in-distribution",
            title=f"{family}: {panel['transfer'].iloc[0]}\n({', '.join(benchmarks)})",
        )
    _legend(fig, pure["order"], scales, [ZERO_HANDLE], shown=pure["scale"])
    return fig


GRANULARITY_ORDERS = {"full": "reasoning", "key": "key", "answer": "answer"}


def granularity_vs_flops(table: pd.DataFrame, scales: list[str]) -> plt.Figure:
    """Accuracy against training FLOPs for each trace granularity at the scales trained with
    several: filled in distribution, hollow off it (mean over the family's transfer sets)."""
    families = list(dict.fromkeys(table["family"]))
    fig, axes = _panel_grid(len(families))
    for ax, family in zip(axes, families, strict=False):
        panel = table[table["family"] == family]
        for _, row in panel.iterrows():
            order = GRANULARITY_ORDERS[row["granularity"]]
            style = dict(color=colour(order), marker=marker(row["scale"], scales), s=46, zorder=3)
            ax.scatter(row["train_flops"], row["accuracy"], **style)
            if pd.notna(row["transfer_accuracy"]):
                ax.scatter(
                    row["train_flops"],
                    row["transfer_accuracy"],
                    facecolors="none",
                    edgecolors=colour(order),
                    marker=marker(row["scale"], scales),
                    s=46,
                    zorder=3,
                )
        for _, line in panel.groupby("scale", sort=False):
            ax.plot(line["train_flops"], line["accuracy"], color="0.6", linewidth=0.8, zorder=1)
        _log_x(ax, "training FLOPs")
        ax.set(title=family)
    orders = [GRANULARITY_ORDERS[g] for g in table["granularity"]]
    hollow = plt.Line2D(
        [], [], color="0.3", marker="o", markerfacecolor="none", linestyle="", label="off distribution (mean)"
    )
    _legend(fig, orders, scales, [hollow], shown=table["scale"])
    return fig


# --- 07_data_efficiency ---------------------------------------------------------------------

STRATEGY_COLOURS = {"random": 7, "correct_only": 2, "length_cap": 4, "unsolved": 3, "diverse": 9}
STRATEGY_LABELS = {
    "random": "random",
    "correct_only": "correct traces only",
    "length_cap": "length cap",
    "unsolved": "drop what the probe solves",
    "diverse": "diverse traces",
}
REFERENCE_LABELS = {"ift": "IFT, every pair", "reasoning": "reasoning, every pair"}


def strategy_colour(strategy: str) -> tuple:
    return sns.color_palette("colorblind")[STRATEGY_COLOURS[strategy]]


def _strategy_lines(ax, selected: pd.DataFrame, x: str) -> None:
    for strategy, line in selected.groupby("strategy", sort=False):
        line = line.sort_values(x)
        ax.plot(
            line[x],
            line["accuracy"],
            color=strategy_colour(strategy),
            marker="o",
            markersize=4.5,
            linewidth=1.2,
            zorder=3,
        )


def _frontier(ax, table: pd.DataFrame, x: str) -> None:
    xs, ys = frontier_steps(table[x], table["accuracy"])
    ax.step(xs, ys, where="post", color="0.35", linestyle="--", linewidth=1, zorder=2)


def _selection_legend(fig: plt.Figure, strategies, references, reference_marks: str) -> None:
    shown = [s for s in STRATEGY_COLOURS if s in set(strategies)]
    handles = [
        plt.Line2D([], [], color=strategy_colour(s), marker="o", label=STRATEGY_LABELS[s]) for s in shown
    ]
    lines, stars = {"linestyle": ":", "marker": None}, {"linestyle": "", "marker": "*", "markersize": 10}
    for recipe in [r for r in FORMATS if r in set(references)]:
        style = lines if reference_marks == "lines" else stars
        handles.append(plt.Line2D([], [], color=colour(recipe), label=REFERENCE_LABELS[recipe], **style))
    handles.append(plt.Line2D([], [], color="0.35", linestyle="--", label="Pareto frontier"))
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()


def _reference_marks(ax, references: pd.DataFrame, x: str, marks: str) -> None:
    for _, row in references.iterrows():
        if marks == "lines":
            ax.axhline(row["accuracy"], color=colour(row["strategy"]), linestyle=":", linewidth=1.2, zorder=1)
        else:
            ax.scatter(row[x], row["accuracy"], color=colour(row["strategy"]), marker="*", s=140, zorder=4)


def _selection_panels(
    table: pd.DataFrame, x: str, label: str, marks: str, frontier_over_all: bool
) -> plt.Figure:
    """One panel per family and their mean: a line per strategy, the paper's recipes as `marks`
    (`lines`: levels; `stars`: points at their own x) and the frontier."""
    families = list(dict.fromkeys(table["family"]))
    fig, axes = _panel_grid(len(families), columns=3)
    for ax, family in zip(axes, families, strict=False):
        panel = table[table["family"] == family]
        selected, references = panel[panel["budget"].notna()], panel[panel["budget"].isna()]
        _strategy_lines(ax, selected, x)
        _reference_marks(ax, references, x, marks)
        _frontier(ax, panel if frontier_over_all else selected, x)
        _log_x(ax, label)
        ax.set_title(family)
    _selection_legend(fig, table["strategy"], table.loc[table["budget"].isna(), "strategy"], marks)
    return fig


def selection_vs_examples(table: pd.DataFrame) -> plt.Figure:
    """Accuracy against training examples (traces per family), one line per selection strategy and
    the frontier over them; the paper's recipes on every pair as dotted levels. `table` is
    `efficiency.selection_table`."""
    return _selection_panels(
        table, "examples", "training examples per family", "lines", frontier_over_all=False
    )


def selection_vs_flops(table: pd.DataFrame) -> plt.Figure:
    """The same runs against training FLOPs, the paper's recipes as stars, the frontier over all:
    the data-efficiency frontier and the scale-or-reason one on one axis."""
    return _selection_panels(
        table, "train_flops", "training FLOPs (paper formula)", "stars", frontier_over_all=True
    )


def teacher_choice(table: pd.DataFrame) -> plt.Figure:
    """The smoke student's gain over itself untrained, one bar per candidate teacher (best first),
    each labelled with the teacher's own accuracy on the sample: does the one predict the other?
    `table` is `efficiency.teacher_table`."""
    table = table.sort_values("gain_over_base", ascending=True)
    fig, ax = plt.subplots(figsize=(4.8, 0.45 * len(table) + 1.2))
    palette = sns.color_palette("colorblind")
    granularities = list(dict.fromkeys(table["granularity"]))
    colours = [palette[granularities.index(g) % len(palette)] for g in table["granularity"]]
    ax.barh(table["teacher"], table["gain_over_base"], color=colours, height=0.6)
    for position, (_, row) in enumerate(table.iterrows()):
        ax.annotate(
            f"own accuracy {row['teacher_accuracy']:.2f}",
            (max(row["gain_over_base"], 0), position),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8.5,
        )
    ax.axvline(0, color="0.35", linewidth=1)
    ax.set(
        xlim=(min(0, table["gain_over_base"].min()) - 0.02, 1.25),
        xlabel="student's gain over untrained (accuracy)",
    )
    ax.set_title("teacher choice by smoke test")
    fig.tight_layout()
    return fig
