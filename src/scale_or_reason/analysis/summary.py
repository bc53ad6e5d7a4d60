"""`runs/<study>/summary.md`: the study's answer in the paper's terms, every number computed."""

from __future__ import annotations

import pandas as pd

from .. import units
from ..config.params import StudyParams
from ..config.recipes import CURRICULUM_KINDS
from ..core import files
from . import granularity, prediction, transfer, uncertainty, verdicts
from .headings import failed_length_ratio
from .markdown import markdown_table
from .plots import COUNT_LABELS

LIKELY = uncertainty.LIKELY


def _share(count: tuple[int, int]) -> str:
    return f"{count[0]} of {count[1]}"


def interval_words(differences: pd.DataFrame) -> str:
    """What the differences' intervals hold, in words: seeds and items, or items only."""
    kinds = set(differences["interval"]) if "interval" in differences else {uncertainty.SEEDS_AND_ITEMS}
    if kinds == {uncertainty.ITEMS_ONLY}:
        return "95% intervals over items only: one seed per student, so training noise is not counted"
    if uncertainty.ITEMS_ONLY in kinds:
        return "95% intervals over items and seeds, over items only where a student has one seed"
    return "95% intervals over items with a t-scaled seed term"


def format_headline(differences: pd.DataFrame, by_means: tuple[int, int]) -> str:
    """Reasoning against IFT at equal size, counted by what the intervals allow."""
    counts = uncertainty.verdict_counts(differences)
    return (
        f"At equal size, reasoning beats IFT in {counts['reasoning']} of {len(differences)} family × scale "
        f"cells and IFT beats reasoning in {counts['ift']}; in the other {counts[uncertainty.WITHIN_NOISE]} "
        f"the difference is within noise ({interval_words(differences)}; by the means alone, "
        f"reasoning is higher in {_share(by_means)})."
    )


def improvement_headline(differences: pd.DataFrame) -> list[str]:
    """How sure the replicates are of each cell's direction: P(reasoning > IFT)."""
    if "p_improvement" not in differences or differences.empty:
        return []
    probability = differences["p_improvement"]
    likely, unlikely = int((probability >= LIKELY).sum()), int((probability <= 1 - LIKELY).sum())
    return [
        f"P(reasoning > IFT) is at least {LIKELY:.1f} in {likely} of {len(differences)} cells and at most "
        f"{1 - LIKELY:.1f} in {unlikely} (rliable's probability of improvement, from the same replicates; "
        f"median {probability.median():.2f})."
    ]


def frontier_headlines(frontier: pd.DataFrame, panels: dict[str, str]) -> list[str]:
    lines = []
    for column, words in (("p_train_frontier", "training"), ("p_inference_frontier", "inference")):
        likely = uncertainty.likely_on_frontier(frontier, panels, column)
        parts = [
            f"{family}: "
            + ", ".join(f"{r.scale} {r.recipe} ({r.probability:.2f})" for r in rows.itertuples())
            for family, rows in likely.groupby("family", sort=False)
        ]
        listed = "; ".join(parts) if parts else "no student in any family"
        lines.append(f"On the {words} frontier with probability at least {uncertainty.LIKELY:.1f}: {listed}.")
    return lines


def headlines(study: StudyParams, results: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> list[str]:
    panels = study.family_panels()
    lines = [format_headline(tables["differences"], verdicts.cells_won_by_reasoning(results, panels))]
    lines += improvement_headline(tables["differences"])
    for frontier, words in (("on_train_frontier", "training"), ("on_inference_frontier", "inference")):
        ift = verdicts.cells_on_frontier(results, panels, "ift", frontier)
        reasoning = verdicts.cells_on_frontier(results, panels, "reasoning", frontier)
        lines.append(
            f"At matched {words} FLOPs, by the means, IFT is on the frontier in {_share(ift)} family × scale "
            f"cells, reasoning in {_share(reasoning)}."
        )
    lines += frontier_headlines(tables["frontier_probability"], panels)
    ratios = verdicts.length_ratios(results)
    if len(ratios):
        lines.append(
            f"Reasoning answers are {ratios.min():.1f}–{ratios.max():.1f}× as long as IFT answers "
            f"(median {ratios.median():.1f}×) across {len(ratios)} benchmark × scale cells."
        )
    ratio = failed_length_ratio(tables["lengths"])
    if len(ratio):
        lines.append(
            f"Failed reasoning answers are {ratio.median():.2f}× as long as successful ones "
            f"(median over {len(ratio)} student × benchmark cells with both)."
        )
    if "transfer" in tables:
        lines += transfer.transfer_headlines(tables["transfer"])
    if "granularity" in tables:
        lines += granularity.granularity_headline(tables["granularity"])
    lines += curriculum_headlines(tables.get("curricula"), study)
    lines += curriculum_scale_headline(tables["differences"], study)
    if "predictions" in tables:
        lines += prediction.headlines(tables, study.analysis.predict.fit, study.analysis.predict.predict)
    return lines


def curriculum_scale_headline(differences: pd.DataFrame, study: StudyParams) -> list[str]:
    """Where pure reasoning gains most over IFT (mean over families), beside where the curricula
    were trained: a curriculum can only capture a gain its scale has."""
    if not study.curricula.recipes or differences.empty:
        return []
    by_scale = differences.groupby("scale", sort=False)["difference"].mean()
    best = by_scale.idxmax()
    where = "the same scale" if [best] == study.curricula.scales else ", ".join(study.curricula.scales)
    return [
        f"Pure reasoning gains most over IFT at {best} ({by_scale[best]:+.2f} mean over families; "
        + ", ".join(f"{scale} {gain:+.2f}" for scale, gain in by_scale.items())
        + f"); the curricula are trained at {where}."
    ]


def curriculum_headlines(table: pd.DataFrame | None, study: StudyParams) -> list[str]:
    if table is None or table.empty:
        return []
    curricula = table[table["order"].isin(CURRICULUM_KINDS) & table["share_of_reasoning_gain"].notna()]
    if curricula.empty:
        return [
            f"No family gains at least {verdicts.MIN_REASONING_GAIN:.0%} from pure reasoning at the "
            "curriculum scales, so no curriculum captures a share of it."
        ]
    lines = []
    for order, group in curricula.groupby("order", sort=False):
        means = group.groupby("reasoning_share")[
            ["share_of_reasoning_gain", "share_of_reasoning_train_flops"]
        ].mean()
        parts = [
            f"ρ = {share:.0%} captures {row['share_of_reasoning_gain']:.0%} of the gain "
            f"at {row['share_of_reasoning_train_flops']:.0%} of the training FLOPs"
            for share, row in means.iterrows()
        ]
        cells = group[["family", "scale"]].drop_duplicates()
        lines.append(
            f"{order.capitalize()} curricula (mean over the {len(cells)} family × scale cells where pure "
            f"reasoning gains at least {verdicts.MIN_REASONING_GAIN:.0%} over IFT, "
            f"at {', '.join(study.curricula.scales)}): " + "; ".join(parts) + "." + gains_beyond_noise(group)
        )
    return lines


def gains_beyond_noise(curricula: pd.DataFrame) -> str:
    """How many of the curricula's gains over IFT their 95% intervals hold above zero, below it."""
    if "gain_low" not in curricula:
        return ""
    above, below = int((curricula["gain_low"] > 0).sum()), int((curricula["gain_high"] < 0).sum())
    return (
        f" Their gain over IFT is above zero beyond noise in {above} of {len(curricula)} cells, below it "
        f"in {below}, within noise in {len(curricula) - above - below}."
    )


def render(study: StudyParams, results: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> str:
    students = results.groupby("scale")["params"].first().reindex(list(study.students.scales)).dropna()
    sizes = ", ".join(f"{scale} {int(params):,}" for scale, params in students.items())
    sections = [
        f"# {study.study}: scale or reason?",
        study.description,
        f"Students (parameters): {sizes}. Benchmarks: {', '.join(b.name for b in study.benchmarks)}. "
        f"FLOPs on the axes: the {COUNT_LABELS[study.analysis.flops]}. "
        f"Family verdicts use each family's in-distribution benchmark.",
        "## Headlines",
        "\n".join(f"- {line}" for line in headlines(study, results, tables)),
        "## Verdicts: each reasoning student against the IFT students",
        "Multiples are the matching IFT student's FLOPs over the reasoning student's (below 1: IFT "
        "is cheaper); the fit column asks the IFT curve instead (inf: beyond its ceiling). "
        "`difference` is reasoning minus IFT at the same size with its 95% interval, `p_improvement` "
        "P(reasoning > IFT) from the same bootstrap replicates, `interval` what the interval holds "
        "(seeds and items, or items only with one seed) and `verdict` what it supports; "
        "`p_*_frontier`, the share of bootstrap replicates in which the reasoning student is on that "
        "frontier.",
        markdown_table(tables["verdicts"]),
        "## Fitted curves f(x) = α + β(1 − exp(−γ·x^δ))",
        markdown_table(tables["fits"]),
    ]
    if "curricula" in tables:
        curricula = tables["curricula"]
        sections += [
            "## Curricula: share of the pure-reasoning gain captured, at what share of its training FLOPs",
            markdown_table(
                curricula[curricula["scale"].isin(study.curricula.scales)].drop(columns=["train_flops"])
            ),
        ]
    if "granularity" in tables:
        sections += [
            "## Trace granularity: the coarsest trace within 2 points of the best",
            markdown_table(tables["granularity"]),
        ]
    transfer_section = transfer.transfer_markdown(tables["transfer"]) if "transfer" in tables else ""
    if transfer_section:
        sections += [
            "## Transfer: accuracy off the training distribution (drop from in-distribution)",
            transfer_section,
        ]
    if "paper_comparison" in tables:
        sections += [
            f"## Against the paper's Table 1 ({study.analysis.compare_with_paper} corpus)",
            "Our accuracy is the mean over the family's benchmarks, with its 95% interval; the paper's "
            "is its published average (no interval). `difference` is ours minus the paper's.",
            markdown_table(tables["paper_comparison"]),
        ]
    if "predictions" in tables:
        sections += prediction.markdown_sections(tables, study.analysis.predict)
    accuracy = results.pivot_table(index=["recipe", "scale"], columns="benchmark", values="accuracy")
    sections += ["## Accuracy", markdown_table(accuracy.reset_index(), ".2f")]
    return "\n\n".join(section for section in sections if section) + "\n"


def write_summary(study: StudyParams, results: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> str:
    text = render(study, results, tables)
    files.write_text(units.study_dir(study) / "summary.md", text)
    return text
