"""The embedded teacher, and the pair schema every teacher writes.

The embedded teacher is a program (`tasks.py` knows every answer and how to work it out). Its two
answers to one prompt end in the same `\\boxed{}` answer:

- IFT (thinking off): the answer alone;
- reasoning (thinking on): `<think>`, the worked steps, `</think>`, then the same answer.

The reasoning form comes at three granularities (`recipes.GRANULARITIES`): `full` (every worked
step), `key` (only the decisions that determine the answer, see `KEY_STEPS`) and `answer` (an empty
think block: the IFT answer in the reasoning form), so "what is the smallest supervision that
keeps the structure of the solution" is a teacher parameter.

At paper scale the pairs come from an LLM (`llm_teacher.py`) or from the released pair datasets
(`released.py`), in the same schema (`PAIR_COLUMNS`).
"""

from __future__ import annotations

import hashlib
import re

from ..config.recipes import GRANULARITIES
from ..core.answers import boxed, last_boxed
from ..core.thinking import format_reasoning, trace_lines
from .tasks import Problem, draw_problems

PAIR_COLUMNS = (
    "id",
    "key",
    "prompt",
    "ift",
    "reasoning",
    "answer",
    "family",
    "domain",
    "question_format",
    "task",
    "variant",
)


def ift_answer(problem: Problem) -> str:
    return boxed(problem.answer)


def reasoning_text(steps: tuple[str, ...] | list[str], answer: str) -> str:
    """The reasoning form of an answer: the steps inside a think block, then the boxed answer.
    No steps give the empty think block (`<think>\\n\\n</think>`) that an IFT answer sits behind."""
    return format_reasoning("\n".join(steps), boxed(answer))


# --- trace granularity --------------------------------------------------------------------------

# "7 × 6 = 42, 42 + 4 = 46, " of "7 × 6 = 42, 42 + 4 = 46, carry 4, so far 6"
FIRST_DIGITS = "first digits: "  # the scan of the options' first digits (tasks.first_digits_line)
DIGIT_FACT = re.compile(r"^\d × \d = \d+, (?:\d+ \+ \d+ = \d+, )?")


def _multiplication_key(steps: tuple[str, ...]) -> tuple[str, ...]:
    """Of each digit line only what the next line needs, the carry and the running result; the
    digit fact that produced them is left for the student to compute. The header (the operands,
    or the swap of the related task) and, for multiple choice, the option check stay: they are
    decisions, not working."""
    return tuple(DIGIT_FACT.sub("", step) for step in steps)


def _sorting_key(steps: tuple[str, ...]) -> tuple[str, ...]:
    """The digit counts alone: they fix the sorted list, and the final line only writes out what
    the boxed answer repeats anyway."""
    if not steps or not steps[-1].startswith("sorted: "):
        raise ValueError(f"sorting trace without its final 'sorted:' line: {steps!r}")
    return steps[:-1]


def _largest_key(steps: tuple[str, ...]) -> tuple[str, ...]:
    """The decisions (the group with the largest first digit, the largest of a tie, the option)
    without the scan of every option's first digit that led to them."""
    if not steps or not steps[0].startswith(FIRST_DIGITS):
        raise ValueError(f"largest-number trace without its 'first digits:' scan: {steps!r}")
    return steps[1:]


# Keyed by task, not family: a family may gain tasks whose steps have another shape. The related
# tasks (variant `related`) share their trained task's shape.
KEY_STEPS = {
    "multiply": _multiplication_key,
    "multiply_choice": _multiplication_key,
    "multiply_swapped": _multiplication_key,
    "multiply_swapped_choice": _multiplication_key,
    "sort": _sorting_key,
    "sort_descending": _sorting_key,
    "largest": _largest_key,
    "smallest": _largest_key,
}


def check_granularity(granularity: str) -> None:
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown trace granularity {granularity!r}; known: {', '.join(GRANULARITIES)}")


def trace_steps(problem: Problem, granularity: str = "full") -> tuple[str, ...]:
    """The steps the reasoning form shows at `granularity`: all (`full`), the decisions that
    still determine the answer (`key`), or none (`answer`)."""
    check_granularity(granularity)
    if granularity == "full":
        return problem.steps
    if granularity == "answer":
        return ()
    if problem.task not in KEY_STEPS:
        raise ValueError(f"no key-step granularity for task {problem.task!r}; known: {', '.join(KEY_STEPS)}")
    return KEY_STEPS[problem.task](problem.steps)


def regranulate(reasoning: str, task: str, answer: str, granularity: str) -> str:
    """A full reasoning answer rewritten at a coarser `granularity`, from its own trace lines (the
    same steps `trace_steps` would give for the problem)."""
    check_granularity(granularity)
    if granularity == "full":
        return reasoning
    steps = trace_lines(reasoning)
    if granularity == "answer":
        return reasoning_text((), answer)
    if task not in KEY_STEPS:
        raise ValueError(f"no key-step granularity for task {task!r}; known: {', '.join(KEY_STEPS)}")
    return reasoning_text(KEY_STEPS[task](steps), answer)


def reasoning_answer(problem: Problem, granularity: str = "full") -> str:
    return reasoning_text(trace_steps(problem, granularity), problem.answer)


def pair_row(problem: Problem, variant: str, index: int, granularity: str = "full") -> dict[str, str]:
    domain, question_format = problem.family.split("_")
    return {
        "id": f"{problem.family}-{variant}-{index:05d}",
        "key": problem.identity,
        "prompt": problem.prompt,
        "ift": ift_answer(problem),
        "reasoning": reasoning_answer(problem, granularity),
        "answer": problem.answer,
        "family": problem.family,
        "domain": domain,
        "question_format": question_format,
        "task": problem.task,
        "variant": variant,
    }


def synthetic_pairs(
    family: str,
    variant: str,
    count: int,
    seed: int,
    exclude: set[str] | frozenset = frozenset(),
    granularity: str = "full",
) -> list[dict[str, str]]:
    """Paired rows for one family and variant; questions whose key is in `exclude` are never drawn.
    `granularity` sets how much of the trace the reasoning form shows (the prompts do not change)."""
    check_granularity(granularity)
    problems = draw_problems(family, variant, count, seed, exclude)
    return [pair_row(problem, variant, index, granularity) for index, problem in enumerate(problems)]


def granularity_teacher(granularity: str):
    """A pairs function with `synthetic_pairs`' signature whose traces have `granularity`: the
    granularities as competing teachers, for a smoke test to rank (issue 7, item 4)."""
    check_granularity(granularity)

    def pairs(family, variant, count, seed, exclude=frozenset()):
        return synthetic_pairs(family, variant, count, seed, exclude, granularity=granularity)

    pairs.__name__ = pairs.__qualname__ = f"{granularity}_teacher"
    return pairs


def prompt_key(prompt: str) -> str:
    """A stable identity for a free-text prompt (the synthetic tasks have their own)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def corpus_pair(pair_id: str, prompt: str, ift: str, reasoning: str, corpus: str) -> dict[str, str]:
    """A pair of a free-text corpus (an LLM teacher's, the released ones): its family is the corpus,
    its answer whatever the IFT answer boxes ("" if nothing)."""
    return {
        "id": pair_id,
        "key": prompt_key(prompt),
        "prompt": prompt,
        "ift": ift,
        "reasoning": reasoning,
        "answer": last_boxed(ift) or "",
        "family": corpus,
        "domain": corpus,
        "question_format": "mixed",
        "task": corpus,
        "variant": "train",
    }
