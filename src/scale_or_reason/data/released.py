"""The paper's released reasoning/IFT pairs, read from the hub or from local files into the pair
schema (`teachers.PAIR_COLUMNS`).

    from scale_or_reason.teachers import load_released_pairs
    pairs = load_released_pairs("Scale-or-Reason/general-reasoning-ift-pairs", limit=1000)

Rows that cannot be a training pair (an empty field, a reasoning answer without a closed think
block or without an answer after it, an IFT answer holding a think block) are counted by reason
and left out, never kept or dropped silently.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

from datasets import Features, Value, concatenate_datasets, load_dataset

from ..config import paths
from ..core.files import DATA_FILE_TYPES
from ..core.hub import load_hub_dataset
from ..core.thinking import THINK_CLOSE, THINK_OPEN, format_reasoning, split_reasoning, strip_empty_think
from .teachers import PAIR_COLUMNS, corpus_pair

logger = logging.getLogger(__name__)

RELEASED_PAIRS = ("Scale-or-Reason/general-reasoning-ift-pairs", "Scale-or-Reason/math-reasoning-ift-pairs")
RELEASED_SPLIT = "reasoning_ift_pairs"
RELEASED_COLUMNS = ("prompt", "reasoning", "ift")
DATASET_ID = re.compile(r"[\w.-]+/[\w.-]+")  # datasets always have an owner


def corpus_family(name: str | None) -> str | None:
    """The family ("math" or "general") a corpus, file or repository name says, else None."""
    lowered = (name or "").lower()
    return "math" if "math" in lowered else "general" if "general" in lowered else None


def _check_released_columns(column_names: list[str], where: str, columns: dict[str, str]) -> None:
    missing = [f"{role}: {column!r}" for role, column in columns.items() if column not in column_names]
    if missing:
        raise ValueError(
            f"{where} lacks the column(s) teacher.columns names ({', '.join(missing)}); "
            f"its columns: {', '.join(column_names)}"
        )


def _with_family(dataset, default: str, columns: dict[str, str]):
    """The named columns as strings under their roles (`prompt`, `ift`, `reasoning`; or `prompt`,
    `response`), plus each row's family: its `corpus` column if it names one, else `default`."""
    corpus = dataset["corpus"] if "corpus" in dataset.column_names else [None] * len(dataset)
    families = [corpus_family(name) or default for name in corpus]
    table = dataset.select_columns(list(columns.values()))
    for column in columns.values():
        table = table.cast_column(column, Value("string"))
    table = table.rename_columns({column: f"__{role}" for role, column in columns.items()})
    table = table.rename_columns({f"__{role}": role for role in columns})
    return table.add_column("family", families)


def _load_released_files(path: Path, columns: dict[str, str]):
    files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.suffix in DATA_FILE_TYPES)
    if not files:
        raise FileNotFoundError(f"no .parquet or .jsonl files under {path}")
    parts = []
    for file in files:
        if file.suffix not in DATA_FILE_TYPES:
            raise ValueError(f"{file}: released pairs are read from .parquet or .jsonl files")
        part = load_dataset(DATA_FILE_TYPES[file.suffix], data_files=str(file), split="train")
        _check_released_columns(part.column_names, str(file), columns)
        name = str(file.relative_to(path)) if path.is_dir() else file.name
        family = corpus_family(name) or corpus_family(path.name) or "general"
        parts.append(_with_family(part, family, columns))
    return concatenate_datasets(parts)


def _load_released_hub(source: str, columns: dict[str, str], split: str | None):
    alternative = (
        f"download it on a machine with network (`hf download {source} --repo-type dataset --local-dir DIR`) "
        "and pass DIR, or one of its parquet/jsonl/csv files, as the source."
    )
    split = split or (RELEASED_SPLIT if source in RELEASED_PAIRS else "train")
    dataset = load_hub_dataset(source, split, alternative)
    _check_released_columns(dataset.column_names, source, columns)
    return _with_family(dataset, corpus_family(source) or "general", columns)


def released_problem(
    prompt: str, reasoning: str, ift: str, trace_closed: bool, answer: str, one_response: bool = False
) -> str:
    """Why a released row cannot be a training pair ("" if it can); `ift` without its empty
    think block, `answer` what follows the trace. With `one_response` the IFT answer is that
    answer: only the response's think block and what follows it can fail."""
    fields = [("prompt", prompt), ("reasoning", reasoning), *([] if one_response else [("ift", ift)])]
    for name, text in fields:
        if not text.strip():
            return f"empty_{name}"
    if not trace_closed:
        return "reasoning_unclosed"
    if not answer:
        return "reasoning_no_answer"
    return "ift_thinks" if not one_response and (THINK_OPEN in ift or THINK_CLOSE in ift) else ""


def released_row(row: dict, index: int) -> dict:
    """A released row in the pair schema, with `problem` saying why it is unusable ("" if usable).
    A row of one `response` becomes both formats: the reasoning format the whole response, the
    IFT format the answer after its think block."""
    one_response = "response" in row
    if one_response:
        response = row["response"] or ""
        row = {**row, "reasoning": response, "ift": split_reasoning(response)[1]}
    prompt, reasoning, ift = (row[column] or "" for column in RELEASED_COLUMNS)
    trace, answer, closed = split_reasoning(reasoning)
    ift = strip_empty_think(ift)
    problem = released_problem(prompt, reasoning, ift, closed, answer, one_response)
    family = row["family"]
    # Normalised to the embedded format; a release may leave out the opening tag.
    normalised = format_reasoning(trace, answer) if closed else reasoning
    return {**corpus_pair(f"{family}-train-{index:06d}", prompt, ift, normalised, family), "problem": problem}


def _read_released(source: str, columns: dict[str, str], split: str | None):
    path = paths.resolve(source)
    if path.exists():
        return _load_released_files(path, columns)
    if path.suffix in DATA_FILE_TYPES or not DATASET_ID.fullmatch(source):
        raise FileNotFoundError(
            f"{source}: no such file or folder (and not a hub id like {RELEASED_PAIRS[0]})"
        )
    return _load_released_hub(source, columns, split)


def load_released_pairs(source: str, limit: int | None = None, seed: int = 0, **how):
    """The released pairs alone (see `released_pairs_report`)."""
    return released_pairs_report(source, limit, seed, **how)[0]


def describe_problems(problems: Counter, columns: dict[str, str]) -> str:
    """The rows left out, by reason, each naming the column it is about."""
    traces = columns.get("response") or columns["reasoning"]
    reasons = {f"empty_{role}": f"empty column {column!r}" for role, column in columns.items()}
    reasons |= {
        "empty_reasoning": f"empty column {traces!r}",
        "reasoning_unclosed": f"no closed think block in column {traces!r}",
        "reasoning_no_answer": f"no answer after the think block in column {traces!r}",
        "ift_thinks": f"a think block in the IFT column {columns.get('ift')!r}",
    }
    counted = Counter()
    for problem, count in problems.items():
        counted[reasons.get(problem, problem)] += count
    return ", ".join(f"{reason}: {count} rows" for reason, count in sorted(counted.items()))


def released_pairs_report(
    source: str,
    limit: int | None = None,
    seed: int = 0,
    columns: dict[str, str] | None = None,
    split: str | None = None,
):
    """Teacher pairs read from a dataset, in the pair schema (a `datasets.Dataset`).

    `source`: a hub id (the paper's `Scale-or-Reason/general-reasoning-ift-pairs`,
    `...math-reasoning-ift-pairs`, split `reasoning_ift_pairs`; another's `split`, default `train`)
    or a local parquet/jsonl/csv file or folder of them. `columns` maps the roles to its columns:
    `{prompt, ift, reasoning}` (default: columns of those names, optional `corpus`), or
    `{prompt, response}` for one response per row whose think block is split off (the reasoning
    format is the whole response, the IFT format the answer after the block). Rows with an empty
    field, a reasoning without a closed think block or without an answer after it, or an IFT
    answer holding a think block are counted by reason in a logged warning and left out. `limit`
    rows are then drawn with `seed`. Returns the pairs and a report: rows read and the rows left
    out by reason.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be a non-negative count or None, not {limit}")
    columns = dict(columns or dict(zip(RELEASED_COLUMNS, RELEASED_COLUMNS, strict=True)))
    raw = _read_released(source, columns, split)
    features = Features({column: Value("string") for column in (*PAIR_COLUMNS, "problem")})
    rows = raw.map(released_row, with_indices=True, remove_columns=raw.column_names, features=features)
    problems = Counter(problem for problem in rows["problem"] if problem)
    if problems:
        logger.warning(
            "%s: left out %d of %d rows (%s)",
            source,
            sum(problems.values()),
            len(rows),
            describe_problems(problems, columns),
        )
    pairs = rows.filter(lambda problem: not problem, input_columns="problem").remove_columns("problem")
    if limit is not None and limit < len(pairs):
        pairs = pairs.shuffle(seed=seed).select(range(limit)).flatten_indices()
    return pairs, {"rows": len(rows), "left_out": dict(sorted(problems.items()))}
