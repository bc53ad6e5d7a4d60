"""Data-efficiency recipes: the parameters that define them, the rows each trains on, and the
tables 07_data_efficiency draws."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from conftest import REPO
from scale_or_reason import units
from scale_or_reason.analysis import efficiency
from scale_or_reason.config.params import ParametersError, TeacherCandidate, load_study, parse_study
from scale_or_reason.config.recipes import parse_recipe
from scale_or_reason.core.answers import final_answer, is_correct
from scale_or_reason.core.thinking import THINK_CLOSE, THINK_OPEN
from scale_or_reason.data import pool as pool_data
from scale_or_reason.data.teachers import synthetic_pairs
from scale_or_reason.orchestration import estimates

FIXTURE = REPO / "tests" / "fixtures" / "configs" / "data_efficiency_smoke.yaml"


@pytest.fixture
def study():
    return load_study(FIXTURE)


# --- recipes and parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, order, share, granularity",
    [
        ("select-unsolved-250", "select", 1.0, "full"),
        ("teacher-key-30", "teacher", 1.0, "key"),
        ("probe", "probe", 1.0, "full"),
        ("base", "base", 0.0, "full"),
    ],
)
def test_pool_recipes_parse_and_come_from_the_pool(name, order, share, granularity):
    recipe = parse_recipe(name)
    assert (recipe.kind, recipe.reasoning_share, recipe.granularity, recipe.from_pool) == (
        order,
        share,
        granularity,
        True,
    )
    assert not parse_recipe("reasoning").from_pool


@pytest.mark.parametrize("name", ["select-random-0", "teacher-coarse-0", "select-random"])
def test_malformed_pool_recipes_are_refused(name):
    with pytest.raises(ValueError, match="unknown recipe"):
        parse_recipe(name)


def test_the_study_trains_each_pool_student_once(study):
    students = units.students(study)
    assert len(students) == len(set(students))
    assert ("tiny", "probe") in students and ("tiny", "base") in students
    assert ("tiny", "select-unsolved-16") in students and ("tiny", "teacher-answer-50") in students
    assert [s for s in students if s[1] == "reasoning"] == [("tiny", "reasoning")]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["selection"].update(probe=None), "strategy 'unsolved' needs `probe`"),
        (lambda d: d["selection"].update(scale="huge"), "selection.scale names 'huge'"),
        (lambda d: d["teacher_choice"].update(scale="huge"), "teacher_choice.scale names 'huge'"),
        (
            lambda d: d["selection"].update(questions_per_family=25),
            r"probe.examples_per_family \(35\) exceeds teacher.train_per_family \(30\)",
        ),
        (
            lambda d: d["teacher_choice"].update(teachers=[{"granularity": "key"}, {"granularity": "key"}]),
            "teachers repeat",
        ),
        (lambda d: d["selection"].update(strategies=["fastest"]), "selection.strategies.0"),
        (lambda d: d["teacher"].update(kind="released", source="x.jsonl"), "need the synthetic teacher"),
    ],
)
def test_bad_selection_parameters_name_their_key(study, change, message):
    data = study.model_dump(mode="json")
    change(data)
    with pytest.raises(ParametersError, match=message):
        parse_study(data, "data_efficiency.yaml")


def test_unsolved_waits_for_the_probe_and_the_study_has_its_own_analysis(study):
    planned = {unit.key: unit for unit in units.plan(study, FIXTURE)}
    assert "evaluate:tiny-probe" in planned["train:tiny-select-unsolved-8"].needs
    assert "evaluate:tiny-probe" not in planned["train:tiny-select-correct_only-8"].needs
    assert "analyze:study" not in planned  # no recipes ladder for the paper's analysis
    assert set(planned["efficiency:study"].needs) == {key for key in planned if key.startswith("evaluate:")}


def test_selection_settings_reach_only_the_folders_they_shape(study):
    data = study.model_dump(mode="json")
    data["selection"]["length_percentile"] = 40.0
    changed = parse_study(data)
    assert units.train_dir(changed, "tiny", "select-correct_only-8") != units.train_dir(
        study, "tiny", "select-correct_only-8"
    )
    assert units.train_dir(changed, "tiny", "teacher-full-0") == units.train_dir(
        study, "tiny", "teacher-full-0"
    )
    data["selection"]["error_rate"] = 0.5  # a different pool: new data, so every folder moves
    assert units.data_dir(parse_study(data)) != units.data_dir(study)


# --- the rows each recipe trains on --------------------------------------------------------------


@pytest.fixture
def pool(study):
    return pool_data.study_pool(study)


def test_selection_picks_the_budget_per_family_and_repeats_itself(study, pool):
    chosen = pool_data.select(study, pool, "correct_only", 8)
    assert pd.Series([row["family"] for row in chosen]).value_counts().to_dict() == {
        "general_oe": 8,
        "general_mc": 8,
    }
    assert all(is_correct(row["reasoning"], row["answer"]) for row in chosen)
    assert [row["id"] for row in chosen] == [
        row["id"] for row in pool_data.select(study, pool, "correct_only", 8)
    ]


def test_unsolved_drops_what_the_probe_solved(study, pool, monkeypatch):
    solved = {row["question_key"] for row in pool[::5]}
    monkeypatch.setattr(pool_data, "solved_questions", lambda study: solved)
    chosen = pool_data.select(study, pool, "unsolved", 1000)
    assert chosen and not {row["question_key"] for row in chosen} & solved
    assert len(chosen) == sum(row["question_key"] not in solved for row in pool)


def test_the_probe_trains_on_questions_outside_the_pool(study, pool):
    pairs = [
        row for family in study.teacher.families for row in synthetic_pairs(family, "train", 30, study.seed)
    ]
    probe = pool_data.probe_pairs(study, pairs)
    assert len(probe) == 2 * study.selection.probe.examples_per_family
    assert not {row["key"] for row in probe} & {row["question_key"] for row in pool}


@pytest.mark.parametrize("granularity", ["full", "key", "answer"])
def test_a_teacher_writes_exactly_its_error_share_at_its_granularity(granularity):
    pairs = [
        row
        for family in ("general_oe", "general_mc", "math_oe")
        for row in synthetic_pairs(family, "train", 40, 3)
    ]
    candidate = TeacherCandidate(granularity=granularity, error_rate=0.3)
    sample = pool_data.teacher_sample(candidate, pairs, 20, seed=3)
    wrong = [row for row in sample if not is_correct(row["reasoning"], row["answer"])]
    assert len(sample) == 60 and len(wrong) == round(0.3 * 60)
    assert all(not row["trace_correct"] for row in wrong)
    if granularity == "answer":
        assert all(row["reasoning"].startswith(f"{THINK_OPEN}\n\n{THINK_CLOSE}") for row in sample)
    right = [row for row in sample if row["trace_correct"]]
    assert all(final_answer(row["reasoning"]) == row["answer"] for row in right)
    assert sample == pool_data.teacher_sample(candidate, pairs, 20, seed=3)


def test_selection_stats_count_traces_questions_and_right_answers():
    rows = [
        {"question_key": "a", "key": "a", "reasoning": "<think>\nx\n</think>\n\n\\boxed{1}", "answer": "1"},
        {"question_key": "a", "key": "a", "reasoning": "<think>\ny\n</think>\n\n\\boxed{2}", "answer": "1"},
        {"question_key": "b", "key": "b", "reasoning": "<think>\nz\n</think>\n\n\\boxed{3}", "answer": "3"},
    ]
    rows = [{**row, "family": family} for row, family in zip(rows, ["f", "f", "g"], strict=True)]
    stats = pool_data.selection_stats(rows)
    assert (stats["examples"], stats["questions"], stats["correct_share"]) == (3, 2, 2 / 3)
    assert stats["per_family"]["f"]["correct_share"] == 0.5 and stats["per_family"]["g"]["examples"] == 1


# --- the tables ----------------------------------------------------------------------------------


def _table() -> pd.DataFrame:
    rows = [
        ("random", 100, 0.30, 100, 1e9),
        ("random", 200, 0.50, 200, 2e9),
        ("correct_only", 100, 0.45, 100, 1e9),
        ("correct_only", 200, 0.60, 200, 2e9),
        ("length_cap", 200, 0.55, 200, 1.2e9),
        ("reasoning", None, 0.58, 1000, 9e9),
        ("ift", None, 0.20, 1000, 1e9),
    ]
    table = pd.DataFrame(rows, columns=["strategy", "budget", "accuracy", "examples", "train_flops"])
    table["recipe"] = [f"select-{s}-{b}" if b else s for s, b, *_ in rows]
    return table.assign(family="mean")


def test_frontiers_mark_the_runs_nothing_beats():
    table = efficiency.with_frontiers(_table()).set_index("recipe")
    assert list(table.index[table["on_examples_frontier"]]) == [
        "select-correct_only-100",
        "select-correct_only-200",
    ]
    on_flops = set(table.index[table["on_flops_frontier"]])
    assert on_flops == {"select-correct_only-100", "select-length_cap-200", "select-correct_only-200"}


def test_the_fewest_examples_matching_reasoning_on_every_pair():
    fewest = efficiency.fewest_examples(_table()).iloc[0]
    assert fewest["matched_by"] == "select-correct_only-200"  # 0.60 ≥ 0.58 − 0.01; length_cap's 0.55 is not
    assert fewest["share_of_reference_flops"] == pytest.approx(2 / 9)


def test_strategy_gains_are_over_random_at_the_same_budget():
    gains = efficiency.strategy_gains(_table()).set_index("budget")
    assert gains.loc[100, "correct_only"] == pytest.approx(0.15) and gains.loc[
        200, "length_cap"
    ] == pytest.approx(0.05)
    assert math.isnan(gains.loc[100, "length_cap"])


def test_ranking_agreement_between_teacher_accuracy_and_gain():
    teachers = pd.DataFrame(
        {
            "teacher": ["full-0", "key-0", "full-30"],
            "teacher_accuracy": [1.0, 1.0, 0.7],
            "gain_over_base": [0.2, 0.5, 0.1],
        }
    )
    agreement = efficiency.ranking_agreement(teachers)
    assert agreement["best_by_gain"] == "key-0" and agreement["best_by_teacher_accuracy"] == [
        "full-0",
        "key-0",
    ]
    assert agreement["kendall_tau"] == pytest.approx(0.8164965809)  # τ-b with one tie, by hand: 2 / √6
    reversed_gains = teachers.assign(gain_over_base=[0.1, 0.1, 0.5])
    assert efficiency.ranking_agreement(reversed_gains)["kendall_tau"] < 0


def test_the_plan_charges_each_recipe_for_the_rows_it_trains_on(study):
    lengths = {"prompt": 20.0, "ift": 5.0, "reasoning": 40.0}
    every_pair, _ = estimates.unit_flops(study, "tiny", "reasoning", lengths)
    selection, _ = estimates.unit_flops(study, "tiny", "select-correct_only-8", lengths)
    teacher, _ = estimates.unit_flops(study, "tiny", "teacher-full-0", lengths)
    assert selection == pytest.approx(every_pair * 8 / 30) and teacher == pytest.approx(every_pair * 10 / 30)
    assert estimates.unit_flops(study, "tiny", "base", lengths)[0] == 0
