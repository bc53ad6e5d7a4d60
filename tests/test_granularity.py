import re

import pytest

from scale_or_reason.config.recipes import GRANULARITIES
from scale_or_reason.core.answers import final_answer
from scale_or_reason.core.thinking import THINK_CLOSE
from scale_or_reason.data.tasks import FAMILIES, VARIANTS, Problem, draw_problems
from scale_or_reason.data.teachers import (
    granularity_teacher,
    reasoning_answer,
    synthetic_pairs,
    trace_steps,
)


def problems(family, variant="train", count=60, seed=0):
    return draw_problems(family, variant, count, seed)


def trace_of(reasoning: str) -> str:
    return reasoning.split(THINK_CLOSE)[0]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_granularity_ends_in_the_answer_full_ends_in(family, variant):
    for problem in problems(family, variant):
        full = reasoning_answer(problem, "full")
        for granularity in GRANULARITIES:
            reasoning = reasoning_answer(problem, granularity)
            assert final_answer(reasoning) == final_answer(full) == problem.answer
            assert reasoning.split(THINK_CLOSE)[1] == full.split(THINK_CLOSE)[1]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_key_is_strictly_shorter_than_full_and_answer_has_no_steps(family, variant):
    for problem in problems(family, variant):
        key, full = reasoning_answer(problem, "key"), reasoning_answer(problem, "full")
        assert trace_steps(problem, "key")
        assert len(key) < len(full)
        assert trace_steps(problem, "answer") == ()
        # The empty think block of a Qwen3 non-thinking answer, then the IFT answer.
        assert reasoning_answer(problem, "answer") == f"<think>\n\n</think>\n\n\\boxed{{{problem.answer}}}"


@pytest.mark.parametrize("family", FAMILIES)
def test_key_steps_are_parts_of_full_steps(family):
    for problem in problems(family):
        full = trace_steps(problem, "full")
        for step in trace_steps(problem, "key"):
            assert any(step in full_step for full_step in full), step


def answer_from_key_steps(task: str, steps: tuple[str, ...]) -> str:
    """What the key steps alone determine, read without the digit facts or the scan."""
    if task.startswith("multiply") and not task.endswith("choice"):
        return re.fullmatch(r"so far (\d+)", steps[-1]).group(1)
    if task.endswith("choice"):
        return re.search(r"\d vs \d yes ([A-D])", steps[-1]).group(1)
    if task in ("largest", "smallest"):
        return re.fullmatch(r"\d+ is option ([A-D])", steps[-1]).group(1)
    words = {"once": 1, "twice": 2, "three times": 3, "four times": 4, "five times": 5, "six times": 6}
    counts = sorted(re.fullmatch(r"(\d) appears (.+)", step).groups() for step in steps)
    digits = [digit for digit, word in counts for _ in range(words[word])]
    return ", ".join(digits[::-1] if task == "sort_descending" else digits)


DIGIT_FACT = re.compile(r"\d × \d( \+ \d+)? = \d+")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_key_steps_still_determine_the_answer_without_the_working(family, variant):
    for problem in problems(family, variant):
        key = trace_steps(problem, "key")
        assert answer_from_key_steps(problem.task, key) == problem.answer
        assert not any(DIGIT_FACT.search(step) or step.startswith(("first digits", "sorted")) for step in key)


def test_key_multiplication_keeps_every_running_result_and_carry():
    steps = ("47 × 6", "7 × 6 = 42, carry 4, so far 2", "4 × 6 = 24, 24 + 4 = 28, so far 282")
    problem = Problem("math_oe", "multiply", "47 times 6?", "282", steps, "47x6")
    assert trace_steps(problem, "key") == ("47 × 6", "carry 4, so far 2", "so far 282")


def test_full_is_the_default_and_the_trace_of_today():
    for family in FAMILIES:
        for problem in problems(family, count=10):
            trace = "\n".join(problem.steps)
            expected = f"<think>\n{trace}\n</think>\n\n\\boxed{{{problem.answer}}}"
            assert reasoning_answer(problem) == reasoning_answer(problem, "full") == expected
        default = synthetic_pairs(family, "train", 10, 1)
        assert default == synthetic_pairs(family, "train", 10, 1, granularity="full")


def test_unknown_granularity_is_refused():
    problem = problems("math_oe", count=1)[0]
    for call in (
        lambda: trace_steps(problem, "coarse"),
        lambda: synthetic_pairs("math_oe", "train", 2, 0, granularity="coarse"),
        lambda: granularity_teacher("coarse"),
    ):
        with pytest.raises(ValueError, match="granularity"):
            call()


@pytest.mark.parametrize("family", FAMILIES)
def test_granularity_teachers_share_prompts_and_answers_and_differ_in_traces(family):
    rows = {g: granularity_teacher(g)(family, "train", 30, 2) for g in GRANULARITIES}
    for column in ("prompt", "ift", "answer", "key"):
        values = {g: [row[column] for row in rows[g]] for g in GRANULARITIES}
        assert values["full"] == values["key"] == values["answer"]
    lengths = {g: sum(len(trace_of(r["reasoning"])) for r in rows[g]) for g in GRANULARITIES}
    assert lengths["full"] > lengths["key"] > lengths["answer"]
    assert granularity_teacher("key").__name__ == "key_teacher"
