"""Final answers: every prompt asks for one in `\\boxed{}`, and every response is read the same way,
the last `\\boxed{}` after a closed think block, compared exactly (whitespace aside).

A response that opens a think block and never closes it has no final answer and scores as wrong;
a box inside the think block does not count. lm-eval ships a `last_boxed_only_string` (its MATH
tasks), but it does another job: it prefers a `\\boxed ` written with a space anywhere in the text
over a later `\\boxed{}`, falls back to `\\fbox`, and its `remove_boxed` asserts on what it does not
expect; here only a whole, brace-balanced `\\boxed{...}` is an answer.
"""

from __future__ import annotations

import re

from .thinking import after_thinking

BOXED = "\\boxed{"
BOXED_INSTRUCTION = "Put the final answer in \\boxed{}."


def boxed(answer: str) -> str:
    return f"{BOXED}{answer}}}"


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
