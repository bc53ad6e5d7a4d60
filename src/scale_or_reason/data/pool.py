"""A data-efficiency study's training data (arXiv 2508.09883): which traces, how few, from which
teacher.

A study with a `selection` section generates a candidate pool (`selection.candidate_pool`: the
first `questions_per_family` training questions, several equivalent traces each, a share made
wrong) beside its pairs; each strategy × budget recipe trains on what the strategy picks from it.
The `unsolved` strategy drops the pool questions that a cheap `probe` student, trained on other
questions, already answers: its evaluation writes them to `solved.json`. A `teacher_choice`
section distils the same questions, written by each candidate teacher, into a small student.

This module builds the rows of those recipes (in the pair schema, `reasoning` the trace to train
on); `data.sft_rows.reasoning_rows` turns them into SFT rows.
"""

from __future__ import annotations

from pathlib import Path

from .. import units
from ..config.params import StudyParams, TeacherCandidate
from ..config.recipes import parse_recipe
from ..core import files
from ..core.answers import final_answer, is_correct
from .selection import (
    STRATEGIES,
    candidate_pool,
    inject_errors,
    select_diverse,
    select_length_cap,
    select_unsolved,
)
from .teachers import regranulate

POOL_FILE = Path("pool") / "train.jsonl"
QUESTIONS_FILE = Path("pool") / "questions.jsonl"
SOLVED_FILE = "solved.json"  # written by the probe's evaluation
POOL_TASK = "pool_questions"  # the probe's extra lm-eval task: every pool question once
LEGACY_COLUMNS = {"trace_tokens": "trace_chars"}  # pools written before the column said what it counts


# --- the pool, written by the generation unit ----------------------------------------------------


def study_pool(study: StudyParams) -> list[dict]:
    """The candidate pool of every family the teacher teaches."""
    selection = study.selection
    return [
        row
        for family in study.teacher.families
        for row in candidate_pool(
            family,
            selection.questions_per_family,
            selection.traces_per_question,
            selection.error_rate,
            study.seed,
        )
    ]


def pool_questions(pool: list[dict]) -> list[dict]:
    """Each pool question once (prompt and right answer), as the probe's benchmark."""
    first = {}
    for row in pool:
        first.setdefault(row["question_key"], row)
    return [
        {"id": row["question_key"], "family": row["family"], "prompt": row["prompt"], "answer": row["answer"]}
        for row in first.values()
    ]


def load_pool(data_folder: Path) -> list[dict]:
    rows = files.read_jsonl(data_folder / POOL_FILE)
    return [{LEGACY_COLUMNS.get(column, column): value for column, value in row.items()} for row in rows]


# --- the probe: which pool questions does a cheap student already solve? -------------------------


def solved_questions(study: StudyParams) -> set[str]:
    probe = study.selection.probe
    folder = units.require_complete(
        units.eval_dir(study, probe.scale, "probe"), f"evaluation of the probe ({probe.scale})"
    )
    return set(files.read_json(folder / SOLVED_FILE)["solved"])


# --- the rows of each data-efficiency recipe -----------------------------------------------------


def by_family(rows: list[dict]) -> dict[str, list[dict]]:
    families: dict[str, list[dict]] = {}
    for row in rows:
        families.setdefault(row["family"], []).append(row)
    return families


def select(study: StudyParams, pool: list[dict], strategy: str, budget: int) -> list[dict]:
    """`budget` traces per family picked by `strategy` (all of them if the strategy admits fewer)."""
    selection, seed = study.selection, study.seed
    solved = solved_questions(study) if strategy == "unsolved" else frozenset()
    pick = {
        "length_cap": lambda rows: select_length_cap(rows, budget, seed, selection.length_percentile),
        "diverse": lambda rows: select_diverse(rows, budget, seed, selection.diverse_per_question),
        "unsolved": lambda rows: select_unsolved(rows, budget, seed, solved=solved),
    }.get(strategy, lambda rows: STRATEGIES[strategy](rows, budget, seed))
    return [row for rows in by_family(pool).values() for row in pick(rows)]


def probe_pairs(study: StudyParams, pairs: list[dict]) -> list[dict]:
    """The probe's training pairs: per family, the `examples_per_family` questions after the pool's."""
    start, count = study.selection.questions_per_family, study.selection.probe.examples_per_family
    return [row for rows in by_family(pairs).values() for row in rows[start : start + count]]


def teacher_sample(
    candidate: TeacherCandidate, pairs: list[dict], examples_per_family: int, seed: int
) -> list[dict]:
    """The first `examples_per_family` questions of each family as `candidate` writes them: the
    full trace, a share `error_rate` made wrong, then cut to its granularity (a wrong trace keeps
    its wrong answer)."""
    sample = [row for rows in by_family(pairs).values() for row in rows[:examples_per_family]]
    written = []
    for row in inject_errors(sample, candidate.error_rate, seed):
        reached = final_answer(row["reasoning"])
        written.append(
            {**row, "reasoning": regranulate(row["reasoning"], row["task"], reached, candidate.granularity)}
        )
    return written


def _candidate(study: StudyParams, recipe: str) -> TeacherCandidate:
    return next(t for t in study.teacher_choice.teachers if t.recipe == recipe)


def pool_recipe_pairs(study: StudyParams, data_folder: Path, pairs: list[dict], recipe: str) -> list[dict]:
    """The rows (pair schema, `reasoning` the trace to train on) of a data-efficiency recipe."""
    parsed = parse_recipe(recipe)
    if recipe == "base":
        return []
    if recipe == "probe":
        return probe_pairs(study, pairs)
    if parsed.strategy:
        return select(study, load_pool(data_folder), parsed.strategy, parsed.budget)
    return teacher_sample(
        _candidate(study, recipe), pairs, study.teacher_choice.examples_per_family, study.seed
    )


def _stats(chosen: list[dict]) -> dict:
    return {
        "examples": len(chosen),
        "questions": len({row.get("question_key", row["key"]) for row in chosen}),
        "correct_share": sum(is_correct(row["reasoning"], row["answer"]) for row in chosen) / len(chosen),
        "trace_chars_mean": sum(len(row["reasoning"]) for row in chosen) / len(chosen),
    }


def selection_stats(chosen: list[dict]) -> dict:
    """What a training set holds, in all and per family: traces, distinct questions, share of
    traces that reach the right answer, mean trace length in characters."""
    if not chosen:
        raise ValueError("no rows were chosen")
    return {
        **_stats(chosen),
        "per_family": {family: _stats(rows) for family, rows in by_family(chosen).items()},
    }
