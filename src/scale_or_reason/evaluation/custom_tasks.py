"""A study's own lm-eval tasks (a benchmark with `task`): any task lm-eval knows, registered or
written as YAML in the benchmark's `include_path`, run in the same lm-eval call as the study's
other benchmarks and scored by its own metric.

Three things differ from running the task alone, each so that a reasoning student is scored on its
answer as the paper's benchmarks score it:
- generation stops at the student's end-of-turn string, capped by the study's `max_gen_toks` (a
  task's own stop strings, often a blank line, would cut a trace short): a task YAML written into
  the unit's `tasks/` includes the user's and overrides `generation_kwargs` only;
- relative data files in the user's YAML are read relative to that YAML's folder (lm-eval would
  read them relative to the unit's folder);
- the think block is stripped before the task's filters and metric see the response
  (`ThinkStripped`; the answer after the last `</think>`, nothing when the block is left open),
  while the raw response, trace included, is what the unit keeps and counts.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..config import paths
from ..config.params import BenchmarkParams, ParametersError
from ..core.thinking import after_thinking
from .lm_eval_tasks import TASK_PREFIX

CUSTOM_PREFIX = TASK_PREFIX + "task_"


def task_manager(benchmark: BenchmarkParams):
    """lm-eval's index of the tasks `benchmark` may name: its folder's, or lm-eval's own."""
    from lm_eval.tasks import TaskManager  # seconds to import: `sor check` loads it for a task only

    if benchmark.include_path is None:
        return TaskManager()
    folder = paths.resolve(benchmark.include_path)
    if not folder.is_dir():
        raise ParametersError(f"benchmarks.{benchmark.name}.include_path: no such folder {folder}")
    if not any(folder.rglob("*.yaml")) and not any(folder.rglob("*.yml")):
        raise ParametersError(f"benchmarks.{benchmark.name}.include_path: no task YAML in {folder}")
    return TaskManager(include_path=str(folder), include_defaults=False)


def task_yaml(benchmark: BenchmarkParams) -> Path:
    """The YAML file that defines `benchmark.task`; a task lm-eval does not know is a one-line error."""
    entry = task_manager(benchmark).task_index.get(benchmark.task)
    where = f"in {benchmark.include_path}" if benchmark.include_path else "among lm-eval's tasks"
    if entry is None:
        raise ParametersError(f"benchmarks.{benchmark.name}.task: no lm-eval task {benchmark.task!r} {where}")
    if entry.yaml_path is None:
        raise ParametersError(
            f"benchmarks.{benchmark.name}.task: {benchmark.task!r} is not defined by a task YAML {where}"
        )
    return Path(entry.yaml_path)


def local_data_files(config: dict, folder: Path) -> dict | None:
    """The task's `dataset_kwargs` with relative `data_files` made absolute from `folder`; None when
    it names no local file."""
    kwargs = dict(config.get("dataset_kwargs") or {})
    data_files = kwargs.get("data_files")
    if data_files is None:
        return None

    def absolute(name: str) -> str:
        return name if "://" in name or Path(name).is_absolute() else str((folder / name).resolve())

    if isinstance(data_files, str):
        kwargs["data_files"] = absolute(data_files)
    elif isinstance(data_files, list):
        kwargs["data_files"] = [absolute(name) for name in data_files]
    else:
        kwargs["data_files"] = {
            split: [absolute(n) for n in names] if isinstance(names, list) else absolute(names)
            for split, names in data_files.items()
        }
    return kwargs


def write_custom_task(
    benchmark: BenchmarkParams, tasks_folder: Path, until: list[str], max_tokens: int
) -> str:
    """The unit's YAML for a `task` benchmark (the user's, included, with the study's stop and cap
    and its data found where the user's YAML is); returns its lm-eval task name."""
    from lm_eval.tasks._yaml_loader import load_yaml

    source = task_yaml(benchmark)
    config = load_yaml(source, resolve_func=False)
    if config.get("output_type", "generate_until") != "generate_until":
        raise ParametersError(
            f"benchmarks.{benchmark.name}.task: {benchmark.task!r} is a {config['output_type']} task; "
            "students are evaluated on what they generate (output_type: generate_until)"
        )
    generation = {**(config.get("generation_kwargs") or {}), "until": list(until), "max_gen_toks": max_tokens}
    generation.setdefault("do_sample", False)
    name = CUSTOM_PREFIX + benchmark.name
    derived = {"include": str(source), "task": name, "generation_kwargs": generation}
    data = local_data_files(config, source.parent)
    if data is not None:
        derived["dataset_kwargs"] = data
    tasks_folder.mkdir(parents=True, exist_ok=True)
    (tasks_folder / f"{name}.yaml").write_text(yaml.safe_dump(derived, sort_keys=False))
    return name


def scored_samples(samples: list[dict]) -> tuple[list[dict], str]:
    """One logged sample per document, and the name of the metric that scores them: the task's
    first filter's (a task with several filters logs each document once per filter) first metric."""
    first = samples[0]
    chosen, metric = first.get("filter", "none"), first["metrics"][0]
    return [sample for sample in samples if sample.get("filter", "none") == chosen], metric


class ThinkStripped:
    """Installed as `lm.generate_until` (after any other wrapper): responses to the custom tasks'
    requests lose their think block before lm-eval's filters see them; `raw` keeps each one whole,
    by (task, document)."""

    def __init__(self, lm, tasks: set[str]):
        self.tasks = tasks
        self.raw: dict[tuple[str, int], str] = {}
        self.generate = lm.generate_until
        lm.generate_until = self

    def __call__(self, requests, *args, **kwargs):
        responses = self.generate(requests, *args, **kwargs)
        stripped = []
        for request, response in zip(requests, responses, strict=True):
            if request.task_name in self.tasks:
                self.raw[(request.task_name, request.doc_id)] = response
                response = after_thinking(response) or ""
            stripped.append(response)
        return stripped

    def with_raw_responses(self, task: str, samples: list[dict]) -> list[dict]:
        """The logged samples with their raw (unstripped) responses, as the unit keeps them."""
        return [{**sample, "resps": [[self.raw[(task, sample["doc_id"])]]]} for sample in samples]
