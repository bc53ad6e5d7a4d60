"""Figures in one style: seaborn's colour-blind palette, print-sized, saved as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter
import pandas as pd
import seaborn as sns

from .pareto import frontier_steps

RECIPE_LABELS = {"ift": "IFT", "reasoning": "reasoning"}
FLOPS_LABELS = {
    "train_flops": "training FLOPs",
    "inference_flops": "inference FLOPs per query",
}
COUNT_LABELS = {"paper": "paper formula", "exact": "exact count"}
MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*"]


def set_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 200, "savefig.bbox": "tight"})


def recipe_palette(recipes) -> dict[str, tuple]:
    colours = sns.color_palette("colorblind")
    return {recipe: colours[i] for i, recipe in enumerate(sorted(recipes))}


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


def _scatter_by_recipe(ax, table: pd.DataFrame, x: str, scales: list[str], palette: dict) -> None:
    markers = {scale: MARKERS[i % len(MARKERS)] for i, scale in enumerate(scales)}
    sns.scatterplot(
        data=table, x=x, y="accuracy", hue="recipe", style="scale", palette=palette,
        markers=markers, style_order=scales, hue_order=sorted(palette), s=70, ax=ax, legend=False,
    )  # fmt: skip


def _panel_grid(count: int, columns: int = 2) -> tuple[plt.Figure, list[plt.Axes]]:
    columns = min(columns, count)
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.0 * rows), sharey=True, squeeze=False)
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat)[:count]


def _log_x(ax: plt.Axes, label: str, accuracy_axis: bool = True) -> None:
    """Log axis labelled at 1, 2 and 5 of each decade in engineering units (20k, 5G, 1T):
    studies span one or two decades, where powers of ten alone leave panels unlabelled."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(label)
    if accuracy_axis:
        ax.set(ylabel="accuracy", ylim=(-0.03, 1.03))


def accuracy_vs_flops(
    results: pd.DataFrame, panels: dict[str, str], flops: str, scales: list[str], count: str = "paper"
) -> plt.Figure:
    """Accuracy against FLOPs, one panel per family, IFT vs reasoning, frontier drawn dashed.

    `panels` maps a panel title (the family) to the benchmark shown in it.
    """
    palette = recipe_palette(results["recipe"].unique())
    fig, axes = _panel_grid(len(panels))
    for ax, (title, benchmark) in zip(axes, panels.items()):
        table = results[results["benchmark"] == benchmark]
        _scatter_by_recipe(ax, table, flops, scales, palette)
        xs, ys = frontier_steps(table[flops], table["accuracy"])
        ax.step(xs, ys, where="post", color="0.35", linestyle="--", linewidth=1, zorder=0)
        _log_x(ax, f"{FLOPS_LABELS[flops]} ({COUNT_LABELS[count]})")
        ax.set_title(title if title == benchmark else f"{title} ({benchmark})")
    _legend(fig, palette, scales, frontier=True)
    return fig


def accuracy_vs_params(results: pd.DataFrame, benchmarks: list[str], scales: list[str]) -> plt.Figure:
    """Accuracy against student size on every benchmark, transfer sets included."""
    palette = recipe_palette(results["recipe"].unique())
    fig, axes = _panel_grid(len(benchmarks), columns=3)
    for ax, benchmark in zip(axes, benchmarks):
        table = results[results["benchmark"] == benchmark]
        for recipe, group in table.groupby("recipe"):
            ax.plot(group["params"], group["accuracy"], color=palette[recipe], linewidth=1, zorder=0)
        _scatter_by_recipe(ax, table, "params", scales, palette)
        _log_x(ax, "parameters")
        ax.set_title(benchmark)
    _legend(fig, palette, scales, frontier=False)
    return fig


def _legend(fig: plt.Figure, palette: dict, scales: list[str], frontier: bool) -> None:
    handles = [plt.Line2D([], [], color=c, marker="o", linestyle="", label=RECIPE_LABELS.get(r, r)) for r, c in palette.items()]
    handles += [
        plt.Line2D([], [], color="0.3", marker=MARKERS[i % len(MARKERS)], linestyle="", label=scale)
        for i, scale in enumerate(scales)
    ]
    if frontier:
        handles.append(plt.Line2D([], [], color="0.35", linestyle="--", label="Pareto frontier"))
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()


def flops_divergence(results: pd.DataFrame, scales: list[str]) -> plt.Figure:
    """Exact count over the paper's formula, per student: training, and inference per query
    (averaged over benchmarks). Below 1 the paper's formula overcounts this architecture."""
    palette = recipe_palette(results["recipe"].unique())
    students = results.groupby(["scale", "recipe"], sort=False).agg(
        params=("params", "first"),
        training=("train_flops_exact", "first"),
        training_paper=("train_flops_paper", "first"),
        inference=("inference_flops_exact", "mean"),
        inference_paper=("inference_flops_paper", "mean"),
    ).reset_index()
    fig, axes = _panel_grid(2)
    for ax, kind in zip(axes, ("training", "inference")):
        table = students.assign(ratio=students[kind] / students[f"{kind}_paper"])
        for recipe, group in table.groupby("recipe"):
            ax.plot(group["params"], group["ratio"], color=palette[recipe], linewidth=1, zorder=0)
        _scatter_by_recipe(ax, table.rename(columns={"ratio": "accuracy"}), "params", scales, palette)
        _log_x(ax, "parameters", accuracy_axis=False)
        ax.axhline(1.0, color="0.35", linestyle="--", linewidth=1)
        ax.set(ylabel="exact / paper FLOPs", title=f"{kind} FLOPs")
    _legend(fig, palette, scales, frontier=False)
    return fig
