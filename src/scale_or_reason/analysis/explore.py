"""The explorer behind `notebooks/00_explore.ipynb`: any finished study, any benchmark, any cost.

    explorer = explore.Explorer()          # dropdowns over runs/*: study, benchmark, cost, seeds
    display(explorer.widget)
    explore.student_table(explore.study_results("embedded"), "math_oe", "train", "paper", "mean")

A study is finished when its folder holds `results.csv` (one row per run and benchmark) and the
`study.yaml` its runner saved. Every accuracy comes with its 95% interval: for the mean over seeds,
the analysis's bootstrap over items with a t-scaled seed term (`tables/accuracy.csv`), else the
Wilson interval of the items (`interval` says which). On a family's own benchmark, reasoning
against IFT at each size: the difference, its interval and P(reasoning > IFT). The frontier is
the Pareto frontier of the students shown, on the cost chosen.
Shown are the ladder's students (formats, curricula, trace granularities); the data-selection
picks of a data-efficiency study have their own figures (07).
Nothing here writes a file.
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display
from scipy.stats import binomtest

from .. import units
from ..config import paths
from ..config.params import load_study
from . import plots, uncertainty
from .pareto import pareto_mask
from .results import seed_means

AXES = ("train", "inference")
COUNTS = ("paper", "exact")
MEAN = "mean"  # aggregate: the mean over seeds; otherwise one seed's number
PUBLISHED_COUNT = {"train": "estimated", "inference": "power_law"}  # a reported study's costs
SHOWN = [
    "scale",
    "recipe",
    "params",
    "cost",
    "count",
    "accuracy",
    "low",
    "high",
    "interval",
    "seeds",
    "on_frontier",
]
PUBLISHED = "none (published)"


def finished_studies(runs_dir: str | Path | None = None) -> list[str]:
    """Studies under the runs folder with results and the parameters they ran with."""
    runs = Path(runs_dir) if runs_dir else paths.runs_dir()
    found = [f.parent.name for f in runs.glob("*/results.csv") if (f.parent / "study.yaml").is_file()]
    return sorted(found)


def study_folder(name: str, runs_dir: str | Path | None = None) -> Path:
    return (Path(runs_dir) if runs_dir else paths.runs_dir()) / name


def study_results(name: str, runs_dir: str | Path | None = None) -> pd.DataFrame:
    """A study's results; a reported study's benchmarks named with their corpus (general-math_oe)."""
    results = pd.read_csv(study_folder(name, runs_dir) / "results.csv")
    if "corpus" in results:
        results = results.assign(benchmark=results["corpus"] + "-" + results["benchmark"])
    return results


def seeds_of(results: pd.DataFrame) -> list[int]:
    return sorted(int(seed) for seed in results["seed"].dropna().unique()) if "seed" in results else []


def cost_column(results: pd.DataFrame, axis: str, count: str) -> tuple[str, str]:
    """The column of the cost and the count it holds: `count`'s, or for a reported study (whose
    costs were never counted here) the published estimate."""
    if axis not in AXES or count not in COUNTS:
        raise ValueError(f"cost axis one of {AXES} and count one of {COUNTS}, not {axis!r}, {count!r}")
    if f"{axis}_flops_{count}" in results:
        return f"{axis}_flops_{count}", count
    return f"{axis}_flops", PUBLISHED_COUNT[axis]


def bootstrap_intervals(name: str, runs_dir: str | Path | None = None) -> pd.DataFrame | None:
    """The analysis's per-student intervals (`tables/accuracy.csv`), when its analysis has run."""
    folder = study_folder(name, runs_dir)
    study = load_study(folder / "study.yaml")
    # The folder's name is the study's fingerprint, wherever the runs folder now is.
    table = folder / units.analysis_dir(study).name / "tables" / "accuracy.csv"
    return pd.read_csv(table) if table.is_file() else None


def wilson(accuracy: float, items: int) -> tuple[float, float]:
    interval = binomtest(round(accuracy * items), items).proportion_ci(method="wilson")
    return interval.low, interval.high


def student_table(
    results: pd.DataFrame,
    benchmark: str,
    axis: str,
    count: str,
    aggregate: str | int = MEAN,
    intervals: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per student on `benchmark`: its cost (`axis` FLOPs by `count`), accuracy with its
    95% interval, and whether it is on the frontier; `aggregate` is MEAN or a seed."""
    # The ladder's students (formats, curricula, granularities); data-selection picks are 07's.
    chosen = results[(results["benchmark"] == benchmark) & results["order"].isin(plots.ORDERS)]
    if chosen.empty:
        raise ValueError(f"no results on benchmark {benchmark!r}")
    if aggregate == MEAN:
        table = seed_means(chosen) if "seed" in chosen else chosen.assign(seeds=1)
    else:
        table = chosen[chosen["seed"] == int(aggregate)].assign(seeds=1)
        if table.empty:
            raise ValueError(f"no run with seed {aggregate} (seeds: {seeds_of(results)})")
    column, counted = cost_column(table, axis, count)
    table = table.assign(cost=table[column], count=counted).dropna(subset=["cost"])
    if table.empty:
        raise ValueError(f"no {axis} FLOPs on benchmark {benchmark!r}")
    table = _with_intervals(table, intervals if aggregate == MEAN else None)
    table["on_frontier"] = pareto_mask(table["cost"], table["accuracy"])
    return table.sort_values("cost").reset_index(drop=True)


def _with_intervals(table: pd.DataFrame, intervals: pd.DataFrame | None) -> pd.DataFrame:
    """`low`, `high` and what the interval holds (`interval`): the bootstrap's where the analysis
    ran, else the Wilson interval of the items (one seed's, or all seeds' answers pooled)."""
    if "n" not in table:  # published numbers: no items, no interval
        return table.assign(low=float("nan"), high=float("nan"), interval=PUBLISHED)
    if intervals is not None:
        columns = ["scale", "recipe", "benchmark", "low", "high"]
        bounds = intervals[columns + (["interval"] if "interval" in intervals else [])]
        merged = table.merge(bounds, on=["scale", "recipe", "benchmark"], how="left")
        if merged["low"].notna().all():
            if "interval" not in merged:  # an analysis from before the intervals said so
                merged["interval"] = [uncertainty.interval_kind(k) for k in merged["seeds"]]
            return merged
    bounds = [wilson(row.accuracy, int(row.n * row.seeds)) for row in table.itertuples()]
    return table.assign(
        low=[low for low, _ in bounds], high=[high for _, high in bounds], interval=uncertainty.ITEMS_ONLY
    )


def format_comparison(name: str, benchmark: str, runs_dir: str | Path | None = None) -> pd.DataFrame:
    """Reasoning against IFT at each size on `benchmark`, when it is a family's in-distribution
    benchmark and the analysis has run: the difference with its 95% interval, P(reasoning > IFT)
    from the same replicates, what the interval holds and the verdict (`tables/differences.csv`)."""
    folder = study_folder(name, runs_dir)
    study = load_study(folder / "study.yaml")
    table = folder / units.analysis_dir(study).name / "tables" / "differences.csv"
    families = [family for family, shown in study.family_panels().items() if shown == benchmark]
    if not table.is_file() or not families:
        return pd.DataFrame()
    differences = pd.read_csv(table)
    return differences[differences["family"].isin(families)].reset_index(drop=True)


def scales_by_size(table: pd.DataFrame) -> list[str]:
    return list(table.sort_values("params")["scale"].drop_duplicates())


def student_figure(table: pd.DataFrame, title: str, axis: str) -> plt.Figure:
    """Accuracy against the cost with intervals and the frontier: the study figures' style."""
    flops = f"{axis}_flops"
    drawn = table.assign(**{flops: table["cost"], "benchmark": title})
    return plots.accuracy_vs_flops(
        drawn, {title: title}, flops, scales_by_size(table), table["count"].iloc[0]
    )


def compare_studies(
    first: tuple[str, pd.DataFrame], second: tuple[str, pd.DataFrame], benchmark: str, axis: str, count: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """Two studies' students on one benchmark and one cost, a panel each, their tables stacked."""
    tables = [
        student_table(results, benchmark, axis, count).assign(study=name) for name, results in (first, second)
    ]
    table = pd.concat(tables, ignore_index=True)
    panels = {f"{name}: {benchmark}": f"{name}: {benchmark}" for name, _ in (first, second)}
    flops = f"{axis}_flops"
    drawn = table.assign(**{flops: table["cost"], "benchmark": table["study"] + f": {benchmark}"})
    figure = plots.accuracy_vs_flops(drawn, panels, flops, scales_by_size(table), table["count"].iloc[0])
    plt.close(figure)  # shown where it is displayed, not again at the end of the cell
    return figure, table[["study", *SHOWN]]


def compare_finished(
    first: str, second: str | None, benchmark: str, axis: str, count: str, runs_dir: str | Path | None = None
) -> tuple[plt.Figure, pd.DataFrame] | None:
    """`compare_studies` of two finished studies, by name; `second` None: the first other finished
    study, and None when `first` is the only one (nothing to compare it with yet)."""
    finished = finished_studies(runs_dir)
    if second is None:
        others = [name for name in finished if name != first]
        if not others:
            return None
        second = others[0]
    missing = [name for name in (first, second) if name not in finished]
    if missing:
        raise ValueError(f"{missing[0]} has not finished (finished: {', '.join(finished) or 'none'})")
    named = [(name, study_results(name, runs_dir)) for name in (first, second)]
    return compare_studies(*named, benchmark, axis, count)


class Explorer:
    """Dropdowns over the finished studies; each change redraws the figure and the table. It opens
    on `study` and `benchmark` where those finished (else the first of each), at `axis` and
    `count`. The last table and figure stay on `table` and `figure` (what the tests read)."""

    def __init__(
        self,
        runs_dir: str | Path | None = None,
        study: str | None = None,
        benchmark: str | None = None,
        axis: str = AXES[0],
        count: str = COUNTS[0],
    ):
        self.runs_dir = runs_dir
        studies = finished_studies(runs_dir)
        if not studies:
            where = runs_dir or paths.runs_dir()
            raise ValueError(f"no finished study under {where} (run `make study` first)")
        self.preferred_benchmark = benchmark
        self.study = widgets.Dropdown(options=studies, description="study")
        self.study.value = study if study in studies else studies[0]
        self.benchmark = widgets.Dropdown(description="benchmark")
        self.axis = widgets.ToggleButtons(options=AXES, value=axis, description="cost")
        self.count = widgets.ToggleButtons(options=COUNTS, value=count, description="count")
        self.aggregate = widgets.Dropdown(description="seeds")
        self.output = widgets.Output()
        self.table: pd.DataFrame | None = None
        self._refilling = False
        self.figure: plt.Figure | None = None
        self.study.observe(self._study_changed, names="value")
        for control in (self.benchmark, self.axis, self.count, self.aggregate):
            control.observe(self._redraw, names="value")
        controls = [self.study, self.benchmark, self.axis, self.count, self.aggregate]
        self.widget = widgets.VBox([widgets.HBox(controls[:2]), widgets.HBox(controls[2:]), self.output])
        self._study_changed()

    def _study_changed(self, _change=None) -> None:
        self.results = study_results(self.study.value, self.runs_dir)
        self.intervals = bootstrap_intervals(self.study.value, self.runs_dir)
        seeds = seeds_of(self.results)
        self._refilling = True  # one redraw, once both lists are refilled
        self.benchmark.options = list(dict.fromkeys(self.results["benchmark"]))
        self.aggregate.options = [("mean over seeds", MEAN)] + [(f"seed {s}", s) for s in seeds]
        benchmarks = self.benchmark.options
        preferred = self.preferred_benchmark if self.preferred_benchmark in benchmarks else benchmarks[0]
        self.benchmark.value, self.aggregate.value = preferred, MEAN
        self._refilling = False
        self._redraw()

    def _redraw(self, _change=None) -> None:
        if self._refilling or self.benchmark.value is None:
            return
        choice = (self.benchmark.value, self.axis.value, self.count.value)
        self.table = student_table(self.results, *choice, self.aggregate.value, self.intervals)
        if self.figure is not None:
            plt.close(self.figure)
        self.figure = student_figure(self.table, self.benchmark.value, self.axis.value)
        self.output.clear_output(wait=True)
        comparison = format_comparison(self.study.value, self.benchmark.value, self.runs_dir)
        with self.output:
            display(self.figure)
            display(self.table[SHOWN].round(3))
            if self.aggregate.value == MEAN and not comparison.empty:
                display(comparison.round(3))
        plt.close(self.figure)  # shown once, in the output, not again at the cell's end
