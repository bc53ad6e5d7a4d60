"""The paper's arguments, computed from the tidy table: fitted curves, frontier verdicts, the
curriculum table and the headline sentences of `summary.md`. Pure functions of DataFrames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config.recipes import FORMATS
from .pareto import SaturatingFit, fit_saturating, mark_frontiers
from .results import in_distribution, pure

MIN_POINTS_TO_FIT = 3
# A curriculum's share of the reasoning gain is only defined where that gain is at least this
# large: about one standard error of an accuracy on 100 items. Below it the share is noise.
MIN_REASONING_GAIN = 0.05
FIT_COLUMNS = ["family", "recipe", "flops", "alpha", "beta", "gamma", "delta", "mae", "points"]


# --- fits ------------------------------------------------------------------------------------


def format_fits(results: pd.DataFrame, panels: dict[str, str], flops: str, ceiling: float) -> pd.DataFrame:
    """One saturating fit of accuracy against `flops` per family and pure format."""
    rows = []
    for (family, recipe), group in pure(in_distribution(results, panels)).groupby(["family", "recipe"]):
        if len(group) < MIN_POINTS_TO_FIT:
            continue
        fit = fit_saturating(group[flops], group["accuracy"], ceiling)
        mae = float(np.abs(fit(group[flops]) - group["accuracy"]).mean())
        rows.append(
            {
                "family": family,
                "recipe": recipe,
                "flops": flops,
                **fit._asdict(),
                "mae": mae,
                "points": len(group),
            }
        )
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def fit_of(fits: pd.DataFrame, family: str, recipe: str, flops: str) -> SaturatingFit | None:
    match = fits[(fits["family"] == family) & (fits["recipe"] == recipe) & (fits["flops"] == flops)]
    if match.empty:
        return None
    return SaturatingFit(*match.iloc[0][["alpha", "beta", "gamma", "delta"]].astype(float))


# --- frontier verdicts -----------------------------------------------------------------------


def with_frontiers(results: pd.DataFrame) -> pd.DataFrame:
    """Mark, per benchmark, the runs on the training and on the inference frontier (all runs)."""
    frontiers = {"on_train_frontier": "train_flops", "on_inference_frontier": "inference_flops"}
    return mark_frontiers(results, "benchmark", frontiers)


def verdict_table(results: pd.DataFrame, panels: dict[str, str], fits: pd.DataFrame) -> pd.DataFrame:
    """For each family and reasoning student: on the frontiers? Which IFT student matches its
    accuracy, at what multiple of its training and inference FLOPs (and what the IFT fit says)."""
    table = with_frontiers(in_distribution(results, panels))
    rows = []
    for family, group in table.groupby("family", sort=False):
        ift = group[group["recipe"] == "ift"].sort_values("train_flops")
        ift_fit = fit_of(fits, family, "ift", "train_flops")
        for _, student in group[group["recipe"] == "reasoning"].iterrows():
            match = ift[ift["accuracy"] >= student["accuracy"]].head(1)
            fit_flops = ift_fit.flops_for(student["accuracy"]) if ift_fit else np.nan
            rows.append(
                {
                    "family": family,
                    "scale": student["scale"],
                    "params": student["params"],
                    "accuracy": student["accuracy"],
                    "on_train_frontier": bool(student["on_train_frontier"]),
                    "on_inference_frontier": bool(student["on_inference_frontier"]),
                    "matching_ift": match["scale"].iloc[0] if len(match) else None,
                    "ift_accuracy": match["accuracy"].iloc[0] if len(match) else np.nan,
                    "ift_train_flops_multiple": match["train_flops"].iloc[0] / student["train_flops"]
                    if len(match)
                    else np.nan,
                    "ift_inference_flops_multiple": match["inference_flops"].iloc[0]
                    / student["inference_flops"]
                    if len(match)
                    else np.nan,
                    "ift_fit_train_flops_multiple": fit_flops / student["train_flops"],
                }
            )
    return pd.DataFrame(rows)


# --- curricula -------------------------------------------------------------------------------


def curriculum_table(results: pd.DataFrame, panels: dict[str, str]) -> pd.DataFrame:
    """Per family and curriculum student: its gain over pure IFT of the same scale, the share of
    the pure-reasoning gain it captures, and its training FLOPs as a share of pure reasoning's."""
    table = in_distribution(results, panels)
    rows = []
    for (family, scale), group in table.groupby(["family", "scale"], sort=False):
        by_recipe = group.set_index("recipe")
        if not set(FORMATS) <= set(by_recipe.index):
            continue
        ift, reasoning = by_recipe.loc["ift"], by_recipe.loc["reasoning"]
        reasoning_gain = reasoning["accuracy"] - ift["accuracy"]
        for recipe, student in by_recipe.iterrows():
            gain = student["accuracy"] - ift["accuracy"]
            rows.append(
                {
                    "family": family,
                    "scale": scale,
                    "recipe": recipe,
                    "order": student["order"],
                    "reasoning_share": student["reasoning_share"],
                    "accuracy": student["accuracy"],
                    "gain_over_ift": gain,
                    "reasoning_gain": reasoning_gain,
                    "share_of_reasoning_gain": gain / reasoning_gain
                    if reasoning_gain >= MIN_REASONING_GAIN
                    else np.nan,
                    "share_of_reasoning_train_flops": student["train_flops"] / reasoning["train_flops"],
                    "gen_tokens_mean": student["gen_tokens_mean"],
                    "train_flops": student["train_flops"],
                }
            )
    return pd.DataFrame(rows)


# --- headline numbers ------------------------------------------------------------------------


def cells_won_by_reasoning(results: pd.DataFrame, panels: dict[str, str]) -> tuple[int, int]:
    """(family × scale cells where reasoning beats IFT at equal size, cells with both)."""
    table = pure(in_distribution(results, panels)).pivot_table(
        index=["family", "scale"], columns="recipe", values="accuracy"
    )
    table = table.dropna()
    return int((table["reasoning"] > table["ift"]).sum()), len(table)


def cells_on_frontier(
    results: pd.DataFrame, panels: dict[str, str], recipe: str, frontier: str
) -> tuple[int, int]:
    """(cells whose `recipe` student is on the frontier, cells with such a student)."""
    table = with_frontiers(in_distribution(results, panels))
    students = table[table["recipe"] == recipe]
    return int(students[frontier].sum()), len(students)


def length_ratios(results: pd.DataFrame) -> pd.Series:
    """Mean reasoning answer length over mean IFT answer length, per benchmark and scale."""
    lengths = pure(results).pivot_table(
        index=["benchmark", "scale"], columns="recipe", values="gen_tokens_mean"
    )
    return (lengths["reasoning"] / lengths["ift"]).dropna()
