"""Stage 1: the teacher answers every prompt twice; the tokenizer is built from what it wrote.

    papermill notebooks/01_generate.ipynb out.ipynb -p parameters_file parameters/embedded.yaml
    # or, without Jupyter:
    python -c "from scale_or_reason.data import generation; generation.run('parameters/embedded.yaml')"

Writes into the unit's folder: `pairs/train.jsonl` (the paired training set), one
`benchmarks/<name>.jsonl` per synthetic benchmark (prompts never seen in training, with the
teacher's answers kept for reference), `tokenizer/` (when students are built from config), and
`token_stats.csv` (lengths of both answer formats). A data-efficiency study also writes its
candidate pool (`pool/train.jsonl`) and each pool question once (`pool/questions.jsonl`).

The teacher is the programmatic one (`synthetic`), the paper's released pairs (`released`), or an
LLM with a thinking switch (`transformers`, `vllm`) answering every prompt with thinking off and on.
An LLM teacher's answers that never close their think block or hit the token limit are not trained
on: they are written to `pairs/rejected.jsonl` and counted in `teacher_report.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from datasets import Dataset, load_dataset

from .. import units
from ..config import paths
from ..config.params import StudyParams, load_study
from ..core import files
from ..core.files import DATA_FILE_TYPES
from ..core.hub import load_hub_dataset, load_tokenizer
from .backends import load_backend
from .llm_teacher import check_thinking_switch, teach
from .pool import POOL_FILE, QUESTIONS_FILE, pool_questions, study_pool
from .prepared import write_format_tokens
from .released import released_pairs_report
from .teachers import synthetic_pairs
from .tokenizer import build_tokenizer, count_tokens, tokenizer_corpus

PAIRS_FILE = Path("pairs") / "train.jsonl"


def training_pairs(study: StudyParams) -> list[dict]:
    teacher = study.teacher
    return [
        row
        for family in teacher.families
        for row in synthetic_pairs(family, "train", teacher.train_per_family, study.seed)
    ]


def benchmark_pairs(study: StudyParams, seen_keys: set[str]) -> dict[str, list[dict]]:
    """Each synthetic benchmark's rows, drawn from a stream of their own, never a training question.
    (The paper's benchmarks are read by lm-eval from their own datasets.)"""
    return {
        benchmark.name: synthetic_pairs(
            benchmark.family,
            benchmark.variant,
            benchmark.items_or(study.teacher.test_per_family),
            study.seed,
            seen_keys,
        )
        for benchmark in study.benchmarks
        if benchmark.is_synthetic
    }


def load_prompts(study: StudyParams) -> list[str]:
    """The prompts an LLM teacher answers: the `prompt` column of a local parquet/jsonl file or of
    a hub dataset (split `teacher.split`), `teacher.limit` of them drawn with the study's seed."""
    teacher = study.teacher
    path = paths.resolve(teacher.source)
    if path.is_file():
        dataset = load_dataset(DATA_FILE_TYPES.get(path.suffix, "json"), data_files=str(path), split="train")
    else:
        alternative = (
            "download the dataset where the hub is reachable and give a local parquet/jsonl file "
            "as teacher.source."
        )
        dataset = load_hub_dataset(teacher.source, teacher.split or "train", alternative)
    if "prompt" not in dataset.column_names:
        raise ValueError(
            f"teacher.source {teacher.source}: no `prompt` column (it has {', '.join(dataset.column_names)})"
        )
    if teacher.limit is not None and teacher.limit < len(dataset):
        dataset = dataset.shuffle(seed=study.seed).select(range(teacher.limit))
    return list(dataset["prompt"])


def llm_teacher_pairs(study: StudyParams) -> tuple[list[dict], list[dict], dict]:
    teacher = study.teacher
    prompts = load_prompts(study)
    backend = load_backend(
        teacher.kind,
        teacher.model,
        tensor_parallel_size=teacher.tensor_parallel_size,
        trust_remote_code=study.trust_remote_code,
    )
    check_thinking_switch(backend.tokenizer, teacher.model)
    pairs, report = teach(
        backend,
        prompts,
        corpus=teacher.corpus,
        thinking_decoding=teacher.decoding.thinking,
        non_thinking_decoding=teacher.decoding.non_thinking,
        seed=study.seed,
    )
    rejected = report.pop("rejected_rows")
    return pairs.to_list(), rejected.to_list(), {"kind": teacher.kind, "model": teacher.model, **report}


def teacher_pairs(study: StudyParams) -> tuple[list[dict], list[dict], dict]:
    """The training pairs, the answers refused (with their reason) and the teacher's report."""
    teacher = study.teacher
    if teacher.kind == "synthetic":
        rows = training_pairs(study)
        return rows, [], {"kind": "synthetic", "pairs": len(rows)}
    if teacher.kind == "released":
        pairs, counts = released_pairs_report(
            teacher.source, teacher.limit, study.seed, columns=teacher.columns, split=teacher.split
        )
        rows = pairs.to_list()
        return rows, [], {"kind": "released", "source": teacher.source, "pairs": len(rows), **counts}
    return llm_teacher_pairs(study)


def stats_tokenizer(study: StudyParams, train_rows: list[dict]):
    """The tokenizer that measures lengths: the study's own, or the first pretrained student's."""
    if study.builds_tokenizer:
        return build_tokenizer(tokenizer_corpus(train_rows), study.tokenizer.vocab_size)
    first = next(iter(study.students.scales.values()))
    return load_tokenizer(first.model, trust_remote_code=study.trust_remote_code)


def token_stats(tokenizer, tables: dict[str, list[dict]]) -> pd.DataFrame:
    """Per table and family: mean prompt, IFT and reasoning lengths in tokens, and their ratio."""
    columns = ("prompt", "ift", "reasoning")
    frames = [
        pd.DataFrame(
            {
                "table": table,
                "family": [row["family"] for row in rows],
                **{column: count_tokens(tokenizer, [row[column] for row in rows]) for column in columns},
            }
        )
        for table, rows in tables.items()
    ]
    lengths = pd.concat(frames, ignore_index=True)
    stats = lengths.groupby(["table", "family"], sort=False).agg(
        n=("prompt", "size"),
        prompt_tokens=("prompt", "mean"),
        ift_tokens=("ift", "mean"),
        reasoning_tokens=("reasoning", "mean"),
        reasoning_tokens_max=("reasoning", "max"),
    )
    stats["reasoning_to_ift"] = stats["reasoning_tokens"] / stats["ift_tokens"]
    return stats.reset_index()


def load_pairs(data_folder: Path) -> Dataset:
    return Dataset.from_list(files.read_jsonl(data_folder / PAIRS_FILE))


def generate_data(study: StudyParams) -> pd.DataFrame:
    """Write (or find) the study's data; returns the token-length statistics."""
    folder = units.data_dir(study)
    if units.is_complete(folder):
        return pd.read_csv(folder / "token_stats.csv")
    train_rows, rejected, report = teacher_pairs(study)
    if not train_rows:
        raise ValueError(f"the teacher left no training pairs ({json.dumps(report)})")
    benchmarks = benchmark_pairs(study, {row["key"] for row in train_rows})
    pool = study_pool(study) if study.selection else []  # its questions are training questions
    tokenizer = stats_tokenizer(study, train_rows + pool)
    # The pool's traces count towards the evaluation's generation cap (`evaluate.max_gen_toks`).
    stats = token_stats(tokenizer, {"train": train_rows, **benchmarks, **({"pool": pool} if pool else {})})
    files.write_jsonl(folder / PAIRS_FILE, train_rows)
    if rejected:
        files.write_jsonl(folder / "pairs" / "rejected.jsonl", rejected)
    for name, rows in benchmarks.items():
        files.write_jsonl(folder / "benchmarks" / f"{name}.jsonl", rows)
    if pool:
        files.write_jsonl(folder / POOL_FILE, pool)
        files.write_jsonl(folder / QUESTIONS_FILE, pool_questions(pool))
    if study.builds_tokenizer:
        files.write_atomic(folder / "tokenizer", tokenizer.save_pretrained)
        # Prepared once here: every training unit of the study would tokenize the same rows again.
        write_format_tokens(folder, load_pairs(folder), tokenizer)
    files.write_json(folder / "teacher_report.json", report)
    files.write_csv(folder / "token_stats.csv", stats)
    units.mark_complete(folder, train_rows=len(train_rows), benchmarks=sorted(benchmarks))
    return stats


def run(parameters_file: str) -> pd.DataFrame:
    return generate_data(load_study(parameters_file))
