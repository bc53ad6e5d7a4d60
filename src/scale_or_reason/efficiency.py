"""Data-efficient distillation (issue 7; arXiv 2508.09883): which traces, and how few, and from
which teacher?

    sor study parameters/data_efficiency.yaml

A study with a `selection` section generates a candidate pool (`selection.candidate_pool`: the
first `questions_per_family` training questions, several equivalent traces each, a share made
wrong) beside its pairs, and trains one student per strategy × budget on what the strategy picks.
The `unsolved` strategy drops the pool questions that a cheap `probe` student, trained on other
questions, already answers: its evaluation also runs every pool question (`solved.json`).
A `teacher_choice` section distils the same questions, written by each candidate teacher, into a
small student and ranks the teachers by that student's gain over itself untrained (`base`).

This module builds those recipes' rows and the tables of `07_data_efficiency`: accuracy against
training examples and training FLOPs per strategy with their frontiers, and the teacher ranking.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from datasets import Dataset
from scipy import stats

from . import store
from .params import StudyParams, TeacherCandidate
from .pareto import pareto_mask
from .recipes import chat_example, parse_recipe
from .scoring import final_answer, is_correct
from .selection import (
    STRATEGIES, candidate_pool, inject_errors, select_diverse, select_length_cap, select_unsolved,
)  # fmt: skip
from .teachers import regranulate

POOL_FILE = Path("pool") / "train.jsonl"
QUESTIONS_FILE = Path("pool") / "questions.jsonl"
SOLVED_FILE = "solved.json"
POOL_TASK = "pool_questions"  # the probe's extra lm-eval task: every pool question once


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


def load_jsonl(path: Path) -> list[dict]:
    return pd.read_json(path, lines=True, dtype=False).to_dict("records")


# --- the probe: which pool questions does a cheap student already solve? -------------------------


def write_solved(folder: Path, records: list[dict], family_of: dict[str, str]) -> None:
    """From the probe's generations on the pool questions (`evaluate.sample_records`): the keys it
    answered right, written with its pass rate per family."""
    table = pd.DataFrame(records)
    correct = table["correct"].astype(bool)
    pass_rate = correct.groupby(table["id"].map(family_of)).mean()
    solved = sorted(table.loc[correct, "id"])
    store.write_json(
        folder / SOLVED_FILE, {"solved": solved, "questions": len(table), "pass_rate": pass_rate.to_dict()}
    )


def probe_pass_rates(study: StudyParams) -> dict[str, float]:
    """Per family, the share of pool questions the probe answered right ({} without a probe)."""
    probe = study.selection.probe
    folder = store.eval_dir(study, probe.scale, "probe") if probe else None
    return store.read_json(folder / SOLVED_FILE)["pass_rate"] if folder and store.is_complete(folder) else {}


def solved_questions(study: StudyParams) -> set[str]:
    probe = study.selection.probe
    folder = store.require_complete(
        store.eval_dir(study, probe.scale, "probe"), f"evaluation of the probe ({probe.scale})"
    )
    return set(store.read_json(folder / SOLVED_FILE)["solved"])


# --- the rows of each data-efficiency recipe -----------------------------------------------------


def _by_family(rows: list[dict]) -> dict[str, list[dict]]:
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
    return [row for rows in _by_family(pool).values() for row in pick(rows)]


def probe_pairs(study: StudyParams, pairs: list[dict]) -> list[dict]:
    """The probe's training pairs: per family, the `examples_per_family` questions after the pool's."""
    start, count = study.selection.questions_per_family, study.selection.probe.examples_per_family
    return [row for rows in _by_family(pairs).values() for row in rows[start : start + count]]


def teacher_sample(
    candidate: TeacherCandidate, pairs: list[dict], examples_per_family: int, seed: int
) -> list[dict]:
    """The first `examples_per_family` questions of each family as `candidate` writes them: the
    full trace, a share `error_rate` made wrong, then cut to its granularity (a wrong trace keeps
    its wrong answer)."""
    sample = [row for rows in _by_family(pairs).values() for row in rows[:examples_per_family]]
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
        return select(study, load_jsonl(data_folder / POOL_FILE), parsed.strategy, parsed.budget)
    return teacher_sample(
        _candidate(study, recipe), pairs, study.teacher_choice.examples_per_family, study.seed
    )


def training_rows(chosen: list[dict]) -> Dataset:
    """SFT rows of chosen traces, all in reasoning form."""
    rows = [
        {
            **chat_example(row["prompt"], row["reasoning"], thinking=True),
            "id": row["id"],
            "family": row["family"],
            "format": "reasoning",
        }
        for row in chosen
    ]
    return Dataset.from_list(rows)


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
        "per_family": {family: _stats(rows) for family, rows in _by_family(chosen).items()},
    }


# --- 07_data_efficiency: tables ------------------------------------------------------------------

def strategy_and_budget(recipe: str) -> tuple[str, int | None]:
    """A selection's strategy and budget; any other recipe is its own strategy, without budget."""
    parsed = parse_recipe(recipe)
    return parsed.strategy or recipe, parsed.budget


def _in_distribution(study: StudyParams, results: pd.DataFrame) -> pd.DataFrame:
    panels = study.family_panels()
    return results[results["benchmark"].isin(panels.values())]


def _training_facts(study: StudyParams, scale: str, recipe: str) -> dict:
    folder = store.train_dir(study, scale, recipe)
    facts = store.read_json(folder / "train_metrics.json")
    return facts.get("selection", {})


def selection_table(study: StudyParams, results: pd.DataFrame) -> pd.DataFrame:
    """Per selection run (and reference recipe) and family: accuracy in distribution, the traces
    trained on (`examples`; at most the budget), their distinct questions and share of right
    traces, and the run's training FLOPs; a `mean` row per run averages the families."""
    selection = study.selection
    runs = results[
        (results["scale"] == selection.scale)
        & results["recipe"].isin([*selection.reference, *selection.recipes()])
    ]
    rows = _in_distribution(study, runs).copy()
    split = rows["recipe"].map(strategy_and_budget)
    rows = rows.assign(strategy=split.str[0], budget=split.str[1])
    every_pair = {
        "examples": study.teacher.train_per_family,
        "questions": study.teacher.train_per_family,
        "correct_share": 1.0,
    }
    facts = {
        recipe: _training_facts(study, selection.scale, recipe).get("per_family", {})
        for recipe in rows["recipe"].unique()
    }
    held = rows.apply(
        lambda r: facts[r["recipe"]].get(r["family"], every_pair), axis=1
    )  # the references: every pair
    for column in ("examples", "questions", "correct_share"):
        rows[column] = held.map(lambda stats: stats[column])
    rows["budget"] = rows["budget"].astype("Int64")
    keep = [
        "strategy",
        "budget",
        "recipe",
        "family",
        "accuracy",
        "examples",
        "questions",
        "correct_share",
        "train_flops",
        "gen_tokens_mean",
    ]
    per_family = rows[keep]
    mean = per_family.groupby(["strategy", "budget", "recipe"], dropna=False, as_index=False).agg(
        accuracy=("accuracy", "mean"), examples=("examples", "mean"), questions=("questions", "mean"),
        correct_share=("correct_share", "mean"), train_flops=("train_flops", "first"), gen_tokens_mean=("gen_tokens_mean", "mean"),
    ).assign(family="mean")  # fmt: skip
    table = pd.concat([per_family, mean[keep]], ignore_index=True)
    return table.sort_values(["family", "strategy", "examples"]).reset_index(drop=True)


def with_frontiers(table: pd.DataFrame) -> pd.DataFrame:
    """Mark, per family, the selection runs no other beats on examples and accuracy
    (`on_examples_frontier`), and all runs, references included, on training FLOPs and accuracy."""
    table = table.copy()
    table["on_examples_frontier"] = False
    table["on_flops_frontier"] = False
    for family, group in table.groupby("family"):
        selected = group[group["budget"].notna()]
        table.loc[selected.index, "on_examples_frontier"] = pareto_mask(
            selected["examples"], selected["accuracy"]
        )
        table.loc[group.index, "on_flops_frontier"] = pareto_mask(group["train_flops"], group["accuracy"])
    return table


def fewest_examples(table: pd.DataFrame, reference: str = "reasoning") -> pd.DataFrame:
    """Per family: the reference recipe's accuracy and training FLOPs, and the selection run that
    matches it (within a point) with the fewest examples, with its share of the reference's FLOPs."""
    rows = []
    for family, group in table.groupby("family", sort=False):
        ref = group[group["strategy"] == reference]
        if ref.empty:
            continue
        ref = ref.iloc[0]
        matching = group[group["budget"].notna() & (group["accuracy"] >= ref["accuracy"] - 0.01)]
        best = matching.sort_values(["examples", "train_flops"]).iloc[0] if len(matching) else None
        rows.append({
            "family": family, "reference_accuracy": ref["accuracy"], "reference_examples": ref["examples"],
            "matched_by": best["recipe"] if best is not None else "—",
            "its_accuracy": best["accuracy"] if best is not None else float("nan"),
            "its_examples": best["examples"] if best is not None else float("nan"),
            "share_of_reference_flops": best["train_flops"] / ref["train_flops"] if best is not None else float("nan"),
        })  # fmt: skip
    return pd.DataFrame(rows)


def strategy_gains(table: pd.DataFrame) -> pd.DataFrame:
    """Each strategy's accuracy minus random's at the same budget (mean over families)."""
    mean = table[(table["family"] == "mean") & table["budget"].notna()]
    wide = mean.pivot_table(index="budget", columns="strategy", values="accuracy")
    if "random" not in wide:
        return pd.DataFrame()
    return wide.drop(columns="random").sub(wide["random"], axis=0).reset_index()


# --- teacher choice ------------------------------------------------------------------------------


def teacher_table(study: StudyParams, results: pd.DataFrame) -> pd.DataFrame:
    """Per candidate teacher: its own accuracy on the sample (share of traces ending in the right
    answer), the smoke student's in-distribution accuracy (mean over families), its gain over the
    untrained student, the training FLOPs, and both rankings (1: best)."""
    choice = study.teacher_choice
    home = _in_distribution(study, results[results["scale"] == choice.scale])
    accuracy = home.groupby("recipe")["accuracy"].mean()
    flops = home.groupby("recipe")["train_flops"].first()
    rows = []
    for teacher in choice.teachers:
        if teacher.recipe not in accuracy:
            continue
        own = _training_facts(study, choice.scale, teacher.recipe).get("correct_share", float("nan"))
        rows.append({
            "teacher": teacher.recipe.removeprefix("teacher-"), "granularity": teacher.granularity,
            "error_rate": teacher.error_rate, "teacher_accuracy": own, "student_accuracy": accuracy[teacher.recipe],
            "gain_over_base": accuracy[teacher.recipe] - accuracy.get("base", 0.0), "train_flops": flops[teacher.recipe],
        })  # fmt: skip
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["rank_by_gain"] = table["gain_over_base"].rank(ascending=False, method="min").astype(int)
    table["rank_by_teacher_accuracy"] = (
        table["teacher_accuracy"].rank(ascending=False, method="min").astype(int)
    )
    return table.sort_values("rank_by_gain").reset_index(drop=True)


def ranking_agreement(table: pd.DataFrame) -> dict:
    """Kendall's τ-b between the teachers' own accuracy and the student's gain (ties allowed), and
    whether the best teacher by one is among the best by the other."""
    if len(table) < 2:
        return {"kendall_tau": float("nan"), "best_by_gain": None, "best_by_teacher_accuracy": []}
    tau = stats.kendalltau(table["teacher_accuracy"], table["gain_over_base"]).statistic
    top = table["teacher_accuracy"].max()
    return {
        "kendall_tau": float(tau),
        "best_by_gain": table.loc[table["gain_over_base"].idxmax(), "teacher"],
        "best_by_teacher_accuracy": sorted(table.loc[table["teacher_accuracy"] == top, "teacher"]),
    }


# --- the summary ---------------------------------------------------------------------------------


def _points(value: float) -> str:
    return f"{value * 100:+.0f}"


def selection_headlines(
    table: pd.DataFrame, fewest: pd.DataFrame, gains: pd.DataFrame, pass_rates: dict[str, float], questions: int
) -> list[str]:
    lines = []
    mean = table[table["family"] == "mean"]
    references = mean[mean["budget"].isna()].set_index("strategy")
    if len(references):
        parts = ", ".join(
            f"{recipe} {row['accuracy']:.2f} on {row['examples']:,.0f} examples"
            for recipe, row in references.iterrows()
        )
        lines.append(f"Every pair, the paper's way (mean accuracy over families): {parts}.")
    for _, row in fewest.iterrows():
        if row["matched_by"] == "—":
            lines.append(
                f"{row['family']}: no selection reaches reasoning-on-every-pair's accuracy ({row['reference_accuracy']:.2f})."
            )
        else:
            lines.append(
                f"{row['family']}: {row['matched_by']} matches reasoning on every pair ({row['its_accuracy']:.2f} vs "
                f"{row['reference_accuracy']:.2f}) with {row['its_examples']:,.0f} traces per family (every pair: "
                f"{row['reference_examples']:,.0f}), at {row['share_of_reference_flops']:.0%} of its training FLOPs."
            )
    if pass_rates:
        solved = " and ".join(f"{rate:.0%} ({family})" for family, rate in pass_rates.items())
        left = " and ".join(f"{round((1 - rate) * questions):,}" for rate in pass_rates.values())
        lines.append(f"The probe already solves {solved} of the pool's questions: `unsolved` draws from {left} per family.")
    for _, row in gains.iterrows():
        parts = ", ".join(
            f"{strategy} {_points(row[strategy])}"
            for strategy in gains.columns
            if strategy != "budget" and pd.notna(row[strategy])
        )
        lines.append(
            f"At {row['budget']:,.0f} traces per family, accuracy points over random (mean over families): {parts}."
        )
    return lines


def teacher_headlines(teachers: pd.DataFrame, agreement: dict) -> list[str]:
    if teachers.empty:
        return []
    by_gain = ", ".join(
        f"{row['teacher']} ({_points(row['gain_over_base'])})" for _, row in teachers.iterrows()
    )
    by_own = teachers.sort_values("teacher_accuracy", ascending=False)
    own = ", ".join(f"{row['teacher']} ({row['teacher_accuracy']:.2f})" for _, row in by_own.iterrows())
    agrees = agreement["best_by_gain"] in agreement["best_by_teacher_accuracy"]
    tau = agreement["kendall_tau"]
    tau_text = "undefined (one ranking is all ties)" if pd.isna(tau) else f"{tau:.2f}"
    tied = teachers[teachers["teacher_accuracy"] == teachers["teacher_accuracy"].max()]
    spread = tied["gain_over_base"].max() - tied["gain_over_base"].min()
    separated = (
        f" The {len(tied)} teachers tied for the best own accuracy are {spread * 100:.0f} points apart by gain."
        if len(tied) > 1 else ""
    )  # fmt: skip
    return [
        f"Teachers ranked by the smoke student's gain (accuracy points over untrained): {by_gain}.",
        f"By their own accuracy on the sample: {own}. Kendall's τ between the two: {tau_text}; "
        f"the best teacher by gain ({agreement['best_by_gain']}) {'is' if agrees else 'is not'} among the most "
        f"accurate ({', '.join(agreement['best_by_teacher_accuracy'])}).{separated}",
    ]


def _printable(table: pd.DataFrame, counts: tuple[str, ...]) -> pd.DataFrame:
    """`counts` as whole numbers, a missing one (the references' budget) as a missing value."""
    table = table.copy()
    for column in counts:
        whole = [None if pd.isna(value) else int(round(value)) for value in table[column]]
        table[column] = pd.Series(whole, index=table.index, dtype=object)
    return table


def efficiency_markdown(study: StudyParams, tables: dict[str, pd.DataFrame], agreement: dict) -> str:
    from .summary import _table

    lines = []
    sections = [f"# {study.study}: data efficiency", study.description]
    if "selection" in tables:
        selection = study.selection
        found = (tables["selection"], tables["fewest_examples"], tables["strategy_gains"])
        lines += selection_headlines(*found, probe_pass_rates(study), selection.questions_per_family)
        sections.append(
            f"Pool: {selection.questions_per_family:,} questions per family × {selection.traces_per_question} equivalent "
            f"traces, {selection.error_rate:.0%} of the traces wrong; student `{selection.scale}`, "
            f"{study.training.epochs} epochs over whatever it is given."
        )
    if "teachers" in tables:
        lines += teacher_headlines(tables["teachers"], agreement)
    sections += ["## Headlines", "\n".join(f"- {line}" for line in lines)]
    if "selection" in tables:
        columns = ["family", "strategy", "budget", "examples", "questions", "correct_share", "accuracy", "train_flops",
                   "on_examples_frontier", "on_flops_frontier"]  # fmt: skip
        selected = _printable(tables["selection"][columns], ("budget", "examples", "questions"))
        selected["train_flops"] = selected["train_flops"].astype(float)
        fewest = _printable(tables["fewest_examples"], ("reference_examples", "its_examples"))
        sections += ["## Accuracy against training examples and FLOPs", _table(selected)]
        sections += ["## The fewest examples that match reasoning on every pair", _table(fewest)]
    if "teachers" in tables and not tables["teachers"].empty:
        sections += ["## Teacher choice by smoke test", _table(tables["teachers"].astype({"train_flops": float}))]
    return "\n\n".join(section for section in sections if section) + "\n"
