"""Each batch's rows packed side by side into as few rows as its longest one needs.

A batch of the embedded study mixes short answers with long traces; padded to its longest row,
about a third of what the model computes is padding. Packing the same rows (first fit, longest
first) into bins as long as the longest row, with position ids restarting at every row and no
attention mask, lets the model mask attention to each row's own tokens (transformers finds the
rows from the position ids), so the loss and its gradients are those of the padded batch: only
the padding is gone. The batch's content and order are the recipe's; grouping rows by length
across batches would change what each optimizer step sees.
"""

from __future__ import annotations

from typing import Any

import torch
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from ..data.prepared import IGNORED_LABEL


def first_fit_bins(lengths: list[int]) -> list[list[int]]:
    """Row indices per bin: longest row first, each into the first bin with room, every bin as long
    as the longest row."""
    capacity = max(lengths)
    bins: list[list[int]] = []
    room: list[int] = []
    for row in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        fits = next((b for b, left in enumerate(room) if left >= lengths[row]), None)
        if fits is None:
            bins.append([row])
            room.append(capacity - lengths[row])
        else:
            bins[fits].append(row)
            room[fits] -= lengths[row]
    return bins


class PackedBatchCollator(DataCollatorForLanguageModeling):
    """TRL's language-modelling collator, with each batch packed (see the module's docstring)."""

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        lengths = [len(example["input_ids"]) for example in examples]
        bins = first_fit_bins(lengths)
        shape = (len(bins), max(lengths))
        input_ids = torch.full(shape, self.pad_token_id, dtype=torch.long)
        labels = torch.full(shape, IGNORED_LABEL, dtype=torch.long)
        # Padding at a bin's end gets position 0 on every token: each is a row of its own.
        position_ids = torch.zeros(shape, dtype=torch.long)
        for packed, rows in enumerate(bins):
            start = 0
            for row in rows:
                example, end = examples[row], start + lengths[row]
                input_ids[packed, start:end] = torch.tensor(example["input_ids"])
                labels[packed, start:end] = torch.tensor(example.get("labels", example["input_ids"]))
                position_ids[packed, start:end] = torch.arange(lengths[row])
                start = end
        # A row's first token is never predicted from the row packed before it.
        labels[position_ids == 0] = IGNORED_LABEL
        # With a cache (a model config's default) transformers never looks for packed rows and masks
        # each bin causally across its rows.
        return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids, "use_cache": False}
