"""The headings of `04_pareto` that would state a finding: each states it only when the study's own
numbers show it, and otherwise asks the question with what the numbers do say. (The paper's
findings are not this study's until its runs say so.)"""

from __future__ import annotations

import pandas as pd
from scipy import stats

from .results import pure

# The question each heading asks where the numbers do not (yet) answer it.
QUESTIONS = {
    "gain_vs_token_factor": "Does reasoning's gain grow with the tokens it spends? (the paper's Figure 1)",
    "answer_length_by_outcome": "Do failed answers run longer than successful ones? (the paper's Figure 4)",
    "inference_flops_vs_size": "How does inference cost grow with size, per format? (the paper's Figure 14)",
    "flops_exact_vs_paper": "Do the paper's formula and the exact count part ways?",
}
SIGNIFICANCE = 0.05
FORMULA_GAP = 0.10  # exact / paper further than this from 1 on the smallest student: they part ways


def failed_length_ratio(lengths: pd.DataFrame) -> pd.Series:
    """Per reasoning student and benchmark: mean tokens of its failed answers over its successful
    ones (cells with both)."""
    wide = lengths[lengths["recipe"] == "reasoning"].pivot_table(
        index=["scale", "benchmark"], columns="correct", values="gen_tokens_mean"
    )
    if not {True, False} <= set(wide.columns):
        return pd.Series(dtype=float)
    return (wide[False] / wide[True]).dropna()


def failed_answers(lengths: pd.DataFrame) -> str:
    ratio = failed_length_ratio(lengths)
    question = QUESTIONS["answer_length_by_outcome"]
    if ratio.empty:
        return f"{question} No student here has both"
    median = ratio.median()
    if median > 1:
        shown = f"{median:.2f}× at the median (the paper's Figure 4)"
        return f"Failed answers run longer than successful ones: {shown}"
    return f"{question} Not here: {median:.2f}× at the median"


def gain_with_tokens(pairs: pd.DataFrame) -> str:
    """`pairs`: reasoning's accuracy gain over IFT and its token factor, per benchmark and scale."""
    question = QUESTIONS["gain_vs_token_factor"]
    if len(pairs) < 3:
        return question
    if pairs["gain"].nunique() < 2 or pairs["token_factor"].nunique() < 2:
        return f"{question} Not here: the gains (or the token factors) do not vary"
    rho, p = stats.spearmanr(pairs["token_factor"], pairs["gain"])
    said = f"Spearman ρ = {rho:.2f} over {len(pairs)} benchmark × scale cells, p = {p:.2g}"
    if rho > 0 and p < SIGNIFICANCE:
        return f"Where reasoning pays, it pays in tokens ({said}; the paper's Figure 1)"
    return f"{question} Not detectably here ({said})"


def inference_cost(results: pd.DataFrame) -> str:
    """Whether the reasoning students' inference FLOPs per query exceed the IFT students' at every
    size (means over benchmarks)."""
    question = QUESTIONS["inference_flops_vs_size"]
    per_size = pure(results).groupby(["scale", "order"])["inference_flops"].mean().unstack()
    if not {"reasoning", "ift"} <= set(per_size.columns):
        return question
    both = per_size[["reasoning", "ift"]].dropna()
    if len(both) and (both["reasoning"] > both["ift"]).all():
        factor = (both["reasoning"] / both["ift"]).median()
        return (
            f"Inference cost grows with size, higher for reasoning at every size ({factor:.1f}× at the "
            "median; the paper's Figure 14)"
        )
    return f"{question} Reasoning is not the dearer format at every size here"


def formula_gap(results: pd.DataFrame) -> str:
    """How far the paper's training FLOPs are from the exact count on the smallest student."""
    ratio = (results["train_flops_exact"] / results["train_flops_paper"]).groupby(results["params"]).mean()
    if ratio.empty:
        return QUESTIONS["flops_exact_vs_paper"]
    smallest = ratio.iloc[0]
    if abs(smallest - 1) > FORMULA_GAP:
        return (
            f"The paper's formula and the exact count part ways on small students (exact / paper = "
            f"{smallest:.2f} at {int(ratio.index[0]):,} parameters, {ratio.iloc[-1]:.2f} at the largest)"
        )
    return f"{QUESTIONS['flops_exact_vs_paper']} Within {FORMULA_GAP:.0%} here"
