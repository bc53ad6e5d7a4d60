import re
from itertools import pairwise

import pytest

from scale_or_reason.core.answers import final_answer
from scale_or_reason.core.thinking import THINK_CLOSE
from scale_or_reason.data.selection import (
    STRATEGIES,
    candidate_pool,
    equivalent_styles,
    equivalent_traces,
    inject_errors,
    most_distant,
    nearest_rank,
    select_correct_only,
    select_diverse,
    select_length_cap,
    select_random,
    select_unsolved,
    trace_dissimilarity,
)
from scale_or_reason.data.tasks import FAMILIES, draw_problems
from scale_or_reason.data.teachers import PAIR_COLUMNS, reasoning_answer, synthetic_pairs

POOL_OPTIONS = {"unsolved": {"solved": frozenset()}}


@pytest.fixture(scope="module")
def pools():
    return {family: candidate_pool(family, 40, 3, 0.25, seed=7) for family in FAMILIES}


def trace_lines(reasoning: str) -> list[str]:
    return reasoning.split(THINK_CLOSE)[0].removeprefix("<think>\n").strip("\n").split("\n")


# --- equivalent traces ---------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("variant", ["train", "harder"])
def test_equivalent_traces_reach_the_same_answer_and_all_differ(family, variant):
    for problem in draw_problems(family, variant, 40, seed=1):
        traces = equivalent_traces(problem, 4, seed=0)
        assert len(set(traces)) == 4
        assert {final_answer(trace) for trace in traces} == {problem.answer}
        assert traces[0] == reasoning_answer(problem)  # the teacher's own trace comes first


@pytest.mark.parametrize("family", ["general_oe", "general_mc"])
def test_reordered_traces_hold_the_same_lines_in_another_order(family):
    """Sorting lists its digit counts, largest scans the options, in other orders: two traces in
    one wording hold the same lines (their characters) in another order."""

    def content(reasoning):
        return sorted("".join(sorted(line)) for line in trace_lines(reasoning))

    reordered = 0
    for problem in draw_problems(family, "train", 40, seed=2):
        if family == "general_oe" and len(set(problem.answer.split(", "))) < 2:
            continue  # one distinct digit: nothing to reorder
        by_wording = {}
        for style, text in equivalent_styles(problem, 8, seed=0):
            by_wording.setdefault(style.split(":")[0], []).append(text)
        for texts in by_wording.values():
            for first, second in pairwise(texts):
                assert first != second and content(first) == content(second)
                reordered += 1
    assert reordered > 20


def test_multiplication_traces_are_rewordings_line_by_line():
    for problem in draw_problems("math_oe", "train", 20, seed=3):
        traces = [trace_lines(trace) for trace in equivalent_traces(problem, 4, seed=0)]
        assert len({len(lines) for lines in traces}) == 1
        for position in range(len(traces[0])):
            assert len({lines[position] for lines in traces}) == 4  # every line worded four ways


def test_equivalent_traces_are_seeded_per_question():
    problem = draw_problems("general_oe", "train", 30, seed=0)[-1]
    assert equivalent_traces(problem, 3, seed=1) == equivalent_traces(problem, 3, seed=1)
    others = draw_problems("general_mc", "train", 5, 0)
    assert any(equivalent_traces(p, 3, seed=1) != equivalent_traces(p, 3, seed=2) for p in others)


def test_more_traces_than_a_question_can_have_is_refused():
    problem = draw_problems("math_oe", "train", 1, seed=0)[0]
    with pytest.raises(ValueError, match="distinct traces"):
        equivalent_traces(problem, 5, seed=0)  # multiplication has four wordings and one order


# --- injected errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("rows,rate", [(10, 0.0), (10, 0.15), (37, 0.25), (50, 0.5), (13, 1.0), (120, 0.1)])
def test_injected_errors_are_exactly_the_requested_rate_and_wrong(family, rows, rate):
    pairs = synthetic_pairs(family, "train", rows, seed=4)
    corrupted = inject_errors(pairs, rate, seed=5)
    wrong = [row for row in corrupted if not row["trace_correct"]]
    assert len(corrupted) == rows and len(wrong) == round(rate * rows)
    for before, after in zip(pairs, corrupted, strict=True):
        if after["trace_correct"]:
            assert after["reasoning"] == before["reasoning"]
        else:
            assert final_answer(after["reasoning"]) not in (None, after["answer"])
            assert after["ift"] == before["ift"] and after["answer"] == before["answer"]
            assert trace_lines(after["reasoning"])[0] != "" and after["reasoning"] != before["reasoning"]


@pytest.mark.parametrize("family", FAMILIES)
def test_a_wrong_trace_states_the_wrong_answer_it_ends_in(family, pools):
    """The answer follows from the slip: the trace's last line names the boxed answer."""
    for row in pools[family]:
        if not row["trace_correct"]:
            answer = final_answer(row["reasoning"])
            last = trace_lines(row["reasoning"])[-1]
            assert re.search(rf"(^|\D){re.escape(answer)}($|\D)", last), (answer, last)


DIGIT_LINE = re.compile(r"(\d) × (\d) = (\d+)(?:, \3 \+ (\d) = (\d+))?(?:, carry (\d))?, so far (\d+)")


def test_a_wrong_multiplication_has_exactly_one_wrong_line_and_follows_it():
    pairs = synthetic_pairs("math_oe", "train", 200, seed=6)
    for row in inject_errors(pairs, 1.0, seed=0):
        _header, *digit_lines = trace_lines(row["reasoning"])
        carry_in, so_far, wrong_lines = 0, "", 0
        for line in digit_lines:
            digit, factor, fact, added, total, carry_out, written = DIGIT_LINE.fullmatch(line).groups()
            added, fact = int(added or 0), int(fact)
            product = int(total) if total else fact
            assert product == fact + added  # a slip is in one step; the addition follows it
            wrong_lines += added != carry_in or fact != int(digit) * int(factor)
            if carry_out is None:  # the last digit writes its whole product
                so_far = str(product) + so_far
            else:  # every later line follows the (possibly wrong) product of this one
                assert int(carry_out) == product // 10
                carry_in, so_far = product // 10, str(product % 10) + so_far
            assert written == so_far
        assert wrong_lines == 1, row["reasoning"]
        assert final_answer(row["reasoning"]) == so_far


def test_a_multiple_choice_no_slip_reaches_is_matched_to_a_wrong_option():
    """Options far from every slipped product leave one wrong step: the check says yes to a wrong letter."""
    prompt = "A box has 47 pens. How many pens are in 6 boxes?\nA) 282\nB) 999\nC) 555\nD) 111\nBox it."
    row = {"task": "multiply_choice", "key": "47x6", "prompt": prompt, "answer": "A", "reasoning": ""}
    wrong = inject_errors([row], 1.0, seed=0)[0]
    letter = final_answer(wrong["reasoning"])
    verdicts = {option: f"yes {option}" if option == letter else "no" for option in "ABCD"}
    firsts = {"A": 2, "B": 9, "C": 5, "D": 1}
    checks = ", ".join(f"{option} {first} vs 2 {verdicts[option]}" for option, first in firsts.items())
    assert letter in "BCD" and trace_lines(wrong["reasoning"])[-1] == f"282 starts with 2: {checks}"


def test_injected_errors_are_chosen_by_seed():
    pairs = synthetic_pairs("general_oe", "train", 60, seed=0)
    first, again, other = (inject_errors(pairs, 0.2, seed) for seed in (1, 1, 2))
    assert first == again
    assert [r["trace_correct"] for r in first] != [r["trace_correct"] for r in other]


def test_an_error_rate_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="error rate"):
        inject_errors(synthetic_pairs("math_oe", "train", 5, 0), 1.5, 0)


# --- the pool ------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_pool_rows_are_pairs_with_trace_columns(family, pools):
    pool = pools[family]
    assert len(pool) == 120 and len({row["id"] for row in pool}) == 120
    extra = {"question_key", "trace_id", "trace_style", "trace_correct", "trace_chars"}
    assert all(set(row) == set(PAIR_COLUMNS) | extra for row in pool)
    assert sum(not row["trace_correct"] for row in pool) == 30
    questions = {}
    for row in pool:
        questions.setdefault(row["question_key"], []).append(row)
        assert row["trace_chars"] == len(row["reasoning"])
        assert row["ift"] == f"\\boxed{{{row['answer']}}}"
    assert len(questions) == 40
    assert all([row["trace_id"] for row in rows] == [0, 1, 2] for rows in questions.values())
    assert pool == candidate_pool(family, 40, 3, 0.25, seed=7)


# --- selection -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("budget", [0, 25, 90, 500])
def test_every_selection_is_deterministic_and_within_budget(name, budget, pools):
    pool = pools["general_oe"]
    options = POOL_OPTIONS.get(name, {})
    chosen = STRATEGIES[name](pool, budget, 3, **options)
    assert chosen == STRATEGIES[name](pool, budget, 3, **options)
    assert len(chosen) <= budget
    ids = [row["id"] for row in chosen]
    assert len(set(ids)) == len(ids) and set(ids) <= {row["id"] for row in pool}
    if name == "random":
        assert len(chosen) == min(budget, len(pool))


def test_random_selection_changes_with_the_seed(pools):
    pool = pools["math_oe"]
    assert select_random(pool, 30, 0) != select_random(pool, 30, 1)


def test_a_negative_budget_is_refused(pools):
    with pytest.raises(ValueError, match="budget"):
        select_random(pools["math_oe"], -1, 0)


@pytest.mark.parametrize("family", FAMILIES)
def test_correct_only_removes_exactly_the_injected_errors(family, pools):
    pool = pools[family]
    assert select_correct_only(pool, len(pool), 0) == [row for row in pool if row["trace_correct"]]
    assert all(row["trace_correct"] for row in select_correct_only(pool, 20, 0))


def test_unsolved_removes_exactly_the_solved_questions(pools):
    pool = pools["math_mc"]
    keys = sorted({row["question_key"] for row in pool})
    solved = set(keys[::3])
    kept = select_unsolved(pool, len(pool), 0, solved=solved)
    assert kept == [row for row in pool if row["question_key"] not in solved]
    assert {row["question_key"] for row in kept} == set(keys) - solved


def test_length_cap_keeps_exactly_the_traces_up_to_the_percentile(pools):
    pool = pools["general_mc"]
    lengths = sorted(row["trace_chars"] for row in pool)
    cap = lengths[59]  # nearest rank of the 50th percentile of 120
    kept = select_length_cap(pool, len(pool), 0, percentile=50)
    assert kept == [row for row in pool if row["trace_chars"] <= cap]
    assert len(select_length_cap(pool, 10, 0, percentile=50)) == 10
    assert nearest_rank([5, 1, 4, 2, 3], 40) == 2 and nearest_rank([5, 1, 4, 2, 3], 100) == 5


def test_diverse_keeps_the_most_distant_pair_on_a_hand_made_question():
    # Built so that distances are plain: "aaaaaaaa" and "bbbbbbbb" share nothing (distance 1),
    # "aaaabbbb" sits halfway between them, "aaaaaaab" is a near-copy of the first.
    texts = ["aaaaaaab", "aaaaaaaa", "aaaabbbb", "bbbbbbbb"]
    assert trace_dissimilarity(texts[1], texts[3]) == 1.0 and trace_dissimilarity(texts[2], texts[1]) == 0.5
    pool = [{"id": text, "question_key": "q", "reasoning": text} for text in texts]
    pool += [{"id": "alone", "question_key": "r", "reasoning": "x"}]
    chosen = select_diverse(pool, 10, 0, per_question=2)
    assert [row["id"] for row in chosen] == ["aaaaaaaa", "bbbbbbbb", "alone"]
    assert most_distant(texts, 3) == [1, 2, 3]  # then the halfway text, not the near-copy
    assert most_distant(texts, 1) == [0] and most_distant(texts, 9) == [0, 1, 2, 3]


def test_diverse_keeps_per_question_traces_of_every_question(pools):
    pool = pools["general_mc"]
    kept = select_diverse(pool, len(pool), 0, per_question=2)
    assert len(kept) == 80
    assert {row["question_key"] for row in kept} == {row["question_key"] for row in pool}
