"""Recipes: the training data of one student, built from the paired dataset.

- `ift` trains on every prompt's short answer, `reasoning` on the same prompts' `<think>` answers:
  same prompts, same number of samples, so the two formats differ only in their targets.
- `sequential-ρ` gives ρ% of the prompts (per family) in reasoning form and the rest in IFT form,
  all IFT rows first and then all reasoning rows, under one learning-rate schedule.
- `mixed-ρ` gives the same split, shuffled together.
- `reasoning-key` and `reasoning-answer` are `reasoning` with a coarser trace (issue 7): only the
  key decisions, or an empty think block; the trace is cut from the teacher's full one.

A data-efficiency study (`efficiency.py`) adds recipes whose rows come from its candidate pool, not
from the pairs, all in reasoning form: `select-<strategy>-<budget>` (a selection strategy's
`budget` traces per family), `probe` (the cheap student whose solved questions `unsolved` drops),
`teacher-<granularity>-<error %>` (a candidate teacher's sample, for the smoke test that ranks
teachers) and `base` (the student untrained, the baseline of the teachers' gains).

The prompts given in reasoning form and in IFT form are disjoint, and every recipe trains on the
same number of samples. The training order is explicit (`training_order`: each epoch a fresh
seeded permutation; for sequential recipes, every IFT epoch before every reasoning epoch), and the
trainer reads the rows in that order, so what a student saw, and when, is reproducible.

Rows are conversational prompt-completion examples, which TRL trains with loss on the completion
only; `chat_template_kwargs` switches thinking off for IFT rows so their prompt ends with the empty
think block, as a Qwen3 teacher's non-thinking answers do.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from datasets import Dataset

from .teachers import regranulate

FORMATS = ("ift", "reasoning")
RECIPE_PATTERN = r"^(ift|reasoning|reasoning-(key|answer)|(sequential|mixed)-([1-9][0-9]?))$"
# Recipes a data-efficiency study derives from its `selection` and `teacher_choice` sections.
POOL_RECIPE_PATTERN = (
    r"^(?:(?P<base>base|probe)|select-(?P<strategy>[a-z_]+)-(?P<budget>[1-9][0-9]*)"
    r"|teacher-(?P<granularity>full|key|answer)-(?P<errors>[0-9]{1,3}))$"
)


@dataclass(frozen=True)
class Recipe:
    name: str
    order: str  # ift | reasoning | sequential | mixed | key | answer | base | probe | select | teacher
    reasoning_share: float
    granularity: str = "full"  # of the reasoning rows' traces (teachers.GRANULARITIES)
    strategy: str | None = None  # a selection's strategy and budget (traces per family)
    budget: int | None = None

    @property
    def is_curriculum(self) -> bool:
        return self.order in ("sequential", "mixed")

    @property
    def from_pool(self) -> bool:
        """Rows built by `efficiency.pool_recipe_pairs` (a data-efficiency study), not from the pairs."""
        return self.order in ("base", "probe", "select", "teacher")


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
        raise ValueError(f"unknown recipe {name!r}: use ift, reasoning, sequential-ρ or mixed-ρ (ρ a percentage 1–99)")
    if name in FORMATS:
        return Recipe(name, name, 1.0 if name == "reasoning" else 0.0)
    if match.group(2):  # reasoning-key, reasoning-answer: every row in reasoning form, coarser trace
        return Recipe(name, match.group(2), 1.0, granularity=match.group(2))
    return Recipe(name, match.group(3), int(match.group(4)) / 100)


def chat_example(prompt: str, completion: str, thinking: bool) -> dict:
    return {
        "prompt": [{"role": "user", "content": prompt}],
        "completion": [{"role": "assistant", "content": completion}],
        "chat_template_kwargs": {"enable_thinking": thinking},
    }


def assign_formats(families: list[str], share: float, seed: int) -> list[str]:
    """`reasoning` for round(share × n) rows of each family, chosen at random; `ift` for the rest."""
    formats = ["ift"] * len(families)
    rng = random.Random(f"{seed}:formats")
    for family in sorted(set(families)):
        rows = [i for i, f in enumerate(families) if f == family]
        for i in rng.sample(rows, round(share * len(rows))):
            formats[i] = "reasoning"
    return formats


def _epochs(indices: list[int], epochs: int, rng: random.Random) -> list[int]:
    order = []
    for _ in range(epochs):
        order += rng.sample(indices, len(indices))
    return order


def row_order(recipe: Recipe, formats: list[str], epochs: int, seed: int) -> list[int]:
    """Indices into the pairs in the order the student sees them, over all epochs."""
    rng = random.Random(f"{seed}:order:{recipe.name}")
    if recipe.order != "sequential":
        return _epochs(list(range(len(formats))), epochs, rng)
    ift = [i for i, f in enumerate(formats) if f == "ift"]
    reasoning = [i for i, f in enumerate(formats) if f == "reasoning"]
    return _epochs(ift, epochs, rng) + _epochs(reasoning, epochs, rng)


def recipe_rows(pairs: Dataset, recipe_name: str, seed: int = 0) -> Dataset:
    """One SFT row per pair, in the pairs' order, each in the form the recipe gives it.

    Besides the chat columns, each row keeps the pair's `id` and `family` and its `format`, so the
    split can be checked.
    """
    recipe = parse_recipe(recipe_name)
    pairs = pairs.to_list()
    formats = assign_formats([pair["family"] for pair in pairs], recipe.reasoning_share, seed)
    rows = []
    for pair, form in zip(pairs, formats):
        target = pair[form]
        if form == "reasoning" and recipe.granularity != "full":
            target = regranulate(pair["reasoning"], pair["task"], pair["answer"], recipe.granularity)
        example = chat_example(pair["prompt"], target, thinking=form == "reasoning")
        rows.append({**example, "id": pair["id"], "family": pair["family"], "format": form})
    return Dataset.from_list(rows)


def training_order(recipe_name: str, rows: Dataset, epochs: int, seed: int = 0) -> list[int]:
    """Indices into `recipe_rows` in the order the student sees them, over all epochs."""
    return row_order(parse_recipe(recipe_name), list(rows["format"]), epochs, seed)


def recipe_examples(pairs: Dataset, recipe_name: str, epochs: int = 1, seed: int = 0) -> Dataset:
    """The rows of a recipe as the student sees them: every epoch laid out, in training order."""
    rows = recipe_rows(pairs, recipe_name, seed)
    return rows.select(training_order(recipe_name, rows, epochs, seed))
