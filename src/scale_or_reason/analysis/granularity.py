"""Trace granularity: how much of the trace does a student need?

A study may train, at some scales (`granularity.scales`), reasoning students on coarser traces
than the teacher's full one (`granularity.levels`): `key` keeps only the decisions that determine
the answer, `answer` keeps an empty think block (`recipes.GRANULARITIES`). The recipes are
`reasoning-key` and `reasoning-answer`; the full trace is the plain `reasoning` recipe. This
module sets them side by side: accuracy in distribution and off it (the mean over the family's
transfer sets), against training FLOPs, and the smallest granularity within `TOLERANCE` of the
best one's accuracy.
"""

from __future__ import annotations

import pandas as pd

from ..config.families import IN_DISTRIBUTION, in_distribution_benchmarks
from ..config.recipes import GRANULARITIES, granularity_recipe

# Coarsest first: "the smallest supervision that keeps the structure of the solution".
GRANULARITY_OF_RECIPE = {granularity_recipe(level): level for level in reversed(GRANULARITIES)}
TOLERANCE = 0.02  # accuracy points within which a coarser trace counts as good as the best


def granularity_table(
    results: pd.DataFrame, variants: dict[str, tuple[str, str]], scales: list[str]
) -> pd.DataFrame:
    """Per family × scale × granularity (at the given scales): accuracy on the family's
    in-distribution benchmark, mean accuracy over its transfer sets, training FLOPs and mean
    generated tokens."""
    rows = results[results["recipe"].isin(GRANULARITY_OF_RECIPE) & results["scale"].isin(scales)]
    rows = rows.assign(
        granularity=rows["recipe"].map(GRANULARITY_OF_RECIPE),
        family=rows["benchmark"].map(lambda b: variants[b][0]),
    )
    home_benchmarks = in_distribution_benchmarks(variants).values()
    transfer_sets = [b for b, (_, variant) in variants.items() if variant != IN_DISTRIBUTION]
    keys = ["family", "scale", "params", "granularity"]
    home = (
        rows[rows["benchmark"].isin(home_benchmarks)]
        .groupby(keys, as_index=False)
        .agg(
            accuracy=("accuracy", "mean"),
            train_flops=("train_flops", "first"),
            gen_tokens_mean=("gen_tokens_mean", "mean"),
        )
    )
    away = (
        rows[rows["benchmark"].isin(transfer_sets)]
        .groupby(keys, as_index=False)
        .agg(transfer_accuracy=("accuracy", "mean"))
    )
    table = home.merge(away, on=keys, how="left")
    rank = {g: i for i, g in enumerate(GRANULARITY_OF_RECIPE.values())}
    return table.sort_values(
        ["family", "params", "granularity"], key=lambda c: c.map(rank) if c.name == "granularity" else c
    ).reset_index(drop=True)


def study_granularity(study, results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The granularity table of a study (`params.StudyParams`) and its smallest-sufficient
    summary; None when the study trains no coarser traces."""
    if not study.granularity.levels:
        return None
    table = granularity_table(results, study.benchmark_variants(), study.granularity.scales)
    return table, smallest_sufficient(table)


def smallest_sufficient(table: pd.DataFrame, tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Per family × scale: the best granularity's accuracy and the coarsest granularity within
    `tolerance` of it, with its share of the full trace's training FLOPs."""
    rank = {g: i for i, g in enumerate(GRANULARITY_OF_RECIPE.values())}
    rows = []
    for (family, scale), group in table.groupby(["family", "scale"], sort=False):
        best = group["accuracy"].max()
        enough = group[group["accuracy"] >= best - tolerance - 1e-9]
        chosen = enough.loc[enough["granularity"].map(rank).idxmin()]
        full = group[group["granularity"] == "full"]
        rows.append(
            {
                "family": family,
                "scale": scale,
                "best_accuracy": best,
                "smallest_sufficient": chosen["granularity"],
                "its_accuracy": chosen["accuracy"],
                "its_transfer_accuracy": chosen["transfer_accuracy"],
                "share_of_full_train_flops": chosen["train_flops"] / full["train_flops"].iloc[0]
                if len(full)
                else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def granularity_headline(sufficient: pd.DataFrame, tolerance: float = TOLERANCE) -> list[str]:
    if sufficient.empty:
        return []
    counts = sufficient["smallest_sufficient"].value_counts()
    parts = ", ".join(f"{g} in {counts.get(g, 0)}" for g in GRANULARITY_OF_RECIPE.values())
    return [
        f"Smallest trace granularity within {tolerance * 100:.0f} points of the best, over {len(sufficient)} "
        f"family × scale cells: {parts}."
    ]
