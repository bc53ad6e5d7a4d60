"""Teachers: prompts in, paired IFT and reasoning answers out.

The embedded teacher is a program (`tasks.py` knows every answer and how to work it out). Its two
answers to one prompt end in the same `\\boxed{}` answer:

- IFT (thinking off): the answer alone;
- reasoning (thinking on): `<think>`, the worked steps, `</think>`, then the same answer.
"""

from __future__ import annotations

from .tasks import Problem, draw_problems

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
PAIR_COLUMNS = (
    "id", "key", "prompt", "ift", "reasoning", "answer", "family", "domain", "question_format",
    "task", "variant",
)  # fmt: skip


def boxed(answer: str) -> str:
    return f"\\boxed{{{answer}}}"


def ift_answer(problem: Problem) -> str:
    return boxed(problem.answer)


def reasoning_answer(problem: Problem) -> str:
    trace = "\n".join(problem.steps)
    return f"{THINK_OPEN}\n{trace}\n{THINK_CLOSE}\n\n{boxed(problem.answer)}"


def pair_row(problem: Problem, variant: str, index: int) -> dict[str, str]:
    domain, question_format = problem.family.split("_")
    return {
        "id": f"{problem.family}-{variant}-{index:05d}",
        "key": problem.identity,
        "prompt": problem.prompt,
        "ift": ift_answer(problem),
        "reasoning": reasoning_answer(problem),
        "answer": problem.answer,
        "family": problem.family,
        "domain": domain,
        "question_format": question_format,
        "task": problem.task,
        "variant": variant,
    }


def synthetic_pairs(
    family: str, variant: str, count: int, seed: int, exclude: set[str] | frozenset = frozenset()
) -> list[dict[str, str]]:
    """Paired rows for one family and variant; questions whose key is in `exclude` are never drawn."""
    problems = draw_problems(family, variant, count, seed, exclude)
    return [pair_row(problem, variant, index) for index, problem in enumerate(problems)]
