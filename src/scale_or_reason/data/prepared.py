"""TRL's preparation of conversational prompt-completion rows, done in batches.

`SFTTrainer` renders and tokenizes each row in its own `Dataset.map` call (the prompt with the
generation prompt, then prompt + completion), then builds the labels in a second per-row pass:
6–8 s for the embedded study's 10,400 rows on every training unit, most of it Python per row.
`prepared_rows` renders each group of rows that share their `chat_template_kwargs` in one
`apply_chat_template` call, tokenizes the group in one batch and masks the prompt with NumPy. The
result is what TRL would have built (tested token for token), and a dataset that already holds
`input_ids` and `labels` is one TRL trains on as it is.

The data unit prepares every training pair once in each format, with the study's tokenizer
(`write_format_tokens`, `prepared/<format>.parquet`); a training unit of a full-granularity
recipe takes its rows' tokens from there (`with_format_tokens`) instead of preparing them again.
"""

from __future__ import annotations

import json
import warnings
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Dataset, List, Value
from trl.data_utils import common_prefix_length

from ..core import files
from .sft_rows import recipe_rows

IGNORED_LABEL = -100  # TRL labels prompt tokens with it: they carry no loss
PREPARED_FOLDER = "prepared"
FORMATS = ("ift", "reasoning")
TOKEN_FEATURES = {"input_ids": List(Value("int32")), "labels": List(Value("int64"))}


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
    return with_tokens(rows, input_ids, labels)


def with_tokens(rows: Dataset, input_ids: list[list[int]], labels: list[list[int]]) -> Dataset:
    """`rows` with their token columns, laid out as one table (the trainer reads it per batch)."""
    # Named, not hashed: `datasets` would pickle every token of the new columns to fingerprint them.
    fingerprint = f"{rows._fingerprint}-prepared"
    for name, column in (("input_ids", input_ids), ("labels", labels)):
        rows = rows.add_column(
            name, column, new_fingerprint=f"{fingerprint}-{name}", feature=TOKEN_FEATURES[name]
        )
    return rows


def _token_ids(tokenizer, conversations: list[list[dict]], **kwargs) -> list[list[int]]:
    rendered = tokenizer.apply_chat_template(conversations, tokenize=True, return_dict=True, **kwargs)
    return rendered["input_ids"]


def write_format_tokens(data_folder: Path, pairs: Dataset, tokenizer) -> None:
    """Every training pair prepared in each format (`id`, `input_ids`, `labels`), as a training
    unit with the study's tokenizer would prepare it."""
    for form in FORMATS:
        tokens = prepared_rows(recipe_rows(pairs, form), tokenizer).select_columns(["id", *TOKEN_FEATURES])
        # Written by pyarrow: `Dataset.to_parquet` would draw a progress bar in the data unit.
        files.write_atomic(
            data_folder / PREPARED_FOLDER / f"{form}.parquet", partial(pq.write_table, tokens.data.table)
        )


def with_format_tokens(rows: Dataset, data_folder: Path) -> Dataset:
    """`rows` (a full-granularity recipe's, each with its pair's `id` and `format`) with the tokens
    the data unit prepared for them; `rows` as they are where the data folder has none (one written
    before it prepared them) or lacks a row."""
    paths = [data_folder / PREPARED_FOLDER / f"{form}.parquet" for form in FORMATS]
    if not all(path.is_file() for path in paths):
        return rows
    tables = [pq.read_table(path) for path in paths]
    position: dict[tuple[str, str], int] = {}
    for form, table in zip(FORMATS, tables, strict=True):
        offset = len(position)
        position.update(((form, key), offset + i) for i, key in enumerate(table["id"].to_pylist()))
    columns = rows.select_columns(["format", "id"])[:]
    keys = zip(columns["format"], columns["id"], strict=True)
    try:
        chosen = [position[key] for key in keys]
    except KeyError:
        return rows
    tokens = pa.concat_tables(tables).select(list(TOKEN_FEATURES)).take(chosen)
    # As Python lists, into the same layout as rows prepared here: a dataset stitched from Arrow
    # chunks (concatenate_datasets) trained a quarter slower, its batches read chunk by chunk.
    return with_tokens(rows, tokens["input_ids"].to_pylist(), tokens["labels"].to_pylist())
