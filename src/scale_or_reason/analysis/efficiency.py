"""The tables of a data-efficiency study (`07_data_efficiency`; arXiv 2508.09883): accuracy
against training examples and training FLOPs per selection strategy with their frontiers, the
fewest examples that match reasoning on every pair, and the candidate teachers ranked by a smoke
student's gain over itself untrained. The recipes' rows are built in `data.pool`.
"""

from __future__ import annotations

from operator import itemgetter

import pandas as pd
from scipy import stats

from .. import units
from ..config.params import StudyParams
from ..config.recipes import parse_recipe
from ..core import files
from ..data.pool import SOLVED_FILE
from .markdown import markdown_table
from .pareto import mark_frontiers
from .results import in_distribution

# --- 07_data_efficiency: tables ------------------------------------------------------------------


def strategy_and_budget(recipe: str) -> tuple[str, int | None]:
    """A selection's strategy and budget; any other recipe is its own strategy, without budget."""
    parsed = parse_recipe(recipe)
    return parsed.strategy or recipe, parsed.budget


def _training_facts(study: StudyParams, scale: str, recipe: str) -> dict:
    seed = units.run_seeds(study, recipe)[0]  # what a run trained on is the study's data, whatever its seed
    facts = files.read_json(units.train_dir(study, scale, recipe, seed) / "train_metrics.json")
    return facts.get("selection", {})


def probe_pass_rates(study: StudyParams) -> dict[str, float]:
    """Per family, the share of pool questions the probe answered right ({} without a probe)."""
    probe = study.selection.probe
    folder = units.eval_dir(study, probe.scale, "probe") if probe else None
    return files.read_json(folder / SOLVED_FILE)["pass_rate"] if folder and units.is_complete(folder) else {}


def selection_table(study: StudyParams, results: pd.DataFrame) -> pd.DataFrame:
    """Per selection run (and reference recipe) and family: accuracy in distribution, the traces
    trained on (`examples`; at most the budget), their distinct questions and share of right
    traces, and the run's training FLOPs; a `mean` row per run averages the families."""
    selection = study.selection
    runs = results[
        (results["scale"] == selection.scale)
        & results["recipe"].isin([*selection.reference, *selection.recipes()])
    ]
    rows = in_distribution(runs, study.family_panels()).copy()
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
    # The references trained on every pair.
    held = rows.apply(lambda r: facts[r["recipe"]].get(r["family"], every_pair), axis=1)
    for column in ("examples", "questions", "correct_share"):
        rows[column] = held.map(itemgetter(column))
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
    mean = (
        per_family.groupby(["strategy", "budget", "recipe"], dropna=False, as_index=False)
        .agg(
            accuracy=("accuracy", "mean"),
            examples=("examples", "mean"),
            questions=("questions", "mean"),
            correct_share=("correct_share", "mean"),
            train_flops=("train_flops", "first"),
            gen_tokens_mean=("gen_tokens_mean", "mean"),
        )
        .assign(family="mean")
    )
    table = pd.concat([per_family, mean[keep]], ignore_index=True)
    return table.sort_values(["family", "strategy", "examples"]).reset_index(drop=True)


def with_frontiers(table: pd.DataFrame) -> pd.DataFrame:
    """Mark, per family, the selection runs no other beats on examples and accuracy
    (`on_examples_frontier`), and all runs, references included, on training FLOPs and accuracy."""
    table = mark_frontiers(
        table, "family", {"on_examples_frontier": "examples"}, among=table["budget"].notna()
    )
    return mark_frontiers(table, "family", {"on_flops_frontier": "train_flops"})


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
        rows.append(
            {
                "family": family,
                "reference_accuracy": ref["accuracy"],
                "reference_examples": ref["examples"],
                "matched_by": best["recipe"] if best is not None else "—",
                "its_accuracy": best["accuracy"] if best is not None else float("nan"),
                "its_examples": best["examples"] if best is not None else float("nan"),
                "share_of_reference_flops": best["train_flops"] / ref["train_flops"]
                if best is not None
                else float("nan"),
            }
        )
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
    home = in_distribution(results[results["scale"] == choice.scale], study.family_panels())
    accuracy = home.groupby("recipe")["accuracy"].mean()
    flops = home.groupby("recipe")["train_flops"].first()
    rows = []
    for teacher in choice.teachers:
        if teacher.recipe not in accuracy:
            continue
        own = _training_facts(study, choice.scale, teacher.recipe).get("correct_share", float("nan"))
        rows.append(
            {
                "teacher": teacher.recipe.removeprefix("teacher-"),
                "granularity": teacher.granularity,
                "error_rate": teacher.error_rate,
                "teacher_accuracy": own,
                "student_accuracy": accuracy[teacher.recipe],
                "gain_over_base": accuracy[teacher.recipe] - accuracy.get("base", 0.0),
                "train_flops": flops[teacher.recipe],
            }
        )
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
    table: pd.DataFrame,
    fewest: pd.DataFrame,
    gains: pd.DataFrame,
    pass_rates: dict[str, float],
    questions: int,
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
                f"{row['family']}: no selection reaches reasoning-on-every-pair's accuracy "
                f"({row['reference_accuracy']:.2f})."
            )
        else:
            lines.append(
                f"{row['family']}: {row['matched_by']} matches reasoning on every pair "
                f"({row['its_accuracy']:.2f} vs {row['reference_accuracy']:.2f}) with "
                f"{row['its_examples']:,.0f} traces per family "
                f"(every pair: {row['reference_examples']:,.0f}), "
                f"at {row['share_of_reference_flops']:.0%} of its training FLOPs."
            )
    if pass_rates:
        solved = " and ".join(f"{rate:.0%} ({family})" for family, rate in pass_rates.items())
        left = " and ".join(f"{round((1 - rate) * questions):,}" for rate in pass_rates.values())
        lines.append(
            f"The probe already solves {solved} of the pool's questions: "
            f"`unsolved` draws from {left} per family."
        )
    for _, row in gains.iterrows():
        parts = ", ".join(
            f"{strategy} {_points(row[strategy])}"
            for strategy in gains.columns
            if strategy != "budget" and pd.notna(row[strategy])
        )
        lines.append(
            f"At {row['budget']:,.0f} traces per family, accuracy points over random "
            f"(mean over families): {parts}."
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
        f" The {len(tied)} teachers tied for the best own accuracy are {spread * 100:.0f} points "
        "apart by gain."
        if len(tied) > 1
        else ""
    )
    return [
        f"Teachers ranked by the smoke student's gain (accuracy points over untrained): {by_gain}.",
        f"By their own accuracy on the sample: {own}. Kendall's τ between the two: {tau_text}; "
        f"the best teacher by gain ({agreement['best_by_gain']}) {'is' if agrees else 'is not'} "
        f"among the most accurate ({', '.join(agreement['best_by_teacher_accuracy'])}).{separated}",
    ]


def _printable(table: pd.DataFrame, counts: tuple[str, ...]) -> pd.DataFrame:
    """`counts` as whole numbers, a missing one (the references' budget) as a missing value."""
    table = table.copy()
    for column in counts:
        whole = [None if pd.isna(value) else round(float(value)) for value in table[column]]
        table[column] = pd.Series(whole, index=table.index, dtype=object)
    return table


def efficiency_markdown(study: StudyParams, tables: dict[str, pd.DataFrame], agreement: dict) -> str:
    lines = []
    sections = [f"# {study.study}: data efficiency", study.description]
    if "selection" in tables:
        selection = study.selection
        found = (tables["selection"], tables["fewest_examples"], tables["strategy_gains"])
        lines += selection_headlines(*found, probe_pass_rates(study), selection.questions_per_family)
        sections.append(
            f"Pool: {selection.questions_per_family:,} questions per family × "
            f"{selection.traces_per_question} equivalent traces, {selection.error_rate:.0%} of the traces "
            f"wrong; student `{selection.scale}`, "
            f"{study.training.epochs} epochs over whatever it is given."
        )
    if "teachers" in tables:
        lines += teacher_headlines(tables["teachers"], agreement)
    sections += ["## Headlines", "\n".join(f"- {line}" for line in lines)]
    if "selection" in tables:
        columns = [
            "family",
            "strategy",
            "budget",
            "examples",
            "questions",
            "correct_share",
            "accuracy",
            "train_flops",
            "on_examples_frontier",
            "on_flops_frontier",
        ]
        selected = _printable(tables["selection"][columns], ("budget", "examples", "questions"))
        selected["train_flops"] = selected["train_flops"].astype(float)
        fewest = _printable(tables["fewest_examples"], ("reference_examples", "its_examples"))
        sections += ["## Accuracy against training examples and FLOPs", markdown_table(selected)]
        sections += ["## The fewest examples that match reasoning on every pair", markdown_table(fewest)]
    if "teachers" in tables and not tables["teachers"].empty:
        sections += [
            "## Teacher choice by smoke test",
            markdown_table(tables["teachers"].astype({"train_flops": float})),
        ]
    return "\n\n".join(section for section in sections if section) + "\n"
