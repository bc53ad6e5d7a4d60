"""How much a student's accuracy depends on its seed: train chosen students on several seeds and
print each cell's seed-to-seed standard deviation, to search for training settings that cut it.

    .venv/bin/python benchmarks/seed_noise.py parameters/embedded.yaml \\
        --cells s:ift m:reasoning l:reasoning xl:ift --seeds 0 1 2 3 \\
        --set training.decay_ratio=0.5 --jobs 2

Each (cell, seed) is trained and evaluated through the study's own functions
(`training.train.train_student`, `evaluation.evaluate.evaluate_student`) into the study's runs
folder (`SOR_RUNS_DIR` moves it), so finished runs are reused: with no `--set`, seeds the study
already trained are its own units, and a second call with more seeds trains only the new ones.
`--set KEY=VALUE` (dotted key, YAML value, repeatable) changes the parameters as the file would;
the changed units get folders of their own. Runs go `--jobs` at a time, one thread each (the
study's slots); the longest start first.

Prints, per cell and benchmark, every seed's accuracy, the mean and the seed SD (ddof 1), then the
median and largest seed SD, the cells above `--limit`, the best student's mean per benchmark, the
training FLOPs (exact count, summed over the runs) and the slot seconds of training. `--out FILE`
also writes the per-seed table as CSV.

Beside each seed SD, `sd_items`: the SD that the seeds' item-by-item churn alone gives a seed's
mean (the two-way seeds × items residual, `analysis.uncertainty.item_churn_sd`; about
sqrt(p(1 - p)/n) where seeds answer items independently, 0.02 at 500 items and p = 0.25), and
`sd_beyond_items`, the rest: what a seed's skill, not its luck on single items, moves. Only the
second part is for a training setting to cut; the first shrinks with more items.

`--against FILE` (an earlier `--out`, e.g. the settings as the file): per cell, whether this run's
seed SD is lower, and the sign test over the cells (`analysis.uncertainty.seed_spread_sign_test`).
With three seeds a cell's SD is a rough estimate and a lower median over a few cells is often
luck: the test says when it is not. `--compare EARLIER LATER` does the same for two saved tables
and runs nothing (`benchmarks/seed_noise_runs/` holds the tables of the embedded study's search).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from scale_or_reason import units
from scale_or_reason.analysis.results import item_outcomes
from scale_or_reason.analysis.uncertainty import item_churn_sd, seed_spread_sign_test
from scale_or_reason.config.params import load_study

CELL = ["scale", "recipe", "benchmark"]  # one student on one benchmark: where a seed SD is taken


def study_for(parameters: str, overrides: list[str], seeds: list[int]):
    return load_study(parameters, [*overrides, f"seeds={json.dumps(seeds)}"])


def train_and_evaluate(parameters: str, overrides: list[str], seeds: list[int], run: tuple) -> pd.DataFrame:
    """One run, in a worker process: trained (or found), evaluated (or found), its metrics."""
    from scale_or_reason.evaluation.evaluate import evaluate_student
    from scale_or_reason.training.train import train_student

    study = study_for(parameters, overrides, seeds)
    scale, recipe, seed = run
    trained = train_student(study, scale, recipe, seed)
    metrics = evaluate_student(study, scale, recipe, seed)
    return metrics[["benchmark", "accuracy"]].assign(
        scale=scale,
        recipe=recipe,
        seed=seed,
        train_flops=trained["train_flops_exact"],
        train_seconds=trained["train_seconds"],
    )


def cell_churn_sd(outcomes: pd.DataFrame) -> float:
    """One cell's item scores (seed, id, correct): the SD their item-by-item churn gives a seed's mean."""
    return item_churn_sd(outcomes.pivot(index="seed", columns="id", values="correct").to_numpy())


def seed_table(per_seed: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per cell and benchmark: each seed's accuracy (columns seed<n>), mean, seed SD, and that SD
    split into the item-by-seed churn (`sd_items`) and the rest (`sd_beyond_items`). `outcomes`:
    the runs' item scores (`analysis.results.item_outcomes`)."""
    wide = per_seed.pivot_table(index=CELL, columns="seed", values="accuracy")
    wide.columns = [f"seed{seed}" for seed in wide.columns]
    table = wide.assign(mean=wide.mean(axis=1), sd=wide.std(axis=1, ddof=1)).reset_index()
    churn = {key: cell_churn_sd(items) for key, items in outcomes.groupby(CELL)}
    table["sd_items"] = [churn[tuple(row)] for row in table[CELL].itertuples(index=False)]
    beyond = table["sd"] ** 2 - table["sd_items"] ** 2
    return table.assign(sd_beyond_items=np.sqrt(beyond.clip(lower=0)))


def read_table(path: str, option: str) -> pd.DataFrame:
    """A saved `--out` table, or a one-line stop naming the option, the file and what it lacks."""
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SystemExit(f"{option} {path}: {error}") from None
    missing = {"scale", "recipe", "seed", "benchmark", "accuracy"} - set(table.columns)
    if missing:
        raise SystemExit(f"{option} {path}: not a seed_noise --out table (no {', '.join(sorted(missing))})")
    return table


def against(earlier: pd.DataFrame, per_seed: pd.DataFrame, name: str, option: str) -> dict:
    """This run's seed SDs against an earlier run's on the cells and seeds both hold: printed, and
    the sign test's counts for the JSON summary."""
    runs = ["scale", "recipe", "seed"]
    both = earlier[runs].drop_duplicates().merge(per_seed[runs].drop_duplicates())

    def spread(table: pd.DataFrame) -> pd.Series:
        return table.merge(both).groupby(CELL)["accuracy"].std(ddof=1).rename("sd")

    paired = pd.concat([spread(earlier), spread(per_seed)], axis=1, keys=["earlier", "now"]).dropna()
    if paired.empty:
        raise SystemExit(f"{option} {name}: no cell with two or more seeds in common with this run")
    test = seed_spread_sign_test(paired["earlier"].to_numpy(), paired["now"].to_numpy())
    earlier_median, now_median = (round(float(paired[run].median()), 4) for run in ("earlier", "now"))
    print(
        f"against {name}: seed SD lower in {test['variant_lower']} of {test['cells']} cells "
        f"(sign test p = {test['p_value']:.2f}; median {earlier_median:.3f} -> {now_median:.3f})"
    )
    return {
        **test,
        "p_value": round(test["p_value"], 4),
        "median_sd_earlier": earlier_median,
        "median_sd_now": now_median,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parameters", nargs="?", default="parameters/embedded.yaml")
    parser.add_argument("--cells", nargs="*", help="scale:recipe students (default: every student)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=float, default=0.12, help="a seed SD above this is listed")
    parser.add_argument("--out", help="write the per-seed table here (CSV)")
    parser.add_argument("--against", help="an earlier --out CSV: is this run's seed SD lower, cell by cell?")
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("EARLIER", "LATER"),
        help="two saved --out tables compared; nothing runs",
    )
    args = parser.parse_args(argv)
    if args.compare:
        earlier, later = (read_table(path, "--compare") for path in args.compare)
        print(json.dumps(against(earlier, later, args.compare[0], "--compare")))
        return
    os.environ["HF_HUB_OFFLINE"] = "1"
    earlier = (
        read_table(args.against, "--against") if args.against else None
    )  # a bad file stops it before any run
    if args.out:  # its folder made now, not after the runs
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    study = study_for(args.parameters, args.overrides, args.seeds)
    cells = [tuple(cell.split(":", 1)) for cell in args.cells] if args.cells else units.students(study)
    for scale, recipe in cells:
        units.check_student(study, scale, recipe)
    from scale_or_reason.data.generation import generate_data

    generate_data(study)
    runs = sorted(
        ((scale, recipe, seed) for scale, recipe in cells for seed in args.seeds),
        key=lambda run: -units.relative_cost(study, run[0], run[1]),
    )
    start = time.perf_counter()
    # SIGTERM becomes SystemExit, so that leaving the pool's block terminates its workers too (they
    # used to finish the run they were on, slowing whatever the machine did next).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    context = multiprocessing.get_context("spawn")  # a fresh interpreter per slot, as the runner's kernels
    with context.Pool(args.jobs) as pool:  # leaving the block terminates the workers, done or not
        pending = [
            pool.apply_async(train_and_evaluate, (args.parameters, args.overrides, args.seeds, run))
            for run in runs
        ]
        per_seed = pd.concat([result.get() for result in pending], ignore_index=True)
        # Done: the workers exit on their own and clean up (terminated, they leak a semaphore that
        # the resource tracker then warns of).
        pool.close()
        pool.join()
    wall = time.perf_counter() - start
    outcomes = item_outcomes(study).merge(per_seed[["scale", "recipe", "seed"]].drop_duplicates())
    table = seed_table(per_seed, outcomes)
    if args.out:
        per_seed.to_csv(args.out, index=False)
    print(f"\n{study.study} {' '.join(args.overrides) or '(as the file)'}; seeds {args.seeds}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    noisy = table[table["sd"] > args.limit]
    runs_once = per_seed.drop_duplicates(["scale", "recipe", "seed"])
    summary = {
        "cells": len(table),
        "median_sd": round(float(table["sd"].median()), 4),
        "max_sd": round(float(table["sd"].max()), 4),
        "median_sd_items": round(float(table["sd_items"].median()), 4),
        "median_sd_beyond_items": round(float(table["sd_beyond_items"].median()), 4),
        f"cells_above_{args.limit}": len(noisy),
        "best_mean": table.groupby("benchmark")["mean"].max().round(3).to_dict(),
        "train_flops": float(runs_once["train_flops"].sum()),
        "train_slot_seconds": round(float(runs_once["train_seconds"].sum())),
        "wall_seconds": round(wall),
    }
    if args.against:
        summary["against"] = against(earlier, per_seed, args.against, "--against")
    print(json.dumps(summary), file=sys.stdout)


if __name__ == "__main__":
    main()
