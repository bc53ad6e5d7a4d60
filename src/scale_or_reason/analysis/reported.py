"""The paper's published numbers as a study's results (`reported:` in the parameters).

Boizard et al., "Scale or Reason? A Compute-Equivalent Analysis of Reasoning Distillation", arXiv
2509.22193 (v2), published average accuracies per family (its Table 1), the teacher's accuracy,
and power laws of inference FLOPs against size for the general corpus (Appendix I); they ship in
`paper_data/` with their provenance. Put through this toolkit's analysis, they give the paper's
figures and recount its claims. What the paper did not publish is estimated and said so:
training FLOPs follow the paper's formula (`core.flops`) for one epoch over the corpus at its mean
lengths (characters over `reported.chars_per_token`); the math corpus has no inference-FLOPs fit,
so its inference axis is not drawn. Single published runs carry no interval: no difference here
is called within noise, and none is called certain either.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import paths
from ..config.families import FAMILIES
from ..config.params import StudyParams
from ..config.recipes import FORMATS
from ..core import flops
from ..core.model_configs import student_architecture
from ..data.corpus_size import train_flops_estimate
from . import prediction, verdicts
from .markdown import markdown_table
from .pareto import pareto_mask
from .uncertainty import percentile_interval

TABLE_FILE = "table1_average_accuracy.csv"
TEACHER_FILE = "teacher_accuracy.csv"
POWER_LAWS_FILE = "inference_flops_power_laws.csv"
CITATION = (
    'Boizard et al., "Scale or Reason? A Compute-Equivalent Analysis of Reasoning Distillation", '
    "arXiv 2509.22193 (v2)"
)
TABLE_COLUMNS = ["corpus", "family", "format", "size_b", "accuracy"]
CORPUS_WITH_POWER_LAWS = "general"
# The paper's wording of where reasoning reaches the frontier: open-ended families, 7B and above.
PAPER_REASONING_FRONTIER = {"families": ("general_oe", "math_oe"), "min_size_b": 7.0}


class ReportedTableError(ValueError):
    """A published table lacks a cell or holds an impossible number."""


def size_b(scale: str) -> float:
    """A student's size in billions of parameters, from its scale name (`0.5b`, `14b`)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)b", scale)
    if not match:
        raise ReportedTableError(f"students.scales: {scale!r} is not a size in billions such as 0.5b or 14b")
    return float(match.group(1))


def read_accuracy_table(path: Path, corpora: list[str], sizes: list[float]) -> pd.DataFrame:
    """The published accuracies (percent), checked: every (corpus, family, format, size) cell the
    study needs is present once, and every accuracy lies in 0-100."""
    table = pd.read_csv(path)
    missing_columns = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing_columns:
        raise ReportedTableError(f"{path}: no column {missing_columns[0]!r}")
    outside = table[~table["accuracy"].between(0, 100)]
    if len(outside):
        row = outside.iloc[0]
        raise ReportedTableError(
            f"{path} line {outside.index[0] + 2}: accuracy {row['accuracy']} outside 0-100 "
            f"({row['corpus']}, {row['family']}, {row['format']}, {row['size_b']}B)"
        )
    keys = set(table[["corpus", "family", "format", "size_b"]].itertuples(index=False, name=None))
    for cell in itertools.product(corpora, FAMILIES, FORMATS, sizes):
        if cell not in keys:
            corpus, family, fmt, size = cell
            raise ReportedTableError(f"{path}: no row for corpus {corpus}, {family}, {fmt}, {size:g}B")
    return table


def published_accuracy(table: pd.DataFrame, corpus: str, family: str, fmt: str, size: float) -> float:
    """One cell of the published table, as a fraction (missing: nan)."""
    cell = table[
        (table["corpus"] == corpus)
        & (table["family"] == family)
        & (table["format"] == fmt)
        & (table["size_b"] == size)
    ]["accuracy"]
    return float(cell.iloc[0]) / 100 if len(cell) else np.nan


def published(name: str) -> pd.DataFrame:
    return pd.read_csv(paths.PAPER_DATA_DIR / name)


def teacher_ceilings() -> dict[str, float]:
    """The teacher's accuracy per family, as a fraction: the ceiling of the saturating fits."""
    teacher = published(TEACHER_FILE)
    return dict(zip(teacher["family"], teacher["accuracy"] / 100, strict=True))


def inference_flops_law(laws: pd.DataFrame, family: str, fmt: str, size: float) -> float:
    """FLOPs per evaluated example from the paper's power law, coefficient × N^exponent (N in B)."""
    law = laws[(laws["family"] == family) & (laws["format"] == fmt)].iloc[0]
    return float(law["coefficient"] * size ** law["exponent"])


def reported_results(study: StudyParams, corpus: str, table: pd.DataFrame) -> pd.DataFrame:
    """One row per student (size and format) and family of `corpus`, in the analysis's columns:
    accuracy as a fraction, estimated training FLOPs, inference FLOPs from the power laws (the
    general corpus only; missing otherwise)."""
    reported = study.reported
    laws = published(POWER_LAWS_FILE) if corpus == CORPUS_WITH_POWER_LAWS else None
    rows = []
    for scale in study.students.scales:
        arch, size = student_architecture(study, scale), size_b(scale)
        for fmt, family in itertools.product(FORMATS, FAMILIES):
            train = train_flops_estimate(arch, reported.corpus_sizes[corpus], fmt, reported.chars_per_token)
            inference = inference_flops_law(laws, family, fmt, size) if laws is not None else np.nan
            rows.append(
                {
                    "corpus": corpus,
                    "scale": scale,
                    "params": flops.parameter_counts(arch)["total"],
                    "recipe": fmt,
                    "order": fmt,
                    "reasoning_share": float(fmt == "reasoning"),
                    "family": family,
                    "benchmark": family,
                    "accuracy": published_accuracy(table, corpus, family, fmt, size),
                    "train_flops": train,
                    "inference_flops": inference,
                    "train_flops_estimated": True,
                    "inference_flops_source": "paper power law" if laws is not None else None,
                    "gen_tokens_mean": np.nan,
                    "seeds": 0,
                }
            )
    return pd.DataFrame(rows)


def cost_axes(results: pd.DataFrame) -> list[str]:
    """The FLOPs axes the corpus has numbers for."""
    return [axis for axis in ("train_flops", "inference_flops") if results[axis].notna().all()]


def differences(results: pd.DataFrame) -> pd.DataFrame:
    """Reasoning minus IFT at equal size, per family (points: no interval exists)."""
    wide = results.pivot_table(index=["family", "scale", "params"], columns="recipe", values="accuracy")
    table = wide.assign(difference=wide["reasoning"] - wide["ift"]).reset_index()
    return table.sort_values(["family", "params"]).reset_index(drop=True)


def frontier_gaps(results: pd.DataFrame, axis: str) -> pd.DataFrame:
    """Per student: on the frontier of `axis` (within its family), and how far below the frontier
    it sits at its own cost (0 on it): what "near the frontier" can mean in numbers."""
    rows = []
    for _, group in results.groupby("family", sort=False):
        on = pareto_mask(group[axis], group["accuracy"])
        for (_, student), is_on in zip(group.iterrows(), on, strict=True):
            reachable = group.loc[group[axis] <= student[axis], "accuracy"].max()
            rows.append(
                {
                    **student[["family", "scale", "recipe"]].to_dict(),
                    "on": bool(is_on),
                    "gap": reachable - student["accuracy"],
                }
            )
    return pd.DataFrame(rows).assign(axis=axis)


def fits(results: pd.DataFrame, ceilings: dict[str, float]) -> pd.DataFrame:
    """The saturating fit per family, format and FLOPs axis, each under its family's teacher."""
    return pd.concat(
        [
            verdicts.format_fits(results, {family: family}, axis, ceilings[family])
            for axis in cost_axes(results)
            for family in FAMILIES
        ],
        ignore_index=True,
    )


def verdict_table(results: pd.DataFrame, fitted: pd.DataFrame) -> pd.DataFrame:
    """The verdict table of `verdicts`, without the inference columns where the corpus has none."""
    panels = {family: family for family in FAMILIES}
    measured = results.fillna({"inference_flops": 1.0})  # placeholders, dropped below
    table = verdicts.verdict_table(measured, panels, fitted)
    if "inference_flops" not in cost_axes(results):
        table = table.drop(columns=["on_inference_frontier", "ift_inference_flops_multiple"])
    return table


TABLES = ("fits", "verdicts", "differences", "frontier_gaps")  # what `analyse_corpus` writes per corpus


def analyse_corpus(study: StudyParams, corpus: str, table: pd.DataFrame, ceilings: dict[str, float]) -> dict:
    """One corpus of the published table: its results, the `TABLES` and its headlines."""
    results = reported_results(study, corpus, table)
    fitted = fits(results, ceilings)
    gaps = {axis: frontier_gaps(results, axis) for axis in cost_axes(results)}
    return {
        "results": results,
        "fits": fitted,
        "verdicts": verdict_table(results, fitted),
        "differences": differences(results),
        "frontier_gaps": pd.concat(gaps.values(), ignore_index=True),
        "headlines": corpus_headlines(results, gaps),
    }


def _cells(table: pd.DataFrame) -> str:
    return ", ".join(f"{row.family} {row.scale}" for row in table.itertuples()) or "none"


def frontier_headline(gaps: pd.DataFrame, words: str) -> str:
    ift, reasoning = gaps[gaps["recipe"] == "ift"], gaps[gaps["recipe"] == "reasoning"]
    below = ift.loc[~ift["on"], "gap"] * 100
    near = (
        f"; the other IFT students sit a median {below.median():.1f} points (at most {below.max():.1f}) "
        "below the frontier at their own cost"
        if len(below)
        else ""
    )
    return (
        f"At matched {words} FLOPs, IFT is on the frontier in {int(ift['on'].sum())} of {len(ift)} "
        f"family × size cells{near}; reasoning in {int(reasoning['on'].sum())} of {len(reasoning)} "
        f"({_cells(reasoning[reasoning['on']])})."
    )


def paper_wording_headline(gaps: pd.DataFrame, words: str) -> str:
    """The paper: reasoning reaches the frontier only on open-ended tasks at 7B and above. Said
    against its own numbers: agreement, or the cells where they part."""
    on = gaps[(gaps["recipe"] == "reasoning") & gaps["on"]]
    described = on["family"].isin(PAPER_REASONING_FRONTIER["families"]) & (
        on["scale"].map(size_b) >= PAPER_REASONING_FRONTIER["min_size_b"]
    )
    outside = on[~described]
    wording = "the paper's text says reasoning reaches the frontier only on open-ended tasks at 7B and above"
    if outside.empty:
        return f"On the {words} frontier this agrees with the text: {wording}."
    return (
        f"On the {words} frontier this table and the text part ways: {wording}, while its own numbers "
        f"put reasoning on it in {len(outside)} cell(s) outside that description ({_cells(outside)})."
    )


def corpus_headlines(results: pd.DataFrame, gaps: dict[str, pd.DataFrame]) -> list[str]:
    table = differences(results)
    wins, losses = int((table["difference"] > 0).sum()), int((table["difference"] < 0).sum())
    by_scale = table.groupby("scale", sort=False)["difference"].mean()
    lines = [
        f"At equal size, reasoning beats IFT in {wins} of {len(table)} family × size cells and IFT "
        f"beats reasoning in {losses} (published single runs: no interval, so none is called within noise).",
        f"Reasoning gains most at {by_scale.idxmax()} ({by_scale.max() * 100:+.1f} points, mean over "
        "families; " + ", ".join(f"{scale} {gain * 100:+.1f}" for scale, gain in by_scale.items()) + ").",
    ]
    words = {"train_flops": "training (estimated)", "inference_flops": "inference"}
    for axis, gap in gaps.items():
        lines += [frontier_headline(gap, words[axis]), paper_wording_headline(gap, words[axis])]
    return lines


def assumptions_table(study: StudyParams) -> pd.DataFrame:
    """What the training FLOPs were estimated from, per corpus."""
    reported = study.reported
    rows = []
    for corpus in reported.corpora:
        size = reported.corpus_sizes[corpus]
        rows.append(
            {
                "corpus": corpus,
                "samples": size.samples,
                "chars_per_token": reported.chars_per_token,
                "prompt_tokens": size.prompt_chars / reported.chars_per_token,
                "ift_tokens": size.ift_chars / reported.chars_per_token,
                "reasoning_tokens": size.reasoning_chars / reported.chars_per_token,
            }
        )
    return pd.DataFrame(rows)


def accuracy_wide(results: pd.DataFrame) -> pd.DataFrame:
    wide = results.pivot_table(index=["recipe", "params", "scale"], columns="family", values="accuracy") * 100
    return wide.reset_index().sort_values(["recipe", "params"]).drop(columns="params")


def summary_markdown(study: StudyParams, corpora: dict[str, dict], predicted: dict | None = None) -> str:
    """`summary.md` of a reported study: per corpus, headlines, verdicts, fits and accuracies,
    under the source and what was estimated; then the prediction of the large students from the
    small ones where `analysis.predict` asks (`predicted`: its tables). `corpora` maps a corpus to
    its results, headlines and tables."""
    all_cells = pd.concat([differences(c["results"]) for c in corpora.values()])
    sections = [
        f"# {study.study}: the paper's published numbers, re-analysed",
        study.description,
        f"Source: {CITATION}, Table 1 (average accuracy per family), the teacher's accuracy (the fits' "
        "ceiling) and Appendix I (inference FLOPs power laws, general corpus). These are published "
        "averages of single runs, without items or seeds: no interval exists, so no difference here is "
        "called within noise, nor beyond it.",
        f"In all, reasoning beats IFT at equal size in {int((all_cells['difference'] > 0).sum())} of "
        f"{len(all_cells)} corpus × family × size cells.",
        "Training FLOPs are **estimates**: the paper's formula for one epoch over the corpus, every "
        "sequence at the mean length below (characters from the released datasets' cards over an "
        "assumed characters-per-token ratio). Inference FLOPs per example are the paper's power laws, "
        "published for the general corpus only: the math corpus has no inference axis here.",
        markdown_table(assumptions_table(study)),
    ]
    for corpus, analysed in corpora.items():
        sections += [
            f"## {corpus.capitalize()} corpus",
            "\n".join(f"- {line}" for line in analysed["headlines"]),
            "### Verdicts: each reasoning student against the IFT students",
            markdown_table(analysed["verdicts"]),
            "### Fitted curves f(x) = α + β(1 − exp(−γ·x^δ)), α + β at most the teacher's accuracy",
            markdown_table(analysed["fits"]),
            "### Accuracy (%), as published",
            markdown_table(accuracy_wide(analysed["results"]), ".1f"),
        ]
    if predicted:
        fit, predict = study.analysis.predict.fit, study.analysis.predict.predict
        sections += prediction.markdown_sections(predicted, study.analysis.predict)
        sections.insert(4, "\n".join(f"- {line}" for line in prediction.headlines(predicted, fit, predict)))
    return "\n\n".join(section for section in sections if section) + "\n"


def paper_comparison(replicates: dict, students: pd.DataFrame, corpus: str) -> pd.DataFrame:
    """Students the paper released, evaluated here, beside its Table 1 (`corpus` row): per family,
    size and format, the paper's accuracy, ours (the mean over the family's benchmarks, as the
    paper averages), the difference and our 95% interval (each replicate averaged the same way;
    benchmarks draw their items independently). `replicates` is the bootstrap per benchmark,
    `students` the seed means (scale, recipe, family, benchmark)."""
    table = published(TABLE_FILE)
    rows = []
    in_table = students[students["family"].isin(FAMILIES) & students["recipe"].isin(FORMATS)]
    for (family, scale, recipe), group in in_table.groupby(["family", "scale", "recipe"], sort=False):
        samples = np.mean(
            [
                replicates[b].accuracy_samples[:, replicates[b].column(scale, recipe)]
                for b in group["benchmark"]
            ],
            axis=0,
        )
        ours = float(group["accuracy"].mean())
        paper = published_accuracy(table, corpus, family, recipe, size_b(scale))
        low, high = percentile_interval(samples)
        rows.append(
            {
                "family": family,
                "scale": scale,
                "recipe": recipe,
                "paper": paper,
                "ours": ours,
                "difference": ours - paper,
                "low": low,
                "high": high,
                "benchmarks": len(group),
            }
        )
    return pd.DataFrame(rows)
