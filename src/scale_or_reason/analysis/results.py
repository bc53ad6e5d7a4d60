"""The study's tidy table: one row per run (student and seed) and benchmark, from the units' own
records; its mean over seeds, one row per student and benchmark, for the tables and figures that
place students; and every item's outcome, for the bootstrap (`uncertainty.py`).

`train_flops` and `inference_flops` are the count the analysis plots (`analysis.flops`: `paper`,
the default that reproduces the paper's axes, or `exact`); both counts are kept beside them.
`train_flops_estimated` marks students trained elsewhere, whose training FLOPs are estimated
from the parameters' `estimates`. `order` is the recipe's kind (`config.recipes.Recipe.kind`:
ift, reasoning, sequential, mixed, …), named as in tables written before the kind had its own name.
"""

from __future__ import annotations

import pandas as pd

from .. import units
from ..config.params import StudyParams
from ..config.recipes import FORMATS, parse_recipe
from ..core import files, flops
from ..core.model_configs import student_architecture

COLUMNS = [
    "scale",
    "params",
    "recipe",
    "seed",
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
    "train_flops_estimated",
]


# Measures of a run that differ between seeds; the rest of a row is the student's (its data, its size).
PER_SEED = [
    "accuracy",
    "gen_tokens_mean",
    "inference_flops",
    "inference_flops_paper",
    "inference_flops_exact",
    "prompt_tokens_mean",
    "train_seconds",
    "mfu",
    "hit_cap",
    "no_answer",
]


def estimated_training(study: StudyParams, scale: str, recipe: str) -> dict:
    """What a student trained elsewhere cost, as a training unit records it: one epoch of
    `estimates.samples` sequences at the estimated mean length, its FLOPs both ways."""
    arch, estimates = student_architecture(study, scale), study.estimates
    length = round(estimates.prompt_tokens + getattr(estimates, f"{recipe}_tokens"))
    paper, exact = flops.corpus_training_flops(arch, estimates.samples, length)
    return {
        "params": flops.parameter_counts(arch)["total"],
        "train_tokens": estimates.samples * length,
        "train_flops_paper": float(paper),
        "train_flops_exact": float(exact),
        "rows": estimates.samples,
        "steps": float("nan"),
        "train_seconds": float("nan"),
        "mfu": float("nan"),
    }


def student_rows(study: StudyParams, run: units.Run) -> pd.DataFrame:
    scale, recipe, seed = run
    estimated = units.trained_source(study, scale, recipe) is not None
    training = (
        estimated_training(study, scale, recipe)
        if estimated
        else files.read_json(units.train_dir(study, *run) / "train_metrics.json")
    )
    metrics = pd.read_csv(units.eval_dir(study, *run) / "metrics.csv")
    count = study.analysis.flops  # which count is the x-axis: the paper's formula or the exact one
    parsed = parse_recipe(recipe)
    return metrics.assign(
        scale=scale,
        recipe=recipe,
        seed=seed,
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
        train_flops_estimated=estimated,
    )


def collect_results(study: StudyParams) -> pd.DataFrame:
    """Every finished evaluation of the study; students not evaluated yet are left out."""
    tables = [student_rows(study, run) for run in units.evaluated_runs(study)]
    if not tables:
        raise FileNotFoundError(f"no finished evaluation in {units.study_dir(study)}")
    results = pd.concat(tables, ignore_index=True)[COLUMNS]
    scale_order = {name: i for i, name in enumerate(study.students.scales)}
    return results.sort_values(
        ["benchmark", "recipe", "scale", "seed"], key=lambda c: c.map(scale_order) if c.name == "scale" else c
    ).reset_index(drop=True)


def seed_means(results: pd.DataFrame) -> pd.DataFrame:
    """One row per student and benchmark: the mean over its seeds of every measure that differs
    between them (`PER_SEED`), the rest as it is, and `seeds`, how many were averaged."""
    keys = [column for column in results.columns if column not in (*PER_SEED, "seed")]
    means = results.groupby(keys, sort=False, dropna=False).agg(
        **{column: (column, "mean") for column in PER_SEED}, seeds=("seed", "nunique")
    )
    return means.reset_index()[[c for c in results.columns if c != "seed"] + ["seeds"]]


def item_outcomes(study: StudyParams) -> pd.DataFrame:
    """Every evaluated run's score on every item: scale, recipe, seed, benchmark, id, correct and
    the item's inference FLOPs (the count the figures use)."""
    count = study.analysis.flops
    tables = []
    for run in units.evaluated_runs(study):
        folder = units.eval_dir(study, *run)
        for benchmark in study.benchmarks:
            samples = files.read_jsonl_table(folder / "samples" / f"{benchmark.name}.jsonl")
            tables.append(
                pd.DataFrame(
                    {
                        **run._asdict(),
                        "benchmark": benchmark.name,
                        "id": samples["id"].astype(str),
                        "correct": samples["correct"].astype(float),
                        "inference_flops": samples[f"inference_flops_{count}"].astype(float),
                    }
                )
            )
    return pd.concat(tables, ignore_index=True)


def in_distribution(results: pd.DataFrame, panels: dict[str, str]) -> pd.DataFrame:
    """The rows of each family's in-distribution benchmark (`StudyParams.family_panels`)."""
    return results[results["benchmark"].isin(panels.values())]


def pure(results: pd.DataFrame) -> pd.DataFrame:
    """The rows of the two pure formats, IFT and reasoning."""
    return results[results["recipe"].isin(FORMATS)]
