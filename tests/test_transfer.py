"""Transfer evaluation: the `related` task variant, the transfer table and the transfer-gap figure."""

import hashlib
import json
import re

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from conftest import PARAMETERS as PARAMETERS_DIR
from scale_or_reason.analysis import plots, transfer
from scale_or_reason.config.families import in_distribution_benchmarks
from scale_or_reason.config.params import load_study
from scale_or_reason.core.thinking import THINK_CLOSE
from scale_or_reason.data import tasks
from scale_or_reason.data.tasks import FAMILIES, MULTIPLY_TEMPLATES, NAMES, draw_problems, is_held_out
from scale_or_reason.data.teachers import synthetic_pairs

# --- the related variant --------------------------------------------------------------------

# Digests of 40 problems (prompt, answer, steps, key) per family and trained variant at seed 0,
# recorded before the related variant was added: adding a variant must not move a single draw.
# The arithmetic ones were recorded again when multiplication became 3-digit × 1-digit with the
# carry added on its own line, first-digit distractors and a scan of the options' first digits
# (issue 13), and the multiple-choice ones when its trace came to check the options against the
# product and again when every option came to be checked beside the product's digit, without the
# scan (same prompts and answers).
RECORDED_DIGESTS = {
    ("math_oe", "train"): "509fef4f2e51cdfb",
    ("math_oe", "test"): "b399f36a89708c19",
    ("math_oe", "rephrased"): "7b746a2a68827dc4",
    ("math_oe", "harder"): "6d1bfccb331f6e8d",
    ("math_mc", "train"): "f2f9a0cec447ae5a",
    ("math_mc", "test"): "724d0b3abb5d7bee",
    ("math_mc", "rephrased"): "b8d9572e24b22a69",
    ("math_mc", "harder"): "5051dbe14025d138",
    ("general_oe", "train"): "a64e9e60a2bc1ec1",
    ("general_oe", "test"): "8934d92905c41a08",
    ("general_oe", "rephrased"): "f885640d1c65e21d",
    ("general_oe", "harder"): "99e30b51b77543c6",
    ("general_mc", "train"): "0d1c5ea6825879f1",
    ("general_mc", "test"): "cb62b3263734a1fc",
    ("general_mc", "rephrased"): "2e75013116c13ce0",
    ("general_mc", "harder"): "21a3d79d7f8eac59",
}
TRAIN_COUNT = 3400  # the embedded study's training set per family


def digest(problems) -> str:
    blob = json.dumps([[p.prompt, p.answer, list(p.steps), p.key] for p in problems]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@pytest.mark.parametrize("family,variant", sorted(RECORDED_DIGESTS))
def test_trained_variants_draw_what_they_drew_before(family, variant):
    assert digest(draw_problems(family, variant, 40, seed=0)) == RECORDED_DIGESTS[(family, variant)]


def test_first_test_problem_as_recorded():
    problem = draw_problems("math_oe", "test", 1, seed=0)[0]
    assert (
        problem.prompt == "A shelf holds 209 jars. How many jars fit on 3 shelves? "
        "Put the final answer in \\boxed{}."
    )
    assert (problem.answer, problem.key) == ("627", "209x3")


def question(prompt: str) -> str:
    return prompt.split("Put the final")[0]


def options(prompt: str) -> dict[str, int]:
    return {letter: int(value) for letter, value in re.findall(r"^([A-D])\) (\d+)$", prompt, re.M)}


def test_related_products_are_right_with_the_factors_swapped():
    for problem in draw_problems("math_oe", "related", 100, seed=0):
        small, large = map(int, re.findall(r"\d+", question(problem.prompt)))
        assert small < 10 and 100 <= large < 1000  # the one-digit factor now comes first
        assert problem.answer == str(small * large)
        assert problem.steps[0] == f"{small} × {large} = {large} × {small}"
        assert problem.steps[-1].endswith(f"so far {small * large}")


def test_related_choices_point_at_the_product():
    for problem in draw_problems("math_mc", "related", 100, seed=0):
        small, large = map(int, re.findall(r"\d+", question(problem.prompt).split("\n")[0]))
        choices = options(problem.prompt)
        assert small < 10 <= large and len(set(choices.values())) == 4
        assert choices[problem.answer] == small * large
        target = str(small * large)[0]
        verdicts = {x: f"yes {x}" if x == problem.answer else "no" for x in "ABCD"}
        checks = ", ".join(f"{x} {str(choices[x])[0]} vs {target} {verdicts[x]}" for x in "ABCD")
        assert problem.steps[-1] == f"{small * large} starts with {target}: {checks}"
        assert problem.steps[0] == f"{small} × {large} = {large} × {small}"  # no scan before the product


def test_related_sorts_are_descending():
    for problem in draw_problems("general_oe", "related", 100, seed=0):
        digits = [int(d) for d in re.findall(r"\d", question(problem.prompt))]
        assert 3 <= len(digits) <= 5
        assert problem.answer == ", ".join(str(d) for d in sorted(digits, reverse=True))
        assert problem.steps[0].startswith(f"{max(digits)} appears")


@pytest.mark.parametrize(
    "options,steps",
    [
        ([65, 92, 11, 79], ("first digits: 6, 9, 1, 7", "smallest first digit 1: 11")),
        (
            [15, 40, 12, 90],
            ("first digits: 1, 4, 1, 9", "smallest first digit 1: 15, 12", "smallest of these: 12"),
        ),
    ],
)
def test_smallest_trace(options, steps):
    assert tasks.smallest_steps(options) == steps


def test_descending_trace_counts_from_the_largest_digit():
    assert tasks.descending_sort_steps([3, 1, 3]) == ("3 appears twice", "1 appears once", "sorted: 3, 3, 1")


def test_related_choices_pick_the_smallest():
    for problem in draw_problems("general_mc", "related", 100, seed=0):
        choices = options(problem.prompt)
        assert choices[problem.answer] == min(choices.values())
        assert all(10 <= value < 100 for value in choices.values())


@pytest.mark.parametrize("family", FAMILIES)
def test_related_pairs_end_in_the_same_boxed_answer(family):
    rows = synthetic_pairs(family, "related", 40, seed=0)
    assert rows == synthetic_pairs(family, "related", 40, seed=0)
    for row in rows:
        assert row["prompt"].endswith("Put the final answer in \\boxed{}.")
        trace, answer = row["reasoning"].split(THINK_CLOSE)
        assert answer.strip() == row["ift"] == f"\\boxed{{{row['answer']}}}"
        assert row["answer"] in trace  # the trace really reaches the answer it boxes


@pytest.mark.parametrize("family", FAMILIES)
def test_related_questions_are_never_training_questions(family):
    train = draw_problems(family, "train", TRAIN_COUNT, seed=0)
    related = draw_problems(family, "related", 100, seed=0)  # no exclusion: held out by construction
    assert not {p.prompt for p in train} & {p.prompt for p in related}
    if family.startswith("math"):
        assert not {p.key for p in train} & {p.key for p in related}  # no product trained on
        assert all(is_held_out(p.key, 0) for p in related)
    else:  # the question itself is one never asked in training, whatever the numbers
        assert not {shape(p.prompt) for p in train} & {shape(p.prompt) for p in related}


def shape(prompt: str) -> str:
    """The question with its numbers and names blanked out."""
    return re.sub(r"\d+", "N", re.sub("|".join(NAMES), "NAME", question(prompt).split("\n")[0]))


def test_related_arithmetic_keeps_the_training_prompt_style():
    """Every related word problem is a training template with its numbers swapped."""
    shapes = {re.sub(r"\{[ab]\}", "N", template) for template in MULTIPLY_TEMPLATES}
    for problem in draw_problems("math_oe", "related", 100, seed=0):
        assert re.sub(r"\d+", "N", question(problem.prompt)).strip() in shapes


# --- the transfer table ---------------------------------------------------------------------

VARIANTS = {
    "arith": ("math_oe", "test"),
    "arith_rephrased": ("math_oe", "rephrased"),
    "arith_related": ("math_oe", "related"),
    "pick": ("general_mc", "test"),
    "pick_harder": ("general_mc", "harder"),
    "sort_longer": ("general_oe", "harder"),  # no in-distribution benchmark of its family
}
# (scale, params, recipe) → accuracy per benchmark; the s reasoning student lacks `pick`.
ACCURACY = {
    ("xs", 10, "ift"): {
        "arith": 0.20,
        "arith_rephrased": 0.10,
        "arith_related": 0.00,
        "pick": 0.50,
        "pick_harder": 0.00,
        "sort_longer": 0.3,
    },
    ("xs", 10, "reasoning"): {
        "arith": 0.40,
        "arith_rephrased": 0.10,
        "arith_related": 0.20,
        "pick": 0.30,
        "pick_harder": 0.00,
        "sort_longer": 0.3,
    },
    ("s", 100, "ift"): {
        "arith": 0.30,
        "arith_rephrased": 0.25,
        "arith_related": 0.05,
        "pick": 0.60,
        "pick_harder": 0.40,
        "sort_longer": 0.3,
    },
    ("s", 100, "reasoning"): {
        "arith": 0.90,
        "arith_rephrased": 0.70,
        "arith_related": 0.85,
        "pick_harder": 0.50,
        "sort_longer": 0.3,
    },
    ("s", 100, "mixed-50"): {
        "arith": 0.50,
        "arith_rephrased": 0.60,
        "arith_related": 0.20,
        "pick": 0.50,
        "pick_harder": 0.10,
        "sort_longer": 0.3,
    },
}


@pytest.fixture
def results() -> pd.DataFrame:
    rows = [
        {
            "scale": scale,
            "params": params,
            "recipe": recipe,
            "order": recipe.split("-")[0],
            "family": VARIANTS[benchmark][0],
            "benchmark": benchmark,
            "accuracy": accuracy,
            "n": 10,
        }
        for (scale, params, recipe), scores in ACCURACY.items()
        for benchmark, accuracy in scores.items()
    ]
    return pd.DataFrame(rows).sample(frac=1, random_state=0)  # order must not matter


@pytest.fixture
def table(results) -> pd.DataFrame:
    return transfer.transfer_gaps(results, VARIANTS)


def test_gaps_by_hand(table):
    got = {
        (r.scale, r.recipe, r.benchmark): (r.in_distribution, r.accuracy, round(r.gap, 6))
        for r in table.itertuples()
    }
    assert got == {
        ("xs", "ift", "arith_rephrased"): (0.20, 0.10, 0.10),
        ("xs", "reasoning", "arith_rephrased"): (0.40, 0.10, 0.30),
        ("s", "ift", "arith_rephrased"): (0.30, 0.25, 0.05),
        ("s", "mixed-50", "arith_rephrased"): (0.50, 0.60, -0.10),
        ("s", "reasoning", "arith_rephrased"): (0.90, 0.70, 0.20),
        ("xs", "ift", "arith_related"): (0.20, 0.00, 0.20),
        ("xs", "reasoning", "arith_related"): (0.40, 0.20, 0.20),
        ("s", "ift", "arith_related"): (0.30, 0.05, 0.25),
        ("s", "mixed-50", "arith_related"): (0.50, 0.20, 0.30),
        ("s", "reasoning", "arith_related"): (0.90, 0.85, 0.05),
        ("xs", "ift", "pick_harder"): (0.50, 0.00, 0.50),
        ("xs", "reasoning", "pick_harder"): (0.30, 0.00, 0.30),
        ("s", "ift", "pick_harder"): (0.60, 0.40, 0.20),
        ("s", "mixed-50", "pick_harder"): (0.50, 0.10, 0.40),
    }  # no sort_longer (no in-distribution set), no s reasoning on pick_harder (no `pick` row)


def test_table_order_kinds_and_retained_share(table):
    assert list(dict.fromkeys(table["family"])) == ["math_oe", "general_mc"]
    assert list(dict.fromkeys(table["kind"])) == ["rephrased", "related", "harder"]
    assert list(table["scale"].iloc[:5]) == ["xs", "xs", "s", "s", "s"]
    related = table[table["benchmark"] == "arith_related"].set_index(["scale", "recipe"])
    assert related.loc[("s", "reasoning"), "transfer"] == "task"
    assert related.loc[("s", "reasoning"), "retained"] == pytest.approx(0.85 / 0.9)
    assert related.loc[("xs", "ift"), "retained"] == 0


def test_reasoning_gap_smaller_by_hand(table):
    comparison = transfer.compare_gaps(table).set_index(["benchmark", "scale"])
    assert comparison["reasoning_smaller"].to_dict() == {
        ("arith_rephrased", "xs"): False,  # 0.30 against 0.10
        ("arith_rephrased", "s"): False,  # 0.20 against 0.05
        ("arith_related", "xs"): False,  # 0.20 against 0.20: a tie is not smaller
        ("arith_related", "s"): True,  # 0.05 against 0.25
        ("pick_harder", "xs"): True,  # 0.30 against 0.50, but both score 0 off distribution
    }
    assert comparison["both_at_zero"].to_dict()[("pick_harder", "xs")]
    assert comparison["both_at_zero"].sum() == 1


def test_gaps_averaged_per_family_and_scale(table):
    comparison = transfer.compare_gaps(table, transfer.FAMILY_SCALE).set_index(["family", "scale"])
    assert comparison.loc[("math_oe", "s"), "ift_gap"] == pytest.approx((0.05 + 0.25) / 2)
    assert comparison.loc[("math_oe", "s"), "reasoning_gap"] == pytest.approx((0.20 + 0.05) / 2)
    assert comparison.loc[("math_oe", "s"), "reasoning_smaller"]
    assert not comparison.loc[("math_oe", "xs"), "reasoning_smaller"]  # 0.25 against 0.15


def test_headlines_count_cells_and_name_the_floor(table):
    lines = transfer.transfer_headlines(table)
    assert len(lines) == 3
    assert "prompt style (rephrased)" in lines[0] and "smaller than IFT's in 0 of 2 " in lines[0]
    assert "difficulty (harder)" in lines[1] and "smaller than IFT's in 1 of 1 " in lines[1]
    assert "task (related)" in lines[2] and "smaller than IFT's in 1 of 2 " in lines[2]
    assert "In 1 of them both formats score 0" in lines[1]
    assert "score 0" not in lines[0] + lines[2]


def test_markdown_table(table):
    text = transfer.transfer_markdown(table)
    header = next(line for line in text.splitlines() if line.startswith("| family"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "family",
        "scale",
        "recipe",
        "in-distribution",
        "prompt style (rephrased)",
        "difficulty (harder)",
        "task (related)",
    ]
    row = next(line for line in text.splitlines() if re.match(r"\| math_oe +\| s +\| reasoning", line))
    assert [c.strip() for c in row.strip("|").split("|")][3:] == ["0.90", "0.70 (0.20)", "—", "0.85 (0.05)"]
    assert "mixed-50" not in text
    assert "mixed-50" in transfer.transfer_markdown(table, recipes=("ift", "reasoning", "mixed-50"))


def test_no_transfer_sets_no_markdown(results):
    only_in_distribution = {name: fv for name, fv in VARIANTS.items() if fv[1] == "test"}
    empty = transfer.transfer_gaps(results, only_in_distribution)
    assert (
        empty.empty and transfer.transfer_markdown(empty) == "" and transfer.transfer_headlines(empty) == []
    )


def test_variants_of_a_study():
    study = load_study(PARAMETERS_DIR / "transfer.yaml")
    variants = study.benchmark_variants()
    assert variants["math_oe_rephrased"] == ("math_oe", "rephrased")
    assert variants["general_oe_longer"] == ("general_oe", "harder")
    assert in_distribution_benchmarks(variants) == study.family_panels()


# --- the figure -----------------------------------------------------------------------------


def test_transfer_gap_figure_writes_png_and_pdf(table, tmp_path):
    plots.set_style()
    figure = plots.transfer_gap(table, ["xs", "s"])
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible() and ax.get_title()]
    assert titles == [
        "math_oe: prompt style\n(arith_rephrased)",
        "math_oe: task\n(arith_related)",
        "general_mc: difficulty\n(pick_harder)",
    ]
    assert figure.axes[0].get_xscale() == "log"
    written = plots.save(figure, [tmp_path], "transfer_gap")
    plt.close(figure)
    assert [path.name for path in written] == ["transfer_gap.png", "transfer_gap.pdf"]
    assert written[0].read_bytes()[:4] == b"\x89PNG" and written[1].read_bytes()[:4] == b"%PDF"
