"""lm-eval task YAMLs, written in one shape for every benchmark: zero-shot, generative (multiple-
choice too), greedy, stopped at the student's end-of-turn string with a generation cap, scored by
a `process_results` hook of this package.

lm-eval 0.4.13 stops generation at a blank line after 256 tokens unless `until` and
`max_gen_toks` are set, and resolves relative `data_files` against the working directory: an
evaluation unit names its data relative to its own folder and runs lm-eval from there (in process,
and in the `lm_eval` command it writes), so a runs folder copied elsewhere still evaluates. Hooks
are `!function` tags that lm-eval resolves against the task folder, in a small module written
beside the YAMLs.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

TASK_PREFIX = "sor_"


def local_dataset(split: str, data_file: Path, relative_to: Path | None = None) -> dict:
    """Task fields that load `split` from a local jsonl or parquet file, named relative to the
    folder lm-eval will run in (`relative_to`), else by its absolute path."""
    loader = "parquet" if data_file.suffix == ".parquet" else "json"
    path = data_file.resolve()
    named = os.path.relpath(path, relative_to.resolve()) if relative_to is not None else str(path)
    return {"dataset_path": loader, "dataset_kwargs": {"data_files": {split: named}}}


def generation_task(
    task: str,
    dataset: dict,
    split: str,
    metric: str,
    until: list[str],
    max_gen_toks: int,
    templates: dict | None = None,
    metadata: dict | None = None,
) -> dict:
    """One task's configuration; `templates` are `doc_to_text`/`doc_to_target` (a column name
    or a Jinja template; none when hooks provide them)."""
    if not until:
        raise ValueError("until must name the end-of-turn string, or generation runs to max_gen_toks")
    return {
        "task": task,
        **dataset,
        "test_split": split,
        "output_type": "generate_until",
        **(templates or {}),
        "target_delimiter": "",
        "num_fewshot": 0,
        "generation_kwargs": {"until": list(until), "max_gen_toks": max_gen_toks, "do_sample": False},
        "metric_list": [{"metric": metric, "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0, **(metadata or {})},
    }


def write_task_yaml(path: Path, config: dict, hooks: dict[str, str]) -> None:
    """The YAML of `config`, then one `key: !function module.name` line per hook (a tag that
    `yaml.safe_dump` cannot write)."""
    lines = "".join(f"{key}: !function {function}\n" for key, function in hooks.items())
    path.write_text(yaml.safe_dump(config, sort_keys=False) + lines)
