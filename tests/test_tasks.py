import random
import re
import statistics

import pytest

from scale_or_reason.core.thinking import THINK_CLOSE, THINK_OPEN
from scale_or_reason.data import tasks
from scale_or_reason.data.tasks import FAMILIES, draw_problems, is_held_out
from scale_or_reason.data.teachers import synthetic_pairs


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_rows_and_another_seed_other_rows(family):
    first, again = synthetic_pairs(family, "train", 50, seed=3), synthetic_pairs(family, "train", 50, seed=3)
    other = synthetic_pairs(family, "train", 50, seed=4)
    assert first == again
    assert [r["prompt"] for r in first] != [r["prompt"] for r in other]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("variant", ["train", "test", "rephrased", "harder"])
def test_both_answers_end_in_the_same_boxed_answer(family, variant):
    for row in synthetic_pairs(family, variant, 40, seed=0):
        assert "\\boxed{}" in row["prompt"]
        assert row["ift"] == f"\\boxed{{{row['answer']}}}"
        assert row["reasoning"].startswith(THINK_OPEN + "\n")
        trace, answer = row["reasoning"].split(THINK_CLOSE)
        assert answer.strip() == row["ift"]
        assert len(trace) > len(row["ift"])


@pytest.mark.parametrize("a,b", [(47, 6), (10, 9), (99, 9), (305, 7), (1000, 2)])
def test_multiplication_trace_computes_the_product(a, b):
    steps = tasks.multiplication_steps(a, b)
    assert steps[0] == f"{a} × {b}"
    assert steps[-1].endswith(f"so far {a * b}")
    assert len(steps) == len(str(a)) + 1  # one digit fact per line


def test_multiple_choice_answers_point_at_the_right_option():
    for row in synthetic_pairs("math_mc", "test", 30, seed=1):
        options = dict(re.findall(r"^([A-D])\) (\S+)$", row["prompt"], re.M))
        a, b = map(int, re.findall(r"\d+", row["prompt"])[:2])
        assert int(options[row["answer"]]) in {a * b}, row["prompt"]
        assert len(set(options.values())) == 4
    for row in synthetic_pairs("general_mc", "harder", 30, seed=1):
        options = {
            letter: int(value) for letter, value in re.findall(r"^([A-D])\) (\d+)$", row["prompt"], re.M)
        }
        assert options[row["answer"]] == max(options.values())


def test_multiple_choice_trace_checks_every_option_beside_the_product_digit():
    for problem in draw_problems("math_mc", "train", 50, seed=2):
        options = dict(re.findall(r"^([A-D])\) (\d+)$", problem.prompt, re.M))
        head, checks = problem.steps[-1].split(": ")
        product = options[problem.answer]
        assert head == f"{product} starts with {product[0]}"
        items = [item.split(" ") for item in checks.split(", ")]
        assert [letter for letter, *_ in items] == list("ABCD")
        assert all(digit == options[letter][0] for letter, digit, *_ in items)
        assert all(between == "vs" and target == product[0] for _, _, between, target, *_ in items)
        verdicts = [" ".join(verdict) for *_, verdict in ([*item[:4], item[4:]] for item in items)]
        assert verdicts == [f"yes {letter}" if letter == problem.answer else "no" for letter in "ABCD"]
        assert problem.steps[0] == problem.key.replace("x", " × ")  # no scan before the product


def test_a_check_can_pick_a_wrong_option():
    check = tasks.option_check(672, [172, 672, 732, 262], chosen=732)
    assert check == "672 starts with 6: A 1 vs 6 no, B 6 vs 6 no, C 7 vs 6 yes C, D 2 vs 6 no"


def test_distractors_share_only_the_length_and_last_digit_and_no_first_digit():
    rng = random.Random(0)
    for a, b in [(347, 6), (850, 3), (120, 9), (999, 9), (47, 6)]:
        wrong = tasks.multiplication_distractors(a, b, rng)
        right = str(a * b)
        assert len(set(wrong)) == 3 and a * b not in wrong
        assert all(len(str(w)) == len(right) and str(w)[-1] == right[-1] for w in wrong)
        assert len({str(w)[0] for w in wrong} | {right[0]}) == 4


def test_sorting_answer_and_counting_trace():
    for row in synthetic_pairs("general_oe", "harder", 30, seed=2):
        numbers = [int(n) for n in re.findall(r"\d", row["prompt"].split("Put the final")[0])]
        assert row["answer"] == ", ".join(map(str, sorted(numbers)))
    assert tasks.counting_sort_steps([3, 1, 3]) == ("1 appears once", "3 appears twice", "sorted: 1, 3, 3")


@pytest.mark.parametrize(
    "options,steps",
    [
        ([65, 92, 11, 79], ("first digits: 6, 9, 1, 7", "largest first digit 9: 92")),
        (
            [91, 97, 15, 40],
            ("first digits: 9, 9, 1, 4", "largest first digit 9: 91, 97", "largest of these: 97"),
        ),
        (
            [305, 712, 799, 100],
            ("first digits: 3, 7, 7, 1", "largest first digit 7: 712, 799", "largest of these: 799"),
        ),
    ],
)
def test_largest_trace(options, steps):
    assert tasks.largest_steps(options) == steps


def test_arithmetic_test_sets_never_ask_a_trained_product():
    train = draw_problems("math_oe", "train", 500, seed=0)
    test = draw_problems("math_mc", "test", 100, seed=0, exclude={p.identity for p in train})
    assert all(not is_held_out(p.key, 0) for p in train)
    assert all(is_held_out(p.key, 0) for p in test)


def test_exclusion_and_distinct_prompts():
    train = draw_problems("general_mc", "train", 300, seed=0)
    test = draw_problems("general_mc", "test", 100, seed=0, exclude={p.identity for p in train})
    assert len({p.prompt for p in train}) == 300
    assert not {p.prompt for p in train} & {p.prompt for p in test}


@pytest.mark.parametrize("family", ["math_oe", "general_oe", "general_mc"])
def test_rephrased_prompts_use_templates_never_seen_in_training(family):
    train_openings = {r["prompt"][:12] for r in synthetic_pairs(family, "train", 300, seed=0)}
    rephrased = synthetic_pairs(family, "rephrased", 50, seed=0)
    assert not {r["prompt"][:12] for r in rephrased} & train_openings


def test_harder_items_are_longer_than_trained():
    def trace_lines(variant):
        return statistics.mean(
            r["reasoning"].count("\n") for r in synthetic_pairs("math_oe", variant, 50, seed=0)
        )

    assert trace_lines("harder") > trace_lines("test")


def test_unknown_family_or_variant_is_named():
    with pytest.raises(ValueError, match="unknown task family 'physics'"):
        draw_problems("physics", "train", 1, 0)
    with pytest.raises(ValueError, match="unknown variant 'easy'"):
        draw_problems("math_oe", "easy", 1, 0)


def test_reasoning_targets_are_at_least_five_times_longer_in_tokens(small_tokenizer):
    def tokens(text):
        return len(small_tokenizer(text, add_special_tokens=False)["input_ids"])

    rows = [row for family in FAMILIES for row in synthetic_pairs(family, "train", 100, seed=0)]
    ratio = statistics.mean(tokens(r["reasoning"]) for r in rows) / statistics.mean(
        tokens(r["ift"]) for r in rows
    )
    assert ratio >= 5
