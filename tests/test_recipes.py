"""Recipe builders: the order a student sees its rows, the split of prompts between formats, and
the number of samples."""

from collections import Counter
from itertools import pairwise

import pytest
from datasets import Dataset

from scale_or_reason.config.recipes import parse_recipe
from scale_or_reason.data.sft_rows import assign_formats, recipe_examples, recipe_rows, training_order
from scale_or_reason.data.tasks import FAMILIES
from scale_or_reason.data.teachers import synthetic_pairs


@pytest.fixture(scope="module")
def pairs():
    return Dataset.from_list(
        [row for family in FAMILIES for row in synthetic_pairs(family, "train", 40, seed=0)]
    )


def formats_by_id(rows):
    seen = {}
    for row in rows:
        seen.setdefault(row["id"], set()).add(row["format"])
    return seen


@pytest.mark.parametrize("name", ["ift", "reasoning", "sequential-25", "sequential-50", "mixed-75"])
def test_every_recipe_trains_on_every_pair_once_per_epoch(pairs, name):
    rows = recipe_examples(pairs, name, epochs=2, seed=0)
    assert len(rows) == 2 * len(pairs)
    assert Counter(rows["id"]) == {pair_id: 2 for pair_id in pairs["id"]}


@pytest.mark.parametrize("name,share", [("sequential-25", 0.25), ("mixed-50", 0.5), ("sequential-75", 0.75)])
def test_a_prompt_is_given_in_one_form_only_and_the_share_holds_per_family(pairs, name, share):
    rows = recipe_examples(pairs, name, epochs=2, seed=0)
    forms = formats_by_id(rows)
    assert all(len(f) == 1 for f in forms.values()), "reasoning and IFT prompts are disjoint"
    for family in FAMILIES:
        ids = [i for i, fam in zip(pairs["id"], pairs["family"], strict=True) if fam == family]
        reasoning = sum(forms[i] == {"reasoning"} for i in ids)
        assert reasoning == round(share * len(ids))
    for row in rows.select(range(20)):
        pair = pairs[pairs["id"].index(row["id"])]
        assert row["completion"][0]["content"] == pair[row["format"]]
        assert row["chat_template_kwargs"]["enable_thinking"] == (row["format"] == "reasoning")


def test_sequential_puts_every_ift_row_before_every_reasoning_row(pairs):
    order = list(recipe_examples(pairs, "sequential-50", epochs=2, seed=0)["format"])
    first_reasoning = order.index("reasoning")
    assert set(order[:first_reasoning]) == {"ift"} and set(order[first_reasoning:]) == {"reasoning"}


def test_mixed_interleaves_the_two_forms(pairs):
    order = list(recipe_examples(pairs, "mixed-50", epochs=1, seed=0)["format"])
    switches = sum(a != b for a, b in pairwise(order))
    assert switches > len(order) / 4


def test_each_epoch_is_a_fresh_permutation_and_the_order_is_seeded(pairs):
    rows = recipe_examples(pairs, "ift", epochs=2, seed=0)["id"]
    first, second = rows[: len(pairs)], rows[len(pairs) :]
    assert sorted(first) == sorted(second) and first != second
    assert recipe_examples(pairs, "ift", epochs=2, seed=0)["id"] == rows
    assert recipe_examples(pairs, "ift", epochs=2, seed=1)["id"] != rows


def test_pure_recipes_use_one_form():
    families = ["a"] * 10 + ["b"] * 6
    assert set(assign_formats(families, 0.0, 0)) == {"ift"}
    assert set(assign_formats(families, 1.0, 0)) == {"reasoning"}


@pytest.mark.parametrize("bad", ["sequential", "mixed-0", "mixed-100", "curriculum-50", "IFT"])
def test_unknown_recipe_names_are_refused(bad):
    with pytest.raises(ValueError, match="unknown recipe"):
        parse_recipe(bad)


def test_recipe_names_parse():
    assert parse_recipe("sequential-25").reasoning_share == 0.25
    assert parse_recipe("mixed-75").kind == "mixed" and parse_recipe("mixed-75").is_curriculum
    assert parse_recipe("reasoning").reasoning_share == 1.0 and not parse_recipe("ift").is_curriculum


@pytest.mark.parametrize("name", ["reasoning", "mixed-50", "sequential-50"])
def test_balanced_batches_hold_every_family_in_its_share(pairs, name):
    rows = recipe_rows(pairs, name, seed=0)
    balanced = training_order(name, rows, epochs=2, seed=3, balanced=True)
    shuffled = training_order(name, rows, epochs=2, seed=3)
    assert sorted(balanced) == sorted(shuffled)  # the same rows, as often
    families = rows["family"]

    def worst_batch(order):
        counts = [Counter(families[i] for i in order[k : k + 16]) for k in range(0, len(order) - 15, 16)]
        return max(abs(c[f] - 4) for c in counts for f in FAMILIES)

    # 40 pairs per family: 4 of each in every batch of 16 (off by one where an epoch wraps).
    if not name.startswith("sequential"):
        assert worst_batch(balanced) <= 1 < worst_batch(shuffled)
    assert training_order(name, rows, epochs=2, seed=3, balanced=True) == balanced
    assert training_order(name, rows, epochs=2, seed=4, balanced=True) != balanced
