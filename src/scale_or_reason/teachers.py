"""Teachers: prompts in, paired IFT and reasoning answers out.

The embedded teacher is a program (`tasks.py` knows every answer and how to work it out). Its two
answers to one prompt end in the same `\\boxed{}` answer:

- IFT (thinking off): the answer alone;
- reasoning (thinking on): `<think>`, the worked steps, `</think>`, then the same answer.

The reasoning form comes at three granularities (`GRANULARITIES`, issue 7): `full` (every worked
step), `key` (only the decisions that determine the answer, see `KEY_STEPS`) and `answer` (an empty
think block: the IFT answer in the reasoning form), so "what is the smallest supervision that
keeps the structure of the solution" is a teacher parameter.

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


def reasoning_text(steps: tuple[str, ...] | list[str], answer: str) -> str:
    """The reasoning form of an answer: the steps inside a think block, then the boxed answer.
    No steps give the empty think block (`<think>\n\n</think>`) that an IFT answer sits behind."""
    trace = "\n".join(steps)
    return f"{THINK_OPEN}\n{trace}\n{THINK_CLOSE}\n\n{boxed(answer)}"


# --- trace granularity --------------------------------------------------------------------------

GRANULARITIES = ("full", "key", "answer")


DIGIT_FACT = re.compile(r"^\d × \d(?: \+ \d+)? = \d+, ")  # "7 × 6 = 42, " of "..., carry 4, so far 2"


def _multiplication_key(steps: tuple[str, ...]) -> tuple[str, ...]:
    """Of each digit line only what the next line needs, the carry and the running result; the
    digit fact that produced them is left for the student to compute. The header (the operands,
    or the swap of the related task) and, for multiple choice, the option match stay: they are
    decisions, not working."""
    return tuple(DIGIT_FACT.sub("", step) for step in steps)


def _sorting_key(steps: tuple[str, ...]) -> tuple[str, ...]:
    """The digit counts alone: they fix the sorted list, and the final line only writes out what
    the boxed answer repeats anyway."""
    if not steps or not steps[-1].startswith("sorted: "):
        raise ValueError(f"sorting trace without its final 'sorted:' line: {steps!r}")
    return steps[:-1]


def _largest_key(steps: tuple[str, ...]) -> tuple[str, ...]:
    """The decisions (the group with the largest first digit, the largest of a tie, the option)
    without the scan of every option's first digit that led to them."""
    if not steps or not steps[0].startswith("first digits: "):
        raise ValueError(f"largest-number trace without its 'first digits:' scan: {steps!r}")
    return steps[1:]


# Keyed by task, not family: a family may gain tasks whose steps have another shape. The related
# tasks (variant `related`) share their trained task's shape.
KEY_STEPS = {
    "multiply": _multiplication_key,
    "multiply_choice": _multiplication_key,
    "multiply_swapped": _multiplication_key,
    "multiply_swapped_choice": _multiplication_key,
    "sort": _sorting_key,
    "sort_descending": _sorting_key,
    "largest": _largest_key,
    "smallest": _largest_key,
}


def check_granularity(granularity: str) -> None:
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown trace granularity {granularity!r}; known: {', '.join(GRANULARITIES)}")


def trace_steps(problem: Problem, granularity: str = "full") -> tuple[str, ...]:
    """The steps the reasoning form shows at `granularity`: all (`full`), the decisions that
    still determine the answer (`key`), or none (`answer`)."""
    check_granularity(granularity)
    if granularity == "full":
        return problem.steps
    if granularity == "answer":
        return ()
    if problem.task not in KEY_STEPS:
        raise ValueError(f"no key-step granularity for task {problem.task!r}; known: {', '.join(KEY_STEPS)}")
    return KEY_STEPS[problem.task](problem.steps)


def regranulate(reasoning: str, task: str, answer: str, granularity: str) -> str:
    """A full reasoning answer rewritten at a coarser `granularity`, from its own trace lines (the
    same steps `trace_steps` would give for the problem)."""
    check_granularity(granularity)
    if granularity == "full":
        return reasoning
    start, end = reasoning.index(THINK_OPEN) + len(THINK_OPEN), reasoning.rindex(THINK_CLOSE)
    steps = tuple(line for line in reasoning[start:end].strip("\n").split("\n"))
    if granularity == "answer":
        return reasoning_text((), answer)
    if task not in KEY_STEPS:
        raise ValueError(f"no key-step granularity for task {task!r}; known: {', '.join(KEY_STEPS)}")
    return reasoning_text(KEY_STEPS[task](steps), answer)


def reasoning_answer(problem: Problem, granularity: str = "full") -> str:
    return reasoning_text(trace_steps(problem, granularity), problem.answer)


def pair_row(problem: Problem, variant: str, index: int, granularity: str = "full") -> dict[str, str]:
    domain, question_format = problem.family.split("_")
    return {
        "id": f"{problem.family}-{variant}-{index:05d}",
        "key": problem.identity,
        "prompt": problem.prompt,
        "ift": ift_answer(problem),
        "reasoning": reasoning_answer(problem, granularity),
        "answer": problem.answer,
        "family": problem.family,
        "domain": domain,
        "question_format": question_format,
        "task": problem.task,
        "variant": variant,
    }


def synthetic_pairs(
    family: str,
    variant: str,
    count: int,
    seed: int,
    exclude: set[str] | frozenset = frozenset(),
    granularity: str = "full",
) -> list[dict[str, str]]:
    """Paired rows for one family and variant; questions whose key is in `exclude` are never drawn.
    `granularity` sets how much of the trace the reasoning form shows (the prompts do not change)."""
    check_granularity(granularity)
    problems = draw_problems(family, variant, count, seed, exclude)
    return [pair_row(problem, variant, index, granularity) for index, problem in enumerate(problems)]


def granularity_teacher(granularity: str):
    """A pairs function with `synthetic_pairs`' signature whose traces have `granularity`: the
    granularities as competing teachers, for a smoke test to rank (issue 7, item 4)."""
    check_granularity(granularity)

    def pairs(family, variant, count, seed, exclude=frozenset()):
        return synthetic_pairs(family, variant, count, seed, exclude, granularity=granularity)

    pairs.__name__ = pairs.__qualname__ = f"{granularity}_teacher"
    return pairs


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
    from .backends import load_hub_dataset

    alternative = (
        f"download it on a machine with network (`hf download {source} --repo-type dataset --local-dir DIR`) "
        "and pass DIR, or one of its parquet/jsonl files, as the source."
    )
    dataset = load_hub_dataset(source, RELEASED_SPLIT, alternative)
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
