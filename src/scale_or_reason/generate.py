"""Stage 1: the teacher answers every prompt twice; the tokenizer is built from what it wrote.

    papermill notebooks/01_generate.ipynb out.ipynb -p parameters_file parameters/embedded.yaml
    # or, without Jupyter:
    python -c "from scale_or_reason import generate; generate.run('parameters/embedded.yaml')"

Writes into the unit's folder: `pairs/train.jsonl` (the paired training set), one
`benchmarks/<name>.jsonl` per benchmark (prompts never seen in training, with the teacher's answers
kept for reference), `tokenizer/`, and `token_stats.csv` (lengths of both answer formats).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from datasets import Dataset, load_dataset

from . import store
from .params import StudyParams, load_study
from .teachers import synthetic_pairs
from .tokenizer import build_tokenizer, tokenizer_corpus


def training_pairs(study: StudyParams) -> list[dict]:
    teacher = study.teacher
    return [
        row
        for family in teacher.families
        for row in synthetic_pairs(family, "train", teacher.train_per_family, study.seed)
    ]


def benchmark_pairs(study: StudyParams, seen_keys: set[str]) -> dict[str, list[dict]]:
    """Each benchmark's rows, drawn from a stream of their own, never a training question."""
    return {
        benchmark.name: synthetic_pairs(
            benchmark.family, benchmark.variant, study.teacher.test_per_family, study.seed, seen_keys
        )
        for benchmark in study.benchmarks
    }


def token_stats(tokenizer, tables: dict[str, list[dict]]) -> pd.DataFrame:
    """Per table and family: mean prompt, IFT and reasoning lengths in tokens, and their ratio."""
    records = []
    for table, rows in tables.items():
        for row in rows:
            count = {k: len(tokenizer(row[k], add_special_tokens=False)["input_ids"]) for k in ("prompt", "ift", "reasoning")}
            records.append({"table": table, "family": row["family"], **count})
    lengths = pd.DataFrame(records)
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
    return load_dataset("json", data_files=str(data_folder / "pairs" / "train.jsonl"), split="train")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    store.write_atomic(path, lambda tmp: Dataset.from_list(rows).to_json(tmp, lines=True, force_ascii=False))


def generate_data(study: StudyParams) -> pd.DataFrame:
    """Write (or find) the study's data; returns the token-length statistics."""
    folder = store.data_dir(study)
    if store.is_complete(folder):
        return pd.read_csv(folder / "token_stats.csv")
    train_rows = training_pairs(study)
    benchmarks = benchmark_pairs(study, {row["key"] for row in train_rows})
    tokenizer = build_tokenizer(tokenizer_corpus(train_rows), study.tokenizer.vocab_size)
    stats = token_stats(tokenizer, {"train": train_rows, **benchmarks})
    _write_jsonl(folder / "pairs" / "train.jsonl", train_rows)
    for name, rows in benchmarks.items():
        _write_jsonl(folder / "benchmarks" / f"{name}.jsonl", rows)
    store.write_atomic(folder / "tokenizer", tokenizer.save_pretrained)
    store.write_atomic(folder / "token_stats.csv", lambda tmp: stats.to_csv(tmp, index=False))
    store.mark_complete(folder, train_rows=len(train_rows), benchmarks=sorted(benchmarks))
    return stats


def run(parameters_file: str) -> pd.DataFrame:
    return generate_data(load_study(parameters_file))
