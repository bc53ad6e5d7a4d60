"""Teachers: prompts in, paired IFT and reasoning answers out.

The embedded teacher is a program (`tasks.py` knows every answer and how to work it out). Its two
answers to one prompt end in the same `\\boxed{}` answer:

- IFT (thinking off): the answer alone;
- reasoning (thinking on): `<think>`, the worked steps, `</think>`, then the same answer.

At paper scale the pairs come from an LLM (`llm_teacher.py`) or from the released pair datasets
(`load_released_pairs`), in the same schema.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from pathlib import Path

from .tasks import Problem, draw_problems

logger = logging.getLogger(__name__)

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
PAIR_COLUMNS = (
    "id", "key", "prompt", "ift", "reasoning", "answer", "family", "domain", "question_format",
    "task", "variant",
)  # fmt: skip

RELEASED_PAIRS = ("Scale-or-Reason/general-reasoning-ift-pairs", "Scale-or-Reason/math-reasoning-ift-pairs")
RELEASED_SPLIT = "reasoning_ift_pairs"
RELEASED_COLUMNS = ("prompt", "reasoning", "ift")
RELEASED_FILE_TYPES = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def boxed(answer: str) -> str:
    return f"\\boxed{{{answer}}}"


def ift_answer(problem: Problem) -> str:
    return boxed(problem.answer)


def reasoning_answer(problem: Problem) -> str:
    trace = "\n".join(problem.steps)
    return f"{THINK_OPEN}\n{trace}\n{THINK_CLOSE}\n\n{boxed(problem.answer)}"


def pair_row(problem: Problem, variant: str, index: int) -> dict[str, str]:
    domain, question_format = problem.family.split("_")
    return {
        "id": f"{problem.family}-{variant}-{index:05d}",
        "key": problem.identity,
        "prompt": problem.prompt,
        "ift": ift_answer(problem),
        "reasoning": reasoning_answer(problem),
        "answer": problem.answer,
        "family": problem.family,
        "domain": domain,
        "question_format": question_format,
        "task": problem.task,
        "variant": variant,
    }


def synthetic_pairs(
    family: str, variant: str, count: int, seed: int, exclude: set[str] | frozenset = frozenset()
) -> list[dict[str, str]]:
    """Paired rows for one family and variant; questions whose key is in `exclude` are never drawn."""
    problems = draw_problems(family, variant, count, seed, exclude)
    return [pair_row(problem, variant, index) for index, problem in enumerate(problems)]


def prompt_key(prompt: str) -> str:
    """A stable identity for a free-text prompt (the synthetic tasks have their own)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def corpus_family(name: str | None) -> str | None:
    """The family ("math" or "general") a corpus, file or repository name says, else None."""
    lowered = (name or "").lower()
    return "math" if "math" in lowered else "general" if "general" in lowered else None


def _check_released_columns(column_names: list[str], where: str) -> None:
    missing = [column for column in RELEASED_COLUMNS if column not in column_names]
    if missing:
        raise ValueError(f"{where} lacks column(s) {', '.join(missing)}; released pairs have {', '.join(RELEASED_COLUMNS)}")


def _with_family(dataset, default: str):
    """The released columns as strings, plus each row's family: its `corpus` column if it names
    one, else `default`."""
    from datasets import Value

    corpus = dataset["corpus"] if "corpus" in dataset.column_names else [None] * len(dataset)
    families = [corpus_family(name) or default for name in corpus]
    table = dataset.select_columns(list(RELEASED_COLUMNS))
    for column in RELEASED_COLUMNS:
        table = table.cast_column(column, Value("string"))
    return table.add_column("family", families)


def _load_released_files(path: Path):
    from datasets import concatenate_datasets, load_dataset

    files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.suffix in RELEASED_FILE_TYPES)
    if not files:
        raise FileNotFoundError(f"no .parquet or .jsonl files under {path}")
    parts = []
    for file in files:
        if file.suffix not in RELEASED_FILE_TYPES:
            raise ValueError(f"{file}: released pairs are read from .parquet or .jsonl files")
        part = load_dataset(RELEASED_FILE_TYPES[file.suffix], data_files=str(file), split="train")
        _check_released_columns(part.column_names, str(file))
        name = str(file.relative_to(path)) if path.is_dir() else file.name
        parts.append(_with_family(part, corpus_family(name) or corpus_family(path.name) or "general"))
    return concatenate_datasets(parts)


def _load_released_hub(source: str):
    from datasets import load_dataset

    from .backends import HubUnreachableError, is_unreachable, unreachable_message

    try:
        dataset = load_dataset(source, split=RELEASED_SPLIT)
    except Exception as error:
        if not is_unreachable(error):
            raise
        alternative = (
            f"download it on a machine with network (`hf download {source} --repo-type dataset --local-dir DIR`) "
            "and pass DIR, or one of its parquet/jsonl files, as the source."
        )
        raise HubUnreachableError(unreachable_message(source, alternative)) from error
    _check_released_columns(dataset.column_names, source)
    return _with_family(dataset, corpus_family(source) or "general")


def released_problem(prompt: str, reasoning: str, ift: str, trace_closed: bool, answer: str) -> str:
    """Why a released row cannot be a training pair ("" if it can); `ift` without its empty
    think block, `answer` what follows the trace."""
    for name, text in (("prompt", prompt), ("reasoning", reasoning), ("ift", ift)):
        if not text.strip():
            return f"empty_{name}"
    if not trace_closed:
        return "reasoning_unclosed"
    if not answer:
        return "reasoning_no_answer"
    return "ift_thinks" if THINK_OPEN in ift or THINK_CLOSE in ift else ""


def released_row(row: dict, index: int) -> dict:
    """A released row in the pair schema, with `problem` saying why it is unusable ("" if usable)."""
    from .llm_teacher import reasoning_target, split_reasoning, strip_empty_think
    from .scoring import last_boxed

    prompt, reasoning, ift = (row[column] or "" for column in RELEASED_COLUMNS)
    trace, answer, closed = split_reasoning(reasoning)
    ift = strip_empty_think(ift)
    problem = released_problem(prompt, reasoning, ift, closed, answer)
    family = row["family"]
    return {
        "id": f"{family}-train-{index:06d}",
        "key": prompt_key(prompt),
        "prompt": prompt,
        "ift": ift,
        # Normalised to the embedded format; a release may leave out the opening tag.
        "reasoning": reasoning_target(trace, answer) if closed else reasoning,
        "answer": last_boxed(ift) or "",
        "family": family,
        "domain": family,
        "question_format": "mixed",
        "task": family,
        "variant": "train",
        "problem": problem,
    }


def _read_released(source: str):
    path = Path(source)
    if path.exists():
        return _load_released_files(path)
    if path.suffix in RELEASED_FILE_TYPES or not HUB_ID.fullmatch(source):
        raise FileNotFoundError(f"{source}: no such file or folder (and not a hub id like {RELEASED_PAIRS[0]})")
    return _load_released_hub(source)


def load_released_pairs(source: str, limit: int | None = None, seed: int = 0):
    """The released pairs alone (see `released_pairs_report`)."""
    return released_pairs_report(source, limit, seed)[0]


def released_pairs_report(source: str, limit: int | None = None, seed: int = 0):
    """The released reasoning/IFT pairs in the pair schema (a `datasets.Dataset`).

    `source`: a hub id (`Scale-or-Reason/general-reasoning-ift-pairs`, `...math-reasoning-ift-pairs`,
    split `reasoning_ift_pairs`) or a local parquet/jsonl file or folder of them with columns
    `prompt`, `reasoning`, `ift` (optional `corpus`). Rows with an empty field, a reasoning without a
    closed think block or without an answer after it, or an IFT answer holding a think block are
    counted by reason in a logged warning and left out. `limit` rows are then drawn with `seed`.
    Returns the pairs and a report: rows read and the rows left out by reason.
    """
    from datasets import Features, Value

    if limit is not None and limit < 0:
        raise ValueError(f"limit must be a non-negative count or None, not {limit}")
    raw = _read_released(source)
    features = Features({column: Value("string") for column in (*PAIR_COLUMNS, "problem")})
    rows = raw.map(released_row, with_indices=True, remove_columns=raw.column_names, features=features)
    problems = Counter(problem for problem in rows["problem"] if problem)
    if problems:
        summary = ", ".join(f"{problem} {count}" for problem, count in sorted(problems.items()))
        logger.warning("%s: left out %d of %d released pairs (%s)", source, sum(problems.values()), len(rows), summary)
    pairs = rows.filter(lambda problem: not problem, input_columns="problem").remove_columns("problem")
    if limit is not None and limit < len(pairs):
        pairs = pairs.shuffle(seed=seed).select(range(limit)).flatten_indices()
    return pairs, {"rows": len(rows), "left_out": dict(sorted(problems.items()))}
