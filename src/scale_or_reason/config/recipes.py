"""The recipe grammar: the name of a student's training data, written and parsed in one place.

- `ift` trains on every prompt's short answer, `reasoning` on the same prompts' `<think>` answers:
  same prompts, same number of samples, so the two formats differ only in their targets.
- `sequential-ρ` gives ρ% of the prompts (per family) in reasoning form and the rest in IFT form,
  all IFT rows first and then all reasoning rows, under one learning-rate schedule.
- `mixed-ρ` gives the same split, shuffled together.
- `reasoning-key` and `reasoning-answer` are `reasoning` with a coarser trace: only the key
  decisions, or an empty think block (`GRANULARITIES`).

A data-efficiency study adds recipes whose rows come from its candidate pool, not from the pairs,
all in reasoning form: `select-<strategy>-<budget>` (a selection strategy's `budget` traces per
family), `probe` (the cheap student whose solved questions `unsolved` drops),
`teacher-<granularity>-<error %>` (a candidate teacher's sample, for the smoke test that ranks
teachers) and `base` (the student untrained, the baseline of the teachers' gains).

How a recipe's rows are built from the pairs is `data.sft_rows`; which students a study trains is
`units`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FORMATS = ("ift", "reasoning")
GRANULARITIES = ("full", "key", "answer")  # of a reasoning trace, finest first
RECIPE_PATTERN = r"^(ift|reasoning|reasoning-(key|answer)|(sequential|mixed)-([1-9][0-9]?))$"
# Recipes a data-efficiency study derives from its `selection` and `teacher_choice` sections.
POOL_RECIPE_PATTERN = (
    r"^(?:(?P<base>base|probe)|select-(?P<strategy>[a-z_]+)-(?P<budget>[1-9][0-9]*)"
    r"|teacher-(?P<granularity>full|key|answer)-(?P<errors>[0-9]{1,3}))$"
)
CURRICULUM_KINDS = ("sequential", "mixed")
POOL_KINDS = ("base", "probe", "select", "teacher")


@dataclass(frozen=True)
class Recipe:
    name: str
    # ift | reasoning | sequential | mixed | key | answer | base | probe | select | teacher
    kind: str
    reasoning_share: float
    granularity: str = "full"  # of the reasoning rows' traces (GRANULARITIES)
    strategy: str | None = None  # a selection's strategy and budget (traces per family)
    budget: int | None = None

    @property
    def is_curriculum(self) -> bool:
        return self.kind in CURRICULUM_KINDS

    @property
    def from_pool(self) -> bool:
        """Rows built from a data-efficiency study's pool or sample, not from every pair."""
        return self.kind in POOL_KINDS


def parse_recipe(name: str) -> Recipe:
    pooled = re.match(POOL_RECIPE_PATTERN, name)
    if pooled:
        if pooled["base"]:
            return Recipe(name, name, 0.0 if name == "base" else 1.0)
        if pooled["strategy"]:
            return Recipe(name, "select", 1.0, strategy=pooled["strategy"], budget=int(pooled["budget"]))
        return Recipe(name, "teacher", 1.0, granularity=pooled["granularity"])
    match = re.match(RECIPE_PATTERN, name)
    if not match:
        raise ValueError(
            f"unknown recipe {name!r}: use ift, reasoning, sequential-ρ or mixed-ρ (ρ a percentage 1–99)"
        )
    if name in FORMATS:
        return Recipe(name, name, 1.0 if name == "reasoning" else 0.0)
    if match.group(2):  # reasoning-key, reasoning-answer: every row in reasoning form, coarser trace
        return Recipe(name, match.group(2), 1.0, granularity=match.group(2))
    return Recipe(name, match.group(3), int(match.group(4)) / 100)


def granularity_recipe(granularity: str) -> str:
    """The reasoning recipe whose traces have `granularity` (`reasoning` for the full trace)."""
    return "reasoning" if granularity == "full" else f"reasoning-{granularity}"


def selection_recipe(strategy: str, budget: int) -> str:
    return f"select-{strategy}-{budget}"


def teacher_recipe(granularity: str, error_rate: float) -> str:
    return f"teacher-{granularity}-{round(error_rate * 100)}"
