"""How sure each accuracy is: a bootstrap over seeds and items, and what follows from it.

Every accuracy is an estimate with two sources of noise: which items the benchmark drew and which
training run (seed) produced the student. Each bootstrap replicate resamples, per student, its
seeds (with replacement), and, shared by all students, the benchmark's items: the resampling is
paired, so a difference between two students on the same items keeps its correlation and is not
drowned in item noise both share. From the replicates:

- a 95% percentile interval on every accuracy, beside the seed-to-seed standard deviation (how
  much of the spread is training noise);
- the difference reasoning minus IFT at equal size, with its interval and a verdict that says
  "within noise" when the interval holds zero;
- for each student and cost axis, the probability of being on the Pareto frontier: the share of
  replicates in which no other student is at most as costly and at least as accurate
  (`pareto.frontier_probability`; inference FLOPs per item are resampled with the items).

Input is one row per student, seed, benchmark and item (`results.item_outcomes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config.recipes import FORMATS
from .pareto import SaturatingFit, fit_band, frontier_probability

REPLICATES = 2000
CONFIDENCE = 0.95
STUDENT = ["scale", "recipe"]
WITHIN_NOISE = "within noise"


def percentile_interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The `CONFIDENCE` percentile interval over the replicates (the first axis)."""
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    return low, high


@dataclass(frozen=True)
class Replicates:
    """One benchmark's bootstrap: per student (rows of `students`), the estimate, its replicates
    and its inference FLOPs per item, all in the students' order."""

    benchmark: str
    students: pd.DataFrame  # scale, recipe
    accuracy: np.ndarray  # students: mean over seeds of the accuracy on every item
    accuracy_samples: np.ndarray  # replicates × students
    inference_flops: np.ndarray  # students
    inference_flops_samples: np.ndarray  # replicates × students
    seed_sd: np.ndarray  # students: standard deviation of the per-seed accuracies (nan with one seed)
    seeds: np.ndarray  # students: how many seeds
    items: int

    def interval(self, values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        return percentile_interval(self.accuracy_samples if values is None else values)

    def column(self, scale: str, recipe: str) -> int | None:
        match = self.students.index[(self.students["scale"] == scale) & (self.students["recipe"] == recipe)]
        return int(match[0]) if len(match) else None


def _tensor(
    outcomes: pd.DataFrame, value: str, students: pd.DataFrame, items: list, seeds: int
) -> np.ndarray:
    """students × seeds × items of `value` (nan where a student has fewer seeds)."""
    tensor = np.full((len(students), seeds, len(items)), np.nan)
    item_index = {item: i for i, item in enumerate(items)}
    for s, (_, student) in enumerate(students.iterrows()):
        rows = outcomes[(outcomes["scale"] == student["scale"]) & (outcomes["recipe"] == student["recipe"])]
        for k, (_, run) in enumerate(rows.groupby("seed", sort=True)):
            tensor[s, k, run["id"].map(item_index).to_numpy()] = run[value].to_numpy(dtype=float)
    return tensor


def _item_weights(rng: np.random.Generator, replicates: int, items: int) -> np.ndarray:
    """replicates × items: how often each item is drawn in each replicate (n draws with replacement)."""
    draws = rng.integers(0, items, size=(replicates, items)) + items * np.arange(replicates)[:, None]
    return np.bincount(draws.ravel(), minlength=replicates * items).reshape(replicates, items)


def _seed_means(per_seed: np.ndarray, seeds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """replicates × students: the mean over each student's seeds drawn with replacement, from
    per_seed (students × seeds × replicates)."""
    students, most, replicates = per_seed.shape
    draws = np.floor(rng.random((students, most, replicates)) * seeds[:, None, None]).astype(int)
    chosen = np.take_along_axis(per_seed, draws, axis=1)
    used = np.arange(most)[None, :, None] < seeds[:, None, None]
    return (np.where(used, chosen, 0.0).sum(axis=1) / seeds[:, None]).T


def bootstrap(outcomes: pd.DataFrame, replicates: int = REPLICATES, seed: int = 0) -> Replicates:
    """The bootstrap of one benchmark. `outcomes`: scale, recipe, seed, id, correct (0/1 or a graded
    score) and inference_flops, one row per student, seed and item; every run answers the same items."""
    if outcomes["benchmark"].nunique() != 1:
        raise ValueError("bootstrap one benchmark at a time")
    students = outcomes[STUDENT].drop_duplicates().reset_index(drop=True)
    items = sorted(outcomes["id"].unique())
    seeds = (
        outcomes.groupby(STUDENT, sort=False)["seed"]
        .nunique()
        .reindex(pd.MultiIndex.from_frame(students))
        .to_numpy()
    )
    correct = _tensor(outcomes, "correct", students, items, int(seeds.max()))
    flops = _tensor(outcomes, "inference_flops", students, items, int(seeds.max()))
    benchmark = outcomes["benchmark"].iloc[0]
    if (outcomes.groupby([*STUDENT, "seed"]).size() != len(items)).any():
        raise ValueError(f"every run must answer the same {len(items)} items of {benchmark}")
    rng = np.random.default_rng([seed, *benchmark.encode()])  # a stream per benchmark
    draws = _item_weights(rng, replicates, len(items)).T  # items × replicates
    # students × seeds × replicates; sums of whole counts first, so that all-right stays exactly 1
    resampled = [(np.nan_to_num(values) @ draws) / len(items) for values in (correct, flops)]
    accuracy_samples, flops_samples = (_seed_means(values, seeds, rng) for values in resampled)
    per_seed = correct.mean(axis=2)  # students × seeds (nan for the seeds a student lacks)
    spread = [np.std(row[:n], ddof=1) if n > 1 else np.nan for row, n in zip(per_seed, seeds, strict=True)]
    return Replicates(
        benchmark=benchmark,
        students=students,
        accuracy=np.nanmean(per_seed, axis=1),
        accuracy_samples=accuracy_samples,
        inference_flops=np.nanmean(flops.mean(axis=2), axis=1),
        inference_flops_samples=flops_samples,
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
    """One row per student and benchmark: the seed mean, its 95% interval, the seed-to-seed
    standard deviation, the number of seeds and of items."""
    tables = []
    for benchmark, reps in replicates.items():
        low, high = reps.interval()
        tables.append(
            reps.students.assign(
                benchmark=benchmark,
                mean=reps.accuracy,
                low=low,
                high=high,
                sd_seeds=reps.seed_sd,
                seeds=reps.seeds,
                n=reps.items,
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


def format_differences(replicates: dict[str, Replicates], panels: dict[str, str]) -> pd.DataFrame:
    """Per family (its in-distribution benchmark) and scale with both formats: reasoning minus IFT,
    its 95% interval and which format the interval supports."""
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
            samples = reps.accuracy_samples[:, a] - reps.accuracy_samples[:, b]
            low, high = reps.interval(samples)
            rows.append(
                {
                    "family": family,
                    "scale": scale,
                    "difference": reps.accuracy[a] - reps.accuracy[b],
                    "low": low,
                    "high": high,
                    "verdict": verdict(low, high, reasoning, ift),
                }
            )
    return pd.DataFrame(rows, columns=["family", "scale", "difference", "low", "high", "verdict"])


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
            samples = reps.accuracy_samples[:, student.Index] - reps.accuracy_samples[:, ift]
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
    frontier. `train_flops`: scale, recipe, train_flops (fixed per student: its data and length)."""
    tables = []
    for benchmark, reps in replicates.items():
        costs = reps.students.merge(train_flops, on=STUDENT, how="left")["train_flops"].to_numpy(dtype=float)
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
    """The seed means with each accuracy's 95% interval (`low`, `high`) and, given `frontier`, the
    student's frontier probabilities on that benchmark, for the figures."""
    keys = [*STUDENT, "benchmark"]
    table = students.merge(accuracy[[*keys, "low", "high"]], on=keys, how="left")
    if frontier is None:
        return table
    probabilities = frontier[[*keys, "p_train_frontier", "p_inference_frontier"]]
    return table.merge(probabilities, on=keys, how="left")


# --- a rerun against the committed table -----------------------------------------------------------


def rerun_agreement(committed: pd.DataFrame, rerun: pd.DataFrame) -> pd.DataFrame:
    """Per student and benchmark in both `accuracy.csv` tables: the committed mean and 95%
    interval, the rerun's mean, and whether it lands inside the interval."""
    keys = [*STUDENT, "benchmark"]
    table = committed[[*keys, "mean", "low", "high"]].merge(
        rerun[[*keys, "mean"]].rename(columns={"mean": "rerun_mean"}), on=keys, how="inner"
    )
    return table.assign(inside=(table["rerun_mean"] >= table["low"]) & (table["rerun_mean"] <= table["high"]))
