"""TRL's preparation of conversational prompt-completion rows, done in batches.

`SFTTrainer` renders and tokenizes each row in its own `Dataset.map` call (the prompt with the
generation prompt, then prompt + completion), then builds the labels in a second per-row pass:
6–8 s for the embedded study's 10,400 rows on every training unit, most of it Python per row.
`prepared_rows` renders each group of rows that share their `chat_template_kwargs` in one
`apply_chat_template` call, tokenizes the group in one batch and masks the prompt with NumPy. The
result is what TRL would have built (tested token for token), and a dataset that already holds
`input_ids` and `labels` is one TRL trains on as it is.
"""

from __future__ import annotations

import json
import warnings

from datasets import Dataset, List, Value
from trl.data_utils import common_prefix_length

from .packing import IGNORED_LABEL


def prepared_rows(rows: Dataset, tokenizer) -> Dataset:
    """`rows` (conversational `prompt` and `completion`, optional `chat_template_kwargs`) with
    `input_ids` and `labels` (the prompt masked): loss on the completion only, as TRL's default.
    Rows already tokenized, or not conversational prompt-completion pairs, are left to TRL as they are."""
    if "input_ids" in rows.column_names or not {"prompt", "completion"} <= set(rows.column_names):
        return rows
    columns = rows[:]  # one read of every row: a column of `rows` would read itself again per index
    prompts, completions = columns["prompt"], columns["completion"]
    template_kwargs = columns.get("chat_template_kwargs", [{}] * len(rows))
    groups: dict[str, list[int]] = {}
    for index, kwargs in enumerate(template_kwargs):
        groups.setdefault(json.dumps(kwargs or {}, sort_keys=True), []).append(index)
    input_ids: list[list[int]] = [[]] * len(rows)
    labels: list[list[int]] = [[]] * len(rows)
    for key, indices in groups.items():
        kwargs = json.loads(key)  # TRL's chat_template and tools are None for these rows: the defaults
        alone = [prompts[i] for i in indices]
        prompt_ids = _token_ids(tokenizer, alone, add_generation_prompt=True, **kwargs)
        full_ids = _token_ids(tokenizer, [prompts[i] + completions[i] for i in indices], **kwargs)
        for index, prompt, full in zip(indices, prompt_ids, full_ids, strict=True):
            prompt_length = common_prefix_length(prompt, full)
            if prompt_length < len(prompt):
                warnings.warn(
                    "a tokenized prompt is not a prefix of its prompt + completion: the completion starts "
                    "where they diverge, as TRL trains it",
                    stacklevel=2,
                )
            input_ids[index] = full
            labels[index] = [IGNORED_LABEL] * prompt_length + full[prompt_length:]
    # Named, not hashed: `datasets` would pickle every token of the new columns to fingerprint them.
    fingerprint = f"{rows._fingerprint}-prepared"
    with_ids = rows.add_column(
        "input_ids", input_ids, new_fingerprint=f"{fingerprint}-ids", feature=List(Value("int32"))
    )
    return with_ids.add_column("labels", labels, new_fingerprint=fingerprint, feature=List(Value("int64")))


def _token_ids(tokenizer, conversations: list[list[dict]], **kwargs) -> list[list[int]]:
    rendered = tokenizer.apply_chat_template(conversations, tokenize=True, return_dict=True, **kwargs)
    return rendered["input_ids"]
