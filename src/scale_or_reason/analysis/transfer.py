"""Transfer: does a student keep its accuracy off the training distribution?

Each family's in-distribution benchmark (variant `test`) is compared with its transfer sets, one
per kind of change:

| variant     | kind of transfer | what changes                                    |
|-------------|------------------|-------------------------------------------------|
| `rephrased` | prompt style     | templates never used in training                |
| `harder`    | difficulty       | more digits, longer lists than trained          |
| `related`   | task             | a related operation never trained on            |

The gap is in-distribution accuracy minus transfer accuracy (positive: the student loses accuracy
off distribution). A small gap is only good news when there was accuracy to lose: a student at
zero everywhere has no gap at all, so the tables keep the share retained beside the gap and the
headlines count the cells where both formats score nothing on the transfer set.
"""

from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from ..config.families import in_distribution_benchmarks
from ..config.recipes import FORMATS

TRANSFER_KINDS = {"rephrased": "prompt style", "harder": "difficulty", "related": "task"}
STUDENT_COLUMNS = ("scale", "params", "recipe", "order")
FAMILY_SCALE_KIND = ("family", "scale", "params", "kind", "benchmark")
FAMILY_SCALE = ("family", "scale", "params")


def _rows_of(results: pd.DataFrame, benchmarks: dict[str, tuple[str, str]]) -> pd.DataFrame:
    students = [c for c in STUDENT_COLUMNS if c in results.columns]
    rows = results.loc[results["benchmark"].isin(benchmarks), [*students, "benchmark", "accuracy"]]
    return rows.assign(family=rows["benchmark"].map(lambda b: benchmarks[b][0]))


def transfer_gaps(results: pd.DataFrame, variants: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """One row per student × transfer set: its family's in-distribution accuracy, the transfer
    accuracy, the gap (in-distribution minus transfer) and the share retained (transfer over
    in-distribution; missing when in-distribution is 0).

    `results` is the tidy table of `runs/<study>/results.csv`; `variants` maps each benchmark to
    (family, variant) (`StudyParams.benchmark_variants`). Families without an in-distribution benchmark, and
    students evaluated on only one side, are left out.
    """
    home = in_distribution_benchmarks(variants)
    transfer_sets = {b: fv for b, fv in variants.items() if fv[1] in TRANSFER_KINDS and fv[0] in home}
    inside = _rows_of(results, {b: variants[b] for b in home.values()}).rename(
        columns={"benchmark": "in_distribution_benchmark", "accuracy": "in_distribution"}
    )
    outside = _rows_of(results, transfer_sets)
    outside = outside.assign(kind=outside["benchmark"].map(lambda b: transfer_sets[b][1]))
    keys = ["family", *[c for c in STUDENT_COLUMNS if c in results.columns]]
    table = inside.merge(outside, on=keys, how="inner")
    table = table.assign(
        transfer=table["kind"].map(TRANSFER_KINDS),
        gap=table["in_distribution"] - table["accuracy"],
        retained=table["accuracy"] / table["in_distribution"].where(table["in_distribution"] > 0),
    )
    return _sorted(table, list(home), list(variants))


def _sorted(table: pd.DataFrame, families: list[str], benchmarks: list[str]) -> pd.DataFrame:
    """Families and transfer sets in the study's order, students from small to large."""
    rank = {"family": families.index, "benchmark": benchmarks.index, "kind": list(TRANSFER_KINDS).index}
    columns = ["family", "kind", "benchmark", "params", "recipe"]
    ordered = table.sort_values(columns, key=lambda c: c.map(rank[c.name]) if c.name in rank else c)
    return ordered.reset_index(drop=True)


def compare_gaps(table: pd.DataFrame, by: tuple[str, ...] = FAMILY_SCALE_KIND) -> pd.DataFrame:
    """Whether reasoning's transfer gap is smaller than IFT's, per group of `by`.

    By default per family × scale × transfer set; `by=FAMILY_SCALE` averages each format's gaps
    over a family's transfer sets first. Columns: both formats' mean gap, mean transfer accuracy,
    `reasoning_smaller` (strictly smaller gap) and `both_at_zero` (neither format scores on any
    transfer set of the group: the gaps then only restate in-distribution accuracy).
    """
    pure = table[table["recipe"].isin(FORMATS)]
    wide = pure.pivot_table(
        index=list(by), columns="recipe", values=["gap", "accuracy"], aggfunc="mean", sort=False
    )
    both = pd.MultiIndex.from_product([["gap", "accuracy"], FORMATS])
    wide = wide.reindex(columns=both).dropna()  # a comparison needs both formats
    comparison = pd.DataFrame(
        {
            "ift_gap": wide[("gap", "ift")],
            "reasoning_gap": wide[("gap", "reasoning")],
            "ift_accuracy": wide[("accuracy", "ift")],
            "reasoning_accuracy": wide[("accuracy", "reasoning")],
        }
    )
    comparison["reasoning_smaller"] = comparison["reasoning_gap"] < comparison["ift_gap"]
    comparison["both_at_zero"] = (comparison["ift_accuracy"] == 0) & (comparison["reasoning_accuracy"] == 0)
    return comparison.reset_index()


def transfer_headlines(table: pd.DataFrame) -> list[str]:
    """One sentence per kind of transfer: in how many cells reasoning loses less than IFT."""
    comparison = compare_gaps(table)
    lines = []
    for kind, label in TRANSFER_KINDS.items():
        cells = comparison[comparison["kind"] == kind]
        if cells.empty:
            continue
        floor = int(cells["both_at_zero"].sum())
        note = (
            f" In {floor} of them both formats score 0 off distribution, where the drop only restates "
            "in-distribution accuracy."
            if floor
            else ""
        )
        lines.append(
            f"Transfer of {label} ({kind}): reasoning's accuracy drop from in-distribution is smaller than "
            f"IFT's in {int(cells['reasoning_smaller'].sum())} of {len(cells)} transfer set × scale cells "
            f"(median drop: IFT {cells['ift_gap'].median():.2f}, "
            f"reasoning {cells['reasoning_gap'].median():.2f})." + note
        )
    return lines


def _number(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:.2f}"


def _cell(rows: pd.DataFrame) -> str:
    """'accuracy (drop)' of each transfer set in the cell; several sets of one kind joined by ';'."""
    return "; ".join(f"{_number(r.accuracy)} ({_number(r.gap)})" for r in rows.itertuples()) or "—"


def transfer_markdown(table: pd.DataFrame, recipes: tuple[str, ...] = FORMATS) -> str:
    """The summary's table: one row per family × scale × recipe, the in-distribution accuracy,
    then per kind of transfer 'accuracy (drop)'. Empty when the study has no transfer sets."""
    table = table[table["recipe"].isin(recipes)]
    if table.empty:
        return ""
    kinds = [kind for kind in TRANSFER_KINDS if kind in set(table["kind"])]
    headers = ["family", "scale", "recipe", "in-distribution", *[f"{TRANSFER_KINDS[k]} ({k})" for k in kinds]]
    rows = []
    for (family, scale, recipe), student in table.groupby(["family", "scale", "recipe"], sort=False):
        cells = [_cell(student[student["kind"] == kind]) for kind in kinds]
        rows.append([family, scale, recipe, _number(student["in_distribution"].iloc[0]), *cells])
    legend = "Each transfer cell: accuracy (drop from in-distribution; negative: better off distribution)."
    return legend + "\n\n" + tabulate(rows, headers, tablefmt="github", disable_numparse=True)
