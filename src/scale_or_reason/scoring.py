"""Scoring generated answers: the last `\\boxed{}` after the think block, compared exactly.

Multiple-choice is scored the same way, from the generated letter (not option log-likelihoods),
so a reasoning student can work before it chooses. A response that opens a think block and never
closes it has no final answer and scores as wrong.
"""

from __future__ import annotations

import re

from .teachers import THINK_CLOSE, THINK_OPEN

BOXED = "\\boxed{"


def after_thinking(response: str) -> str | None:
    """The part of `response` after its think block; None if a think block is left open."""
    last_open, last_close = response.rfind(THINK_OPEN), response.rfind(THINK_CLOSE)
    if last_open > last_close:
        return None
    return response[last_close + len(THINK_CLOSE) :] if last_close >= 0 else response


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}`, braces balanced; None if there is none or it is cut."""
    start = text.rfind(BOXED)
    if start < 0:
        return None
    depth, begin = 1, start + len(BOXED)
    for position in range(begin, len(text)):
        depth += {"{": 1, "}": -1}.get(text[position], 0)
        if depth == 0:
            return text[begin:position]
    return None


def final_answer(response: str) -> str | None:
    answer_part = after_thinking(response)
    return None if answer_part is None else last_boxed(answer_part)


def normalise(answer: str) -> str:
    return re.sub(r"\s+", "", answer)


def is_correct(response: str, gold: str) -> bool:
    answer = final_answer(response)
    return answer is not None and normalise(answer) == normalise(gold)


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    """lm-eval hook (`process_results` of the generated task YAMLs)."""
    return {"exact_match": float(is_correct(results[0], doc["answer"]))}
