"""How sure each accuracy is: a bootstrap over items with a t-scaled seed term, and what follows.

Every accuracy is an estimate with two sources of noise: which items the benchmark drew and which
training run (seed) produced the student. A replicate has two parts:

- items: the benchmark's items drawn with replacement, once for all students (paired, so that a
  difference between two students on the same items keeps its correlation), and each student's
  mean over its seeds on them. This counts the item noise, the per-item seed-to-seed noise
  included.
- seeds: a normal draw whose variance is itself drawn as the seeds allow, s²/(K·W) with s² the
  variance of the K seed means and W ~ χ²(K − 1)/(K − 1) (a generalised pivotal quantity: with the
  variance fixed, a Student-t draw with K − 1 degrees of freedom), net of the item-by-seed noise
  that the item part already counts (a two-way seeds × items decomposition; `SeedTerms`). Three
  seeds estimate a variance poorly: resampling them with replacement gave ten possible seed sets,
  (K − 1)/K of the variance and "95%" intervals that covered about three times in four; t with 2
  degrees of freedom is 4.30, not 1.96. The same draw moves a student's accuracy and inference
  FLOPs, as its seeds move them together. A student with one seed has no seed term: its interval
  is the items' only (`INTERVAL_KINDS`).

Proved by simulation (`simulation.py`, `tests/test_coverage.py`, `benchmarks/coverage.py`):
nominal 95% covers 92-98% of synthetic studies with known truth, for accuracies, differences and
reruns, but where three seeds cannot see a skewed seed spread (low accuracy, large seed SD).
From the replicates:

- a 95% percentile interval on every accuracy, beside the seed-to-seed standard deviation, and
  the 95% prediction interval of a rerun's seed mean on the same items (no item term, the seed
  term of both runs: t with K − 1 degrees of freedom);
- the difference reasoning minus IFT at equal size, with its interval, a verdict that says
  "within noise" when the interval holds zero, and the probability of improvement P(reasoning >
  IFT) (rliable's, ties counted half);
- for each student and cost axis, the probability of being on the Pareto frontier
  (`pareto.frontier_probability`).

Input is one row per student, seed, benchmark and item (`results.item_outcomes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from ..config.recipes import FORMATS
from .pareto import SaturatingFit, fit_band, frontier_probability

REPLICATES = 2000
# Where the seed term takes out the item-by-seed noise that the item part already holds: this share
# before the χ² draw, the rest after it (see `SeedTerms`). Measured on the simulated grid
# (`benchmarks/coverage.py`, 500-1,000 studies a setting): all after (the pure pivotal quantity)
# covered 98-99% where seeds do not matter, all before 91-92% where they matter a little, 0.7 before
# 92-98% everywhere but at low accuracy with a large, skewed seed spread.
NOISE_BEFORE_DRAW = 0.7
CONFIDENCE = 0.95
STUDENT = ["scale", "recipe"]
WITHIN_NOISE = "within noise"
SEEDS_AND_ITEMS, ITEMS_ONLY = "seeds and items", "items only"
INTERVAL_KINDS = (SEEDS_AND_ITEMS, ITEMS_ONLY)


def interval_kind(seeds: int) -> str:
    """What a student's interval holds: both noises, or (one seed) the items' only."""
    return SEEDS_AND_ITEMS if seeds > 1 else ITEMS_ONLY


def percentile_interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The `CONFIDENCE` percentile interval over the replicates (the first axis)."""
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    return low, high


def prediction_interval(mean, sd_seeds, seeds, rerun_seeds=None) -> tuple[np.ndarray, np.ndarray]:
    """The `CONFIDENCE` interval of a rerun's seed mean on the same items (`rerun_seeds` seeds, the
    study's own count by default): mean ± t(K − 1) · sd · √(1/K + 1/K'). No item term (both runs
    answer the same items); `sd_seeds` (ddof 1) holds the per-item seed noise, as a rerun does.
    NaN where a student has one seed (nothing says how much a rerun moves), clipped to [0, 1]."""
    mean, sd, seeds = (np.asarray(v, dtype=float) for v in (mean, sd_seeds, seeds))
    rerun = seeds if rerun_seeds is None else np.asarray(rerun_seeds, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = stats.t.ppf(0.5 + CONFIDENCE / 2, np.where(seeds > 1, seeds - 1, np.nan))
        half = quantile * sd * np.sqrt(1 / seeds + 1 / rerun)
    return np.clip(mean - half, 0, 1), np.clip(mean + half, 0, 1)


@dataclass(frozen=True)
class SeedTerms:
    """The seed part of one quantity's replicates (accuracy, or inference FLOPs per item).

    `normal`: replicates × students of normal draws with each student's s²/K, the variance of its
    seed mean estimated from its K seeds; `scale`: replicates × students of W ~ χ²(K − 1)/(K − 1)
    (shared by a student's quantities, so that its accuracy and cost move with one seed draw);
    `spread`: per student, s²/K; `noise`: per student, MS_residual/(nK), the part of s²/K that is
    each seed's item-by-item noise, known well from n items and already in the item part. The
    seed term draws the seed mean's variance that K seeds allow, s²/(KW) (a generalised pivotal
    quantity with K − 1 degrees of freedom), net of that noise (`NOISE_BEFORE_DRAW` of it taken
    out before the draw, the rest after), and is a normal draw of that variance. Zero for a
    student with one seed."""

    normal: np.ndarray
    scale: np.ndarray
    spread: np.ndarray
    noise: np.ndarray

    def of(self, index: int) -> np.ndarray:
        """replicates: one student's seed term."""
        return self.combined([index], [1.0])

    def combined(self, indices: list[int], signs: list[float]) -> np.ndarray:
        """replicates: the seed term of Σ signᵢ · studentᵢ, its students' χ² draws pooled as
        Satterthwaite and Welch do, W = Σ vᵢWᵢ / Σ vᵢ (vᵢ = s²ᵢ/Kᵢ)."""
        spread = self.spread[indices]
        total = spread.sum()
        if total <= 0:
            return np.zeros(self.normal.shape[0])
        normal = self.normal[:, indices] @ np.asarray(signs, dtype=float)
        pooled = self.scale[:, indices] @ spread / total
        noise = self.noise[indices].sum() / total
        drawn = (1 - NOISE_BEFORE_DRAW * noise) / pooled - (1 - NOISE_BEFORE_DRAW) * noise
        return normal * np.sqrt(np.maximum(0.0, drawn))


@dataclass(frozen=True)
class Replicates:
    """One benchmark's bootstrap: per student (rows of `students`), the estimate, its replicates
    and its inference FLOPs per item, all in the students' order. A replicate is its item part
    (`item_accuracy`, `item_inference_flops`: the seed mean on the replicate's resampled items,
    shared by all students) plus its seed term (`accuracy_seeds`, `inference_flops_seeds`)."""

    benchmark: str
    students: pd.DataFrame  # scale, recipe
    accuracy: np.ndarray  # students: mean over seeds of the accuracy on every item
    inference_flops: np.ndarray  # students
    item_accuracy: np.ndarray  # replicates × students
    item_inference_flops: np.ndarray  # replicates × students
    accuracy_seeds: SeedTerms
    inference_flops_seeds: SeedTerms
    seed_sd: np.ndarray  # students: standard deviation of the per-seed accuracies (nan with one seed)
    seeds: np.ndarray  # students: how many seeds
    items: int

    @cached_property
    def accuracy_samples(self) -> np.ndarray:
        """replicates × students of each student's accuracy, in [0, 1]."""
        terms = [self.accuracy_seeds.of(i) for i in range(len(self.students))]
        return np.clip(self.item_accuracy + np.column_stack(terms), 0.0, 1.0)

    @cached_property
    def inference_flops_samples(self) -> np.ndarray:
        """replicates × students of the inference FLOPs per item, drawn with the accuracy's seeds."""
        terms = [self.inference_flops_seeds.of(i) for i in range(len(self.students))]
        return np.maximum(self.item_inference_flops + np.column_stack(terms), 0.0)

    def difference(self, a: int, b: int) -> np.ndarray:
        """replicates of student a's accuracy minus b's: the paired item parts' difference plus one
        seed term for both, their χ² draws pooled (Welch–Satterthwaite). The difference of the two
        students' own t draws (Fisher's Behrens–Fisher) covered 98-99% where 95% was asked."""
        items = self.item_accuracy[:, a] - self.item_accuracy[:, b]
        return np.clip(items + self.accuracy_seeds.combined([a, b], [1.0, -1.0]), -1.0, 1.0)

    def interval(self, values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        return percentile_interval(self.accuracy_samples if values is None else values)

    def column(self, scale: str, recipe: str) -> int | None:
        match = self.students.index[(self.students["scale"] == scale) & (self.students["recipe"] == recipe)]
        return int(match[0]) if len(match) else None


def _tensor(outcomes: pd.DataFrame, values: list[str], students: pd.DataFrame, items: list) -> np.ndarray:
    """values × students × seeds × items (nan where a student has fewer seeds than the most)."""
    student = pd.MultiIndex.from_frame(students).get_indexer(pd.MultiIndex.from_frame(outcomes[STUDENT]))
    seed = outcomes.groupby(STUDENT, sort=False)["seed"].rank(method="dense").to_numpy(dtype=int) - 1
    item = pd.Index(items).get_indexer(outcomes["id"])
    tensor = np.full((len(values), len(students), seed.max() + 1, len(items)), np.nan)
    tensor[:, student, seed, item] = outcomes[values].to_numpy(dtype=float).T
    return tensor


def _item_weights(rng: np.random.Generator, replicates: int, items: int) -> np.ndarray:
    """replicates × items: how often each item is drawn in each replicate (n draws with replacement)."""
    draws = rng.integers(0, items, size=(replicates, items)) + items * np.arange(replicates)[:, None]
    return np.bincount(draws.ravel(), minlength=replicates * items).reshape(replicates, items)


def item_by_seed_noise(values: np.ndarray) -> float:
    """MS_residual/(nK) of one student's seeds × items `values` (two-way decomposition): the
    variance that each seed's item-by-item noise adds to the seed mean, which both the item
    resampling and the seed means' spread s²/K hold."""
    seeds, items = values.shape
    if seeds < 2 or items < 2:
        return 0.0
    residual = (
        values - values.mean(axis=1, keepdims=True) - values.mean(axis=0, keepdims=True) + values.mean()
    )
    return float((residual**2).sum() / ((seeds - 1) * (items - 1)) / (items * seeds))


def item_churn_sd(values: np.ndarray) -> float:
    """The SD that item-by-item churn alone gives one seed's mean, from a student's seeds × items
    `values`: the root of MS_residual/n (K times `item_by_seed_noise`). Seeds that differ in skill
    spread their means beyond it; seeds that answer items independently at the same skill spread
    them by about sqrt(p(1 - p)/n), which more items, not better training, shrinks."""
    return float(np.sqrt(values.shape[0] * item_by_seed_noise(values)))


def seed_spread_sign_test(base_sd: np.ndarray, variant_sd: np.ndarray) -> dict:
    """Whether a training variant's seed SDs are lower than the base's beyond chance, cell by cell
    (the same cells, the same seeds): with three seeds one cell's SD is itself a rough estimate, so
    a lower median over a few cells says little. Counts the cells where the variant is lower, drops
    exact ties, and gives the two-sided sign test's p-value (no difference: each cell a coin)."""
    base_sd, variant_sd = np.asarray(base_sd, float), np.asarray(variant_sd, float)
    untied = base_sd != variant_sd
    lower = int((variant_sd < base_sd)[untied].sum())
    compared = int(untied.sum())
    p_value = float(stats.binomtest(lower, compared).pvalue) if compared else 1.0
    return {"cells": compared, "variant_lower": lower, "p_value": p_value}


def seed_draws(per_seed: list[np.ndarray], noise: list[np.ndarray], seeds: np.ndarray, replicates: int, rng):
    """Each quantity's `SeedTerms` from its students × seeds means (`per_seed`, nan beyond a
    student's seeds) and item-by-seed noise: the normal draw Σₖ gₖ·(xₖ − x̄) / √(K(K − 1)), of
    variance s²/K, and W. One g and W per student and replicate serve every quantity."""
    students, most = per_seed[0].shape
    normal = rng.standard_normal((replicates, students, most))
    freedom = np.maximum(seeds - 1, 1).astype(float)
    scale = np.where(seeds > 1, rng.chisquare(freedom, size=(replicates, students)) / freedom, 1.0)
    norm = np.sqrt(np.where(seeds > 1, seeds * (seeds - 1), np.inf))
    terms = []
    for values, quantity_noise in zip(per_seed, noise, strict=True):
        deviations = np.nan_to_num(values - np.nanmean(values, axis=1, keepdims=True))
        spread = (deviations**2).sum(axis=1) / np.maximum(seeds - 1, 1) / seeds
        draws = np.einsum("rsk,sk->rs", normal, deviations) / norm
        terms.append(SeedTerms(draws, scale, np.where(seeds > 1, spread, 0.0), quantity_noise))
    return terms


def bootstrap(outcomes: pd.DataFrame, replicates: int = REPLICATES, seed: int = 0) -> Replicates:
    """The bootstrap of one benchmark. `outcomes`: scale, recipe, seed, id, correct (0/1 or a graded
    score in [0, 1]) and inference_flops, one row per student, seed and item; every run answers the
    same items. A missing score or cost is refused, naming the student."""
    if outcomes["benchmark"].nunique() != 1:
        raise ValueError("bootstrap one benchmark at a time")
    benchmark = outcomes["benchmark"].iloc[0]
    missing = outcomes[outcomes[["correct", "inference_flops"]].isna().any(axis=1)]
    if len(missing):
        row = missing.iloc[0]
        column = "correct" if pd.isna(row["correct"]) else "inference_flops"
        raise ValueError(
            f"{benchmark}: {row['scale']}-{row['recipe']} seed {row['seed']} has no {column} for "
            f"{len(missing)} item(s) (first: {row['id']})"
        )
    students = outcomes[STUDENT].drop_duplicates().reset_index(drop=True)
    items = sorted(outcomes["id"].unique())
    seeds = (
        outcomes.groupby(STUDENT, sort=False)["seed"]
        .nunique()
        .reindex(pd.MultiIndex.from_frame(students))
        .to_numpy()
    )
    if (outcomes.groupby([*STUDENT, "seed"]).size() != len(items)).any():
        raise ValueError(f"every run must answer the same {len(items)} items of {benchmark}")
    tensors = _tensor(outcomes, ["correct", "inference_flops"], students, items)
    rng = np.random.default_rng([seed, *benchmark.encode()])  # a stream per benchmark
    draws = _item_weights(rng, replicates, len(items)).T.astype(float)  # items × replicates (BLAS)
    # Sums of whole counts first, so that all-right stays exactly 1.
    item_parts = [((np.nan_to_num(v) @ draws) / len(items)).sum(axis=1).T / seeds for v in tensors]
    per_seed = [values.mean(axis=2) for values in tensors]  # students × seeds (nan beyond a student's)
    noise = [
        np.array([item_by_seed_noise(v[:k]) for v, k in zip(values, seeds, strict=True)])
        for values in tensors
    ]
    accuracy_seeds, flops_seeds = seed_draws(per_seed, noise, seeds, replicates, rng)
    spread = [np.std(row[:n], ddof=1) if n > 1 else np.nan for row, n in zip(per_seed[0], seeds, strict=True)]
    return Replicates(
        benchmark=benchmark,
        students=students,
        accuracy=np.nanmean(per_seed[0], axis=1),
        inference_flops=np.nanmean(per_seed[1], axis=1),
        item_accuracy=item_parts[0],
        item_inference_flops=item_parts[1],
        accuracy_seeds=accuracy_seeds,
        inference_flops_seeds=flops_seeds,
        seed_sd=np.array(spread),
        seeds=seeds,
        items=len(items),
    )


def bootstrap_study(
    outcomes: pd.DataFrame, replicates: int = REPLICATES, seed: int = 0
) -> dict[str, Replicates]:
    """Every benchmark's bootstrap; each draws from a stream of its own (seeded by `seed` and its
    name), so adding a benchmark changes no other's intervals."""
    return {
        benchmark: bootstrap(rows, replicates, seed)
        for benchmark, rows in outcomes.groupby("benchmark", sort=False)
    }


# --- tables --------------------------------------------------------------------------------------


def accuracy_table(replicates: dict[str, Replicates]) -> pd.DataFrame:
    """One row per student and benchmark: the seed mean, its 95% interval (`interval` says whether
    it holds seeds and items or, with one seed, the items only), the seed-to-seed standard
    deviation, the numbers of seeds and items, and the 95% prediction interval of a rerun's seed
    mean on the same items with as many seeds (`rerun_low`, `rerun_high`; empty with one seed)."""
    tables = []
    for benchmark, reps in replicates.items():
        low, high = reps.interval()
        rerun_low, rerun_high = prediction_interval(reps.accuracy, reps.seed_sd, reps.seeds)
        tables.append(
            reps.students.assign(
                benchmark=benchmark,
                mean=reps.accuracy,
                low=low,
                high=high,
                sd_seeds=reps.seed_sd,
                seeds=reps.seeds,
                n=reps.items,
                interval=[interval_kind(k) for k in reps.seeds],
                rerun_low=rerun_low,
                rerun_high=rerun_high,
            )
        )
    return pd.concat(tables, ignore_index=True)


def verdict(low: float, high: float, better: str, worse: str) -> str:
    """Which side an interval of `better − worse` supports, or that it holds zero."""
    if low > 0:
        return better
    if high < 0:
        return worse
    return WITHIN_NOISE


def probability_of_improvement(differences: np.ndarray) -> float:
    """P(a > b) from replicates of a − b, ties counted half (rliable's probability of improvement,
    here of one student over another on the same items)."""
    return float(np.mean(differences > 0) + 0.5 * np.mean(differences == 0))


DIFFERENCE_COLUMNS = ["family", "scale", "difference", "low", "high", "p_improvement", "interval", "verdict"]


def format_differences(replicates: dict[str, Replicates], panels: dict[str, str]) -> pd.DataFrame:
    """Per family (its in-distribution benchmark) and scale with both formats: reasoning minus IFT,
    its 95% interval, P(reasoning > IFT) from the same replicates, what the interval holds (seeds
    and items, or items only when either student has one seed) and which format it supports."""
    ift, reasoning = FORMATS
    rows = []
    for family, benchmark in panels.items():
        if benchmark not in replicates:
            continue
        reps = replicates[benchmark]
        for scale in reps.students["scale"].unique():
            a, b = reps.column(scale, reasoning), reps.column(scale, ift)
            if a is None or b is None:
                continue
            samples = reps.difference(a, b)
            low, high = reps.interval(samples)
            rows.append(
                {
                    "family": family,
                    "scale": scale,
                    "difference": reps.accuracy[a] - reps.accuracy[b],
                    "low": low,
                    "high": high,
                    "p_improvement": probability_of_improvement(samples),
                    "interval": interval_kind(min(reps.seeds[a], reps.seeds[b])),
                    "verdict": verdict(low, high, reasoning, ift),
                }
            )
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def gains_over_ift(replicates: dict[str, Replicates], panels: dict[str, str]) -> pd.DataFrame:
    """Per family (its in-distribution benchmark) and every student with an IFT student of its
    size: its accuracy minus that IFT student's, with the 95% interval of the difference (the
    curricula's gains; the pure reasoning student's is `format_differences`'s difference)."""
    rows = []
    for family, benchmark in panels.items():
        reps = replicates.get(benchmark)
        if reps is None:
            continue
        for student in reps.students.itertuples():
            ift = reps.column(student.scale, FORMATS[0])
            if ift is None:
                continue
            samples = reps.difference(student.Index, ift)
            low, high = reps.interval(samples)
            gain = reps.accuracy[student.Index] - reps.accuracy[ift]
            rows.append(
                {
                    "family": family,
                    "scale": student.scale,
                    "recipe": student.recipe,
                    "gain": gain,
                    "gain_low": low,
                    "gain_high": high,
                }
            )
    return pd.DataFrame(rows, columns=["family", "scale", "recipe", "gain", "gain_low", "gain_high"])


def with_gain_intervals(
    curricula: pd.DataFrame, gains: pd.DataFrame, accuracy: pd.DataFrame, panels: dict[str, str]
) -> pd.DataFrame:
    """The curriculum table (one row per family and student) with the 95% interval of each
    student's accuracy on the family's in-distribution benchmark (`low`, `high`) and of its gain
    over IFT (`gain_low`, `gain_high`)."""
    family_of = {benchmark: family for family, benchmark in panels.items()}
    intervals = accuracy[accuracy["benchmark"].isin(family_of)]
    intervals = intervals.assign(family=intervals["benchmark"].map(family_of))[
        ["family", *STUDENT, "low", "high"]
    ]
    keys = ["family", *STUDENT]
    table = curricula.merge(intervals, on=keys, how="left")
    return table.merge(gains[[*keys, "gain_low", "gain_high"]], on=keys, how="left")


def frontier_table(replicates: dict[str, Replicates], train_flops: pd.DataFrame) -> pd.DataFrame:
    """Per benchmark and student, the probability of being on the training and on the inference
    frontier. `train_flops`: scale, recipe, train_flops (fixed per student: its data and length).
    A student without a training cost is refused, naming it and the benchmark."""
    tables = []
    for benchmark, reps in replicates.items():
        costs = reps.students.merge(train_flops, on=STUDENT, how="left")["train_flops"].to_numpy(dtype=float)
        if np.isnan(costs).any():
            student = reps.students.iloc[int(np.argmax(np.isnan(costs)))]
            raise ValueError(f"{benchmark}: {student['scale']}-{student['recipe']} has no train_flops")
        tables.append(
            reps.students.assign(
                benchmark=benchmark,
                p_train_frontier=frontier_probability(costs, reps.accuracy_samples),
                p_inference_frontier=frontier_probability(
                    reps.inference_flops_samples, reps.accuracy_samples
                ),
            )
        )
    return pd.concat(tables, ignore_index=True)


# --- what the intervals allow ----------------------------------------------------------------------

LIKELY = 0.9  # a student "on the frontier" in the summary's words: in at least this share of replicates


def verdict_counts(differences: pd.DataFrame) -> dict[str, int]:
    """How many family × scale cells each verdict of `format_differences` has (all three named)."""
    counts = differences["verdict"].value_counts()
    return {name: int(counts.get(name, 0)) for name in (*reversed(FORMATS), WITHIN_NOISE)}


def likely_on_frontier(
    frontier: pd.DataFrame, panels: dict[str, str], column: str, threshold: float = LIKELY
) -> pd.DataFrame:
    """The students on each family's in-distribution frontier in at least `threshold` of the
    replicates: family, scale, recipe and the probability, most probable first within a family."""
    family_of = {benchmark: family for family, benchmark in panels.items()}
    rows = frontier[frontier["benchmark"].isin(family_of) & (frontier[column] >= threshold)]
    rows = rows.assign(family=rows["benchmark"].map(family_of), probability=rows[column])
    order = {family: i for i, family in enumerate(panels)}
    rows = rows.sort_values(
        ["family", "probability"], key=lambda c: c.map(order) if c.name == "family" else -c
    )
    return rows[["family", "scale", "recipe", "probability"]].reset_index(drop=True)


def with_uncertainty(
    verdicts: pd.DataFrame, differences: pd.DataFrame, frontier: pd.DataFrame, panels: dict[str, str]
) -> pd.DataFrame:
    """The verdict table (one row per family and reasoning student) with the difference reasoning
    minus IFT at the student's size and its interval, and the student's frontier probabilities on
    its family's in-distribution benchmark."""
    family_of = {benchmark: family for family, benchmark in panels.items()}
    reasoning = frontier[frontier["benchmark"].isin(family_of) & (frontier["recipe"] == FORMATS[1])]
    probabilities = reasoning.assign(family=reasoning["benchmark"].map(family_of))[
        ["family", "scale", "p_train_frontier", "p_inference_frontier"]
    ]
    gains = differences.rename(columns={"low": "difference_low", "high": "difference_high"})
    table = verdicts.merge(gains, on=["family", "scale"], how="left")
    return table.merge(probabilities, on=["family", "scale"], how="left")


# --- bands on the fitted curves --------------------------------------------------------------------

BAND_REPLICATES = 100  # each a warm-started fit: enough for a 95% band's edges at a few seconds a curve
BAND_POINTS = 60


def fit_grid(flops) -> np.ndarray:
    """Where a fitted curve is drawn: a tenth of a decade beyond the points on either side."""
    low, high = np.log10(np.min(flops)), np.log10(np.max(flops))
    return np.logspace(low - 0.1, high + 0.1, BAND_POINTS)


def fit_bands(
    students: pd.DataFrame,
    fits: dict[tuple[str, str, str], SaturatingFit],
    replicates: dict[str, Replicates],
    panels: dict[str, str],
    ceiling: float,
) -> pd.DataFrame:
    """For each fitted curve ((family, recipe, FLOPs axis) → fit), its 95% band: the fit repeated
    on the first `BAND_REPLICATES` bootstrap replicates of the accuracies it was fitted to.
    One row per curve and grid point: family, recipe, flops (the axis), x, low, high."""
    tables = []
    for (family, recipe, axis), fit in fits.items():
        reps = replicates.get(panels[family])
        if reps is None:
            continue
        points = reps.students.reset_index().merge(
            students[(students["benchmark"] == panels[family])][["scale", "recipe", axis]],
            on=STUDENT,
        )
        points = points[points["recipe"] == recipe]
        x = points[axis].to_numpy(dtype=float)
        samples = reps.accuracy_samples[:BAND_REPLICATES, points["index"].to_numpy()]
        grid = fit_grid(x)
        low, high = fit_band(x, samples, fit, grid, ceiling, CONFIDENCE)
        tables.append(
            pd.DataFrame(
                {"family": family, "recipe": recipe, "flops": axis, "x": grid, "low": low, "high": high}
            )
        )
    columns = ["family", "recipe", "flops", "x", "low", "high"]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)


def with_intervals(
    students: pd.DataFrame, accuracy: pd.DataFrame, frontier: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The seed means with each accuracy's 95% interval (`low`, `high`, and what it holds,
    `interval`) and, given `frontier`, the
    student's frontier probabilities on that benchmark, for the figures."""
    keys = [*STUDENT, "benchmark"]
    bounds = [*keys, "low", "high"] + (["interval"] if "interval" in accuracy else [])
    table = students.merge(accuracy[bounds], on=keys, how="left")
    if frontier is None:
        return table
    probabilities = frontier[[*keys, "p_train_frontier", "p_inference_frontier"]]
    return table.merge(probabilities, on=keys, how="left")


# --- a rerun against the committed table -----------------------------------------------------------


def rerun_agreement(committed: pd.DataFrame, rerun: pd.DataFrame) -> pd.DataFrame:
    """Per student and benchmark in both `accuracy.csv` tables: the committed mean, the 95%
    prediction interval of a rerun's seed mean with the rerun's number of seeds (`rerun_low`,
    `rerun_high`: the same items, so no item term; the seed term of both runs), the rerun's mean
    and whether it lands inside (missing where the committed student has one seed: nothing says
    how far a rerun of it moves)."""
    keys = [*STUDENT, "benchmark"]
    table = committed[[*keys, "mean", "sd_seeds", "seeds"]].merge(
        rerun[[*keys, "mean", "seeds"]].rename(columns={"mean": "rerun_mean", "seeds": "rerun_seeds"}),
        on=keys,
        how="inner",
    )
    low, high = prediction_interval(table["mean"], table["sd_seeds"], table["seeds"], table["rerun_seeds"])
    inside = pd.Series((table["rerun_mean"] >= low) & (table["rerun_mean"] <= high), dtype="boolean")
    inside[np.isnan(low)] = pd.NA
    columns = [*keys, "mean", "rerun_low", "rerun_high", "rerun_mean", "inside"]
    return table.assign(rerun_low=low, rerun_high=high, inside=inside)[columns]


def describe_agreement(table: pd.DataFrame) -> str:
    """One line: how many rerun means land inside the committed prediction intervals."""
    judged = table["inside"].dropna()
    line = (
        f"{int(judged.sum())} of {len(judged)} rerun seed means inside the committed 95% prediction "
        f"intervals ({judged.mean():.0%})"
        if len(judged)
        else "no rerun mean could be judged"
    )
    unjudged = len(table) - len(judged)
    return line + (f"; {unjudged} students with one seed not judged" if unjudged else "")
