"""Analyses of the saved generations: answer length of failures and successes, and accuracy when
generation is cut at percentiles of answer length (the paper's early-stopping experiment).

Both read the per-sample records that evaluation keeps (`samples/<benchmark>.jsonl`) and write
small tables, so the figures redraw in seconds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from transformers import AutoConfig

from .. import units
from ..config.params import StudyParams
from ..core import files, flops
from ..core.answers import is_correct
from ..core.hub import load_tokenizer

CUT_PERCENTILES = (25, 50, 75, 100)


def student_samples(study: StudyParams, scale: str, recipe: str) -> pd.DataFrame:
    folder = units.eval_dir(study, scale, recipe)
    tables = [
        files.read_jsonl_table(folder / "samples" / f"{b.name}.jsonl").assign(
            benchmark=b.name, family=b.family
        )
        for b in study.benchmarks
    ]
    return pd.concat(tables, ignore_index=True).assign(scale=scale, recipe=recipe)


def lengths_by_outcome(study: StudyParams) -> pd.DataFrame:
    """Mean generated tokens of correct and of wrong answers, per student and benchmark."""
    samples = pd.concat([student_samples(study, *student) for student in units.evaluated_students(study)])
    return (
        samples.groupby(["scale", "recipe", "benchmark", "family", "correct"], sort=False)
        .agg(gen_tokens_mean=("gen_tokens", "mean"), n=("gen_tokens", "size"))
        .reset_index()
    )


def truncate(response: str, tokenizer, budget: int) -> str:
    """The response as it would read had generation stopped after `budget` tokens."""
    ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    return response if len(ids) < budget else tokenizer.decode(ids[:budget])


def truncation_table(study: StudyParams, percentiles=CUT_PERCENTILES) -> pd.DataFrame:
    """Accuracy and inference FLOPs of every reasoning student when its generations are cut at
    percentiles of its own answer lengths on each benchmark (100 = not cut)."""
    tokenizer = load_tokenizer(units.data_dir(study) / "tokenizer")
    rows = []
    for scale, recipe in units.evaluated_students(study):
        if recipe != "reasoning":
            continue
        arch = flops.architecture(
            AutoConfig.from_pretrained(str(units.train_dir(study, scale, recipe) / "model"))
        )
        samples = student_samples(study, scale, recipe)
        for benchmark, group in samples.groupby("benchmark", sort=False):
            for percentile in percentiles:
                budget = math.ceil(np.percentile(group["gen_tokens"], percentile))
                kept = [min(g, budget) for g in group["gen_tokens"]]
                correct = [
                    is_correct(truncate(r, tokenizer, budget), a)
                    for r, a in zip(group["response"], group["answer"], strict=True)
                ]
                rows.append(
                    {
                        "scale": scale,
                        "recipe": recipe,
                        "benchmark": benchmark,
                        "family": group["family"].iloc[0],
                        "percentile": percentile,
                        "budget_tokens": budget,
                        "accuracy": float(np.mean(correct)),
                        "gen_tokens_mean": float(np.mean(kept)),
                        "inference_flops_paper": float(
                            np.mean(
                                [
                                    flops.inference_flops(arch, p, g)
                                    for p, g in zip(group["prompt_tokens"], kept, strict=True)
                                ]
                            )
                        ),
                        "inference_flops_exact": float(
                            np.mean(
                                [
                                    flops.exact_inference_flops(arch, p, g)
                                    for p, g in zip(group["prompt_tokens"], kept, strict=True)
                                ]
                            )
                        ),
                    }
                )
    return pd.DataFrame(rows)
