"""Scoring rules: how a final answer is compared with a benchmark's references.

The embedded benchmarks compare the final answer (`core.answers`) exactly. The paper's benchmarks
each name a rule below: it takes the extracted final answer and the references and returns a
score in [0, 1]. The paper scores with an LLM jury (`evaluation.jury`); these rules are the
default that runs anywhere. Multiple-choice is scored from the generated letter, not from option
log-likelihoods, so a reasoning student can work before it chooses.
"""

from __future__ import annotations

import math
import re
import string

from lm_eval.tasks.hendrycks_math.utils import is_equiv
from rouge_score import rouge_scorer

from ..core.answers import is_correct

# The metric of the embedded benchmarks' tasks: the share of final answers (the last `\boxed{}`
# after a closed think block, `core.answers`) equal to the reference; not lm-eval's exact_match.
SYNTHETIC_METRIC = "final_boxed_answer_correct"


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    """lm-eval hook of the embedded benchmarks' task YAMLs."""
    return {SYNTHETIC_METRIC: float(is_correct(results[0], doc["answer"]))}


LATEX_TEXT = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
LATEX_FRACTION = re.compile(r"^(-?)\\[dt]?frac\{(-?[\d.]+)\}\{(-?[\d.]+)\}$")
OPTION = re.compile(r"\s*\(?([A-Ja-j])\s*\)?(?![A-Za-z])")
# A number, optionally "× 10^k", optionally followed by a unit made of letters (no more digits).
SCIENTIFIC_NUMBER = (
    r"^(-?\d*\.?\d+(?:[eE][-+]?\d+)?)"
    r"(?:\s*(?:\\times|\\cdot|×|\*|x)\s*10\s*\^\s*\{?\s*(-?\d+)\s*\}?)?"
)
NUMBER_ALONE = re.compile(SCIENTIFIC_NUMBER + r"$")
NUMBER_WITH_UNIT = re.compile(SCIENTIFIC_NUMBER + r"\s*[A-Za-z°%~\\ /.^{}-]*$")
SIMPLE_FRACTION = re.compile(r"^(-?\d+)\s*/\s*(\d+)$")


def plain_text(answer: str) -> str:
    """`answer` without LaTeX text wrappers, dollar signs and thousands separators' `{,}`."""
    previous = None
    while previous != answer:  # wrappers can nest: \text{\textbf{B}}
        previous, answer = answer, LATEX_TEXT.sub(r"\1", answer)
    return answer.replace("\\$", "").replace("$", "").replace("{,}", ",").replace("\\%", "%").strip()


def option_letter(answer: str) -> str | None:
    """The option a boxed answer names: `B`, `(B)`, `B.`, `\\text{B}`, `B) 21`; not `Bob`."""
    match = OPTION.match(plain_text(answer))
    return match.group(1).upper() if match else None


def fraction_value(numerator: str, denominator: str) -> float | None:
    return None if float(denominator) == 0 else float(numerator) / float(denominator)


def times_power_of_ten(value: float, power: int) -> float:
    """value × 10^power without the rounding of a multiplication (2.57e11, not 256999999999.99997)."""
    return float(f"{value!r}e{power}")


def parse_number(answer: str, *, allow_unit: bool = True) -> float | None:
    """The value of a numeric answer: `1,234`, `\\$18.00`, `-0.5`, `2.57 \\times 10^{11} J`,
    `\\frac{3}{4}`, `3/4`, `25\\%`; None for anything else (an expression, two numbers).
    Without `allow_unit`, trailing words make it not a number (`3i` is not 3)."""
    text = plain_text(answer).replace(",", "").replace("\\!", "").replace("\\ ", " ").strip()
    if match := LATEX_FRACTION.match(text):
        sign, numerator, denominator = match.groups()
        value = fraction_value(numerator, denominator)
        return None if value is None else (-value if sign else value)
    if match := SIMPLE_FRACTION.match(text):
        return fraction_value(*match.groups())
    if match := (NUMBER_WITH_UNIT if allow_unit else NUMBER_ALONE).match(text):
        mantissa, exponent = match.groups()
        return times_power_of_ten(float(mantissa), int(exponent or 0))
    return None


def numbers_equal(first: float | None, second: float | None) -> bool:
    if first is None or second is None:
        return False
    return math.isclose(first, second, rel_tol=1e-6, abs_tol=1e-9)


def letter_matches(answer: str, references: list[str]) -> float:
    return float(option_letter(answer) == references[0])


def number_matches(answer: str, references: list[str]) -> float:
    """Numeric equality (GSM8K: `1,000`, `$1000` and `1000.00` are all 1000)."""
    return float(numbers_equal(parse_number(answer), parse_number(references[0])))


def math_matches(answer: str, references: list[str]) -> float:
    """MATH-style equivalence: lm-eval's MATH string normalisation (`\\dfrac` = `\\frac`, no
    spaces, no `\\left`, units dropped, ...) or, failing that, equal numbers (AIME's `033` = `33`)."""
    reference = references[0]
    value, gold = parse_number(answer, allow_unit=False), parse_number(reference, allow_unit=False)
    return float(is_equiv(answer, reference) or numbers_equal(value, gold))


def relative_matches(answer: str, references: list[str], tolerance: float = 0.05) -> float:
    """SciBench's rule: right within a relative tolerance of 5% of the reference."""
    value, gold = parse_number(answer), parse_number(references[0])
    return float(value is not None and gold is not None and abs(value - gold) <= tolerance * abs(gold))


def squad_normalise(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(c for c in plain_text(text).lower() if c not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def span_matches(answer: str, references: list[str]) -> float:
    """Normalised exact match against any of the references (SQuAD, CoQA)."""
    return float(squad_normalise(answer) in {squad_normalise(reference) for reference in references})


def yes_no_matches(answer: str, references: list[str]) -> float:
    word = squad_normalise(answer)
    return float(word in ("yes", "no") and word == squad_normalise(references[0]))


def rouge_l(answer: str, references: list[str]) -> float:
    """ROUGE-L F1 against the best reference: a text-overlap stand-in for the paper's jury."""
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return max(scorer.score(reference, plain_text(answer))["rougeL"].fmeasure for reference in references)


def follows_instructions(doc: dict, answer_part: str) -> float:
    """IFEval, prompt level, strict: lm-eval's own checks of every instruction of `doc`."""
    # Imported here: importing lm-eval's IFEval checks tries to download NLTK data.
    from lm_eval.tasks.ifeval.utils import InputExample, test_instruction_following_strict

    example = InputExample(doc["key"], doc["instruction_id_list"], doc["prompt"], doc["kwargs"])
    return float(test_instruction_following_strict(example, answer_part).follow_all_instructions)
