"""Recipes: the training data of one student, built from the paired dataset.

`ift` trains on every prompt's short answer, `reasoning` on the same prompts' `<think>` answers:
same prompts, same number of samples, so the two formats differ only in their targets. Rows are
conversational prompt-completion examples, which TRL trains with loss on the completion only;
`chat_template_kwargs` switches thinking off for IFT rows so their prompt ends with the empty think
block, as a Qwen3 teacher's non-thinking answers do.
"""

from __future__ import annotations

from datasets import Dataset

from .params import FORMATS


def chat_example(prompt: str, completion: str, thinking: bool) -> dict:
    return {
        "prompt": [{"role": "user", "content": prompt}],
        "completion": [{"role": "assistant", "content": completion}],
        "chat_template_kwargs": {"enable_thinking": thinking},
    }


def recipe_examples(pairs: Dataset, recipe: str) -> Dataset:
    """The SFT rows of `recipe` (`ift` or `reasoning`), in the order of `pairs`."""
    if recipe not in FORMATS:
        raise ValueError(f"unknown recipe {recipe!r}; known: {', '.join(FORMATS)}")
    thinking = recipe == "reasoning"
    return pairs.map(
        lambda row: chat_example(row["prompt"], row[recipe], thinking),
        remove_columns=pairs.column_names,
        desc=f"{recipe} examples",
    )
