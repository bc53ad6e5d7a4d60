"""Analyses of the saved generations: answer length of failures and successes, and accuracy when
generation is cut at percentiles of answer length (the paper's early-stopping experiment).

Both read the per-sample records that evaluation keeps (`samples/<benchmark>.jsonl`) and write
small tables, so the figures redraw in seconds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import units
from ..config.params import StudyParams
from ..core import files, flops
from ..core.answers import is_correct
from ..core.hub import load_tokenizer
from ..core.model_configs import load_config

CUT_PERCENTILES = (25, 50, 75, 100)


def run_samples(study: StudyParams, run: units.Run) -> pd.DataFrame:
    """Every saved generation of one evaluated run, on every benchmark."""
    folder = units.eval_dir(study, *run)
    tables = [
        files.read_jsonl_table(folder / "samples" / f"{b.name}.jsonl").assign(
            benchmark=b.name, family=b.family_or_group
        )
        for b in study.benchmarks
    ]
    return pd.concat(tables, ignore_index=True).assign(**run._asdict())


def lengths_by_outcome(study: StudyParams) -> pd.DataFrame:
    """Mean generated tokens of correct and of wrong answers, per student and benchmark (every
    seed's answers pooled). A graded score (a task's metric, ROUGE) counts as correct from 0.5."""
    samples = pd.concat([run_samples(study, run) for run in units.evaluated_runs(study)])
    samples["correct"] = samples["correct"].astype(float) >= 0.5
    return (
        samples.groupby(["scale", "recipe", "benchmark", "family", "correct"], sort=False)
        .agg(gen_tokens_mean=("gen_tokens", "mean"), n=("gen_tokens", "size"))
        .reset_index()
    )


def truncate(response: str, tokenizer, budget: int, ids: list[int] | None = None) -> str:
    """The response as it would read had generation stopped after `budget` tokens (`ids`: its
    tokens, when already known)."""
    ids = tokenizer(response, add_special_tokens=False)["input_ids"] if ids is None else ids
    return response if len(ids) < budget else tokenizer.decode(ids[:budget])


def truncation_table(study: StudyParams, percentiles=CUT_PERCENTILES) -> pd.DataFrame:
    """Accuracy and inference FLOPs of every reasoning student when its generations are cut at
    percentiles of its own answer lengths on each benchmark (100 = not cut), mean over its seeds."""
    rows = []
    for run in units.evaluated_runs(study):
        if run.recipe == "reasoning":
            rows += _truncated_run(study, run, percentiles)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    keys = ["scale", "recipe", "benchmark", "family", "percentile"]
    return table.drop(columns="seed").groupby(keys, sort=False).mean().reset_index()


def _truncated_run(study: StudyParams, run: units.Run, percentiles) -> list[dict]:
    model = units.model_source(study, *run)  # its own tokenizer: pretrained students bring theirs
    tokenizer = load_tokenizer(model, trust_remote_code=study.trust_remote_code)
    arch = flops.architecture(load_config(model))
    samples = run_samples(study, run)
    # A task of the study's own is scored by lm-eval's metric, which a cut answer cannot be re-run through.
    samples = samples[~samples["benchmark"].isin([b.name for b in study.benchmarks if b.is_task])]
    rows = []
    for benchmark, group in samples.groupby("benchmark", sort=False):
        tokens = tokenizer(list(group["response"]), add_special_tokens=False)["input_ids"]
        for percentile in percentiles:
            budget = math.ceil(np.percentile(group["gen_tokens"], percentile))
            kept = [min(g, budget) for g in group["gen_tokens"]]
            answers = zip(group["response"], tokens, group["answer"], strict=True)
            correct = [is_correct(truncate(r, tokenizer, budget, ids), a) for r, ids, a in answers]
            prompts = list(zip(group["prompt_tokens"], kept, strict=True))
            rows.append(
                {
                    **run._asdict(),
                    "benchmark": benchmark,
                    "family": group["family"].iloc[0],
                    "percentile": percentile,
                    "budget_tokens": budget,
                    "accuracy": float(np.mean(correct)),
                    "gen_tokens_mean": float(np.mean(kept)),
                    "inference_flops_paper": float(
                        np.mean([flops.inference_flops(arch, *p) for p in prompts])
                    ),
                    "inference_flops_exact": float(
                        np.mean([flops.exact_inference_flops(arch, *p) for p in prompts])
                    ),
                }
            )
    return rows
