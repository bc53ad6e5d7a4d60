"""The think block: its tags, the one way to split a text at it, the one way to write a reasoning
answer, and the empty block of the IFT form.

A reasoning answer is `<think>`, the trace, `</think>`, then the final answer; an IFT answer
sits behind an empty think block (`<think>\\n\\n</think>\\n\\n`), as Qwen3's template writes it
with `enable_thinking=False`. Everything that reads or writes that structure (the teachers,
the tokenizer, scoring, the LLM teacher's reject rules) comes here.
"""

from __future__ import annotations

import re

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def format_reasoning(trace: str, answer: str) -> str:
    """The reasoning form: the trace inside a think block, a blank line, then the answer text."""
    return f"{THINK_OPEN}\n{trace}\n{THINK_CLOSE}\n\n{answer}"


# What Qwen3's template puts in the generation prompt with thinking off: no trace, no answer yet.
EMPTY_THINK_BLOCK = format_reasoning("", "")
EMPTY_THINK = re.compile(rf"^\s*{re.escape(THINK_OPEN)}\s*{re.escape(THINK_CLOSE)}\s*")


def think_parts(text: str) -> tuple[str | None, str | None]:
    """(before, after) the last `</think>`. A text without a think block is all answer
    (None, text); a block left open (none closed, or one opened after the last close) has no
    answer yet (text, None)."""
    last_open, last_close = text.rfind(THINK_OPEN), text.rfind(THINK_CLOSE)
    if last_open > last_close:
        return text, None
    if last_close < 0:
        return None, text
    return text[:last_close], text[last_close + len(THINK_CLOSE) :]


def after_thinking(response: str) -> str | None:
    """The part of `response` after its think block; None if a think block is left open."""
    return think_parts(response)[1]


def split_reasoning(text: str) -> tuple[str, str, bool]:
    """(trace, answer, closed) of a reasoning answer. Without a closed think block everything is
    trace, there is no answer, and closed is False. The trace comes without its tags (a release
    may leave out the opening one: Qwen3-Thinking-2507 has it in the prompt)."""
    before, after = think_parts(text)
    closed = before is not None and after is not None
    trace = (before if closed else text).strip()
    if trace.startswith(THINK_OPEN):
        trace = trace[len(THINK_OPEN) :].strip()
    return trace, (after.strip() if closed else ""), closed


def trace_lines(reasoning: str) -> tuple[str, ...]:
    """The steps of a reasoning answer, one per line of its trace."""
    trace, _, closed = split_reasoning(reasoning)
    if not closed:
        raise ValueError(f"not a reasoning answer (no closed think block): {reasoning[:80]!r}")
    return tuple(trace.split("\n"))


def strip_empty_think(text: str) -> str:
    """An IFT answer without a leading empty think block (the students' template adds it)."""
    return EMPTY_THINK.sub("", text, count=1).strip()
