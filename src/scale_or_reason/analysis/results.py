"""The study's tidy table: one row per (student, benchmark), from the units' own records.

`train_flops` and `inference_flops` are the count the analysis plots (`analysis.flops`: `paper`,
the default that reproduces the paper's axes, or `exact`); both counts are kept beside them.
`order` is the recipe's kind (`config.recipes.Recipe.kind`: ift, reasoning, sequential, mixed, …),
named as in tables written before the kind had its own name.
"""

from __future__ import annotations

import pandas as pd

from .. import units
from ..config.params import StudyParams
from ..config.recipes import FORMATS, parse_recipe
from ..core import files

COLUMNS = [
    "scale",
    "params",
    "recipe",
    "order",
    "reasoning_share",
    "family",
    "benchmark",
    "accuracy",
    "n",
    "train_tokens",
    "train_flops",
    "gen_tokens_mean",
    "inference_flops",
    "train_flops_paper",
    "train_flops_exact",
    "inference_flops_paper",
    "inference_flops_exact",
    "prompt_tokens_mean",
    "train_samples",
    "train_steps",
    "train_seconds",
    "mfu",
    "hit_cap",
    "no_answer",
]


def student_rows(study: StudyParams, scale: str, recipe: str) -> pd.DataFrame:
    training = files.read_json(units.train_dir(study, scale, recipe) / "train_metrics.json")
    metrics = pd.read_csv(units.eval_dir(study, scale, recipe) / "metrics.csv")
    count = study.analysis.flops  # which count is the x-axis: the paper's formula or the exact one
    parsed = parse_recipe(recipe)
    return metrics.assign(
        scale=scale,
        recipe=recipe,
        order=parsed.kind,
        reasoning_share=parsed.reasoning_share,
        params=training["params"],
        train_tokens=training["train_tokens"],
        train_flops_paper=training["train_flops_paper"],
        train_flops_exact=training["train_flops_exact"],
        train_flops=training[f"train_flops_{count}"],
        inference_flops=metrics[f"inference_flops_{count}"],
        mfu=training["mfu"],
        train_samples=training["rows"],
        train_steps=training["steps"],
        train_seconds=training["train_seconds"],
    )


def collect_results(study: StudyParams) -> pd.DataFrame:
    """Every finished evaluation of the study; students not evaluated yet are left out."""
    tables = [student_rows(study, scale, recipe) for scale, recipe in units.evaluated_students(study)]
    if not tables:
        raise FileNotFoundError(f"no finished evaluation in {units.study_dir(study)}")
    results = pd.concat(tables, ignore_index=True)[COLUMNS]
    scale_order = {name: i for i, name in enumerate(study.students.scales)}
    return results.sort_values(
        ["benchmark", "recipe", "scale"], key=lambda c: c.map(scale_order) if c.name == "scale" else c
    ).reset_index(drop=True)


def in_distribution(results: pd.DataFrame, panels: dict[str, str]) -> pd.DataFrame:
    """The rows of each family's in-distribution benchmark (`StudyParams.family_panels`)."""
    return results[results["benchmark"].isin(panels.values())]


def pure(results: pd.DataFrame) -> pd.DataFrame:
    """The rows of the two pure formats, IFT and reasoning."""
    return results[results["recipe"].isin(FORMATS)]
