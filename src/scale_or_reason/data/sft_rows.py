"""The SFT rows of a recipe (`config.recipes`), built from the paired dataset, in training order.

The prompts given in reasoning form and in IFT form are disjoint, and every recipe trains on the
same number of samples. The training order is explicit (`training_order`: each epoch a fresh
seeded permutation; for sequential recipes, every IFT epoch before every reasoning epoch), and the
trainer reads the rows in that order, so what a student saw, and when, is reproducible.

Rows are conversational prompt-completion examples, which TRL trains with loss on the completion
only; `chat_template_kwargs` switches thinking off for IFT rows so their prompt ends with the empty
think block, as a Qwen3 teacher's non-thinking answers do. A data-efficiency recipe's chosen
traces (`pool.pool_recipe_pairs`) become rows with `reasoning_rows`, all in reasoning form.
"""

from __future__ import annotations

import random

from datasets import Dataset

from ..config.recipes import Recipe, parse_recipe
from .teachers import regranulate


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


def _balanced(indices: list[int], families: list[str], rng: random.Random) -> list[int]:
    """One epoch of `indices` in which every family keeps its share all along: each family's rows
    shuffled, then dealt out in turn in proportion to their counts, so that any run of rows (a
    batch) holds the families as the epoch does."""
    groups: dict[str, list[int]] = {}
    for i in indices:
        groups.setdefault(families[i], []).append(i)
    keyed = []
    for rows in groups.values():
        shuffled = rng.sample(rows, len(rows))
        offset = rng.random()
        keyed += [((k + offset) / len(rows), i) for k, i in enumerate(shuffled)]
    return [i for _, i in sorted(keyed)]


def _epochs(indices: list[int], epochs: int, rng: random.Random, families: list[str] | None) -> list[int]:
    order = []
    for _ in range(epochs):
        order += rng.sample(indices, len(indices)) if families is None else _balanced(indices, families, rng)
    return order


def row_order(
    recipe: Recipe, formats: list[str], epochs: int, seed: int, families: list[str] | None = None
) -> list[int]:
    """Indices into the pairs in the order the student sees them, over all epochs: each epoch a
    seeded permutation, with `families` one that keeps every family's share in each batch."""
    rng = random.Random(f"{seed}:order:{recipe.name}")
    if recipe.kind != "sequential":
        return _epochs(list(range(len(formats))), epochs, rng, families)
    ift = [i for i, f in enumerate(formats) if f == "ift"]
    reasoning = [i for i, f in enumerate(formats) if f == "reasoning"]
    return _epochs(ift, epochs, rng, families) + _epochs(reasoning, epochs, rng, families)


def recipe_rows(pairs: Dataset, recipe_name: str, seed: int = 0) -> Dataset:
    """One SFT row per pair, in the pairs' order, each in the form the recipe gives it.

    Besides the chat columns, each row keeps the pair's `id` and `family` and its `format`, so the
    split can be checked.
    """
    recipe = parse_recipe(recipe_name)
    pairs = pairs.to_list()
    formats = assign_formats([pair["family"] for pair in pairs], recipe.reasoning_share, seed)
    rows = []
    for pair, form in zip(pairs, formats, strict=True):
        target = pair[form]
        if form == "reasoning" and recipe.granularity != "full":
            target = regranulate(pair["reasoning"], pair["task"], pair["answer"], recipe.granularity)
        example = chat_example(pair["prompt"], target, thinking=form == "reasoning")
        rows.append({**example, "id": pair["id"], "family": pair["family"], "format": form})
    return Dataset.from_list(rows)


def training_order(
    recipe_name: str, rows: Dataset, epochs: int, seed: int = 0, balanced: bool = False
) -> list[int]:
    """Indices into `recipe_rows` in the order the student sees them, over all epochs; `balanced`:
    every batch holds the families in their shares of the epoch."""
    families = list(rows["family"]) if balanced else None
    return row_order(parse_recipe(recipe_name), list(rows["format"]), epochs, seed, families)


def recipe_examples(pairs: Dataset, recipe_name: str, epochs: int = 1, seed: int = 0) -> Dataset:
    """The rows of a recipe as the student sees them: every epoch laid out, in training order."""
    rows = recipe_rows(pairs, recipe_name, seed)
    return rows.select(training_order(recipe_name, rows, epochs, seed))


def reasoning_rows(chosen: list[dict]) -> Dataset:
    """SFT rows of chosen traces (pair schema, `reasoning` the trace to train on), all in
    reasoning form."""
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
