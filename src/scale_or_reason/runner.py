"""Run a whole study: each unit of work is one papermill execution of a stage notebook.

    sor study parameters/embedded.yaml [--jobs 2] [--rerun analyze] [--executor slurm] [--wait]

Units run in dependency order (generation, then one training per student, each followed by its
evaluation, then the analysis and, when the study trains curricula, tests transfer or selects
data, their analyses; a data-efficiency study's `unsolved` selections wait for its probe), up to
`--jobs` at a time, longest first. A unit whose folder is
marked complete is skipped, so a study that was stopped resumes where it stopped; a folder left
unfinished is emptied and the unit starts again. Each executed notebook and its log stay in the
unit's folder. The run ends with a timing table per stage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import papermill
import torch
import yaml
from tqdm.auto import tqdm

from . import flops, machine, paths, preflight, store
from .params import StudyParams, load_study
from .planning import PACKAGED_CONFIGS, describe, student_architecture
from .recipes import parse_recipe

NOTEBOOKS = {
    "generate": "01_generate.ipynb",
    "train": "02_train.ipynb",
    "evaluate": "03_evaluate.ipynb",
    "analyze": "04_pareto.ipynb",
    "curriculum": "05_curriculum.ipynb",
    "transfer": "06_transfer.ipynb",
    "efficiency": "07_data_efficiency.ipynb",
}
STAGES = tuple(NOTEBOOKS)
LOG_TAIL_LINES = 30


class UnitFailed(RuntimeError):
    pass


class UnknownNotebookParameter(ValueError):
    pass


@dataclass
class Unit:
    stage: str
    name: str
    folder: Path
    parameters: dict
    needs: tuple[str, ...] = ()
    cost: float = 1.0
    threads: int = 1

    @property
    def key(self) -> str:
        return f"{self.stage}:{self.name}"

    @property
    def notebook(self) -> Path:
        return paths.NOTEBOOKS_DIR / NOTEBOOKS[self.stage]


@dataclass
class Outcome:
    unit: Unit
    status: str  # ran | skipped | failed
    seconds: float = 0.0
    error: str = field(default="", repr=False)


def _relative_cost(study: StudyParams, scale: str, recipe: str) -> float:
    """Parameters × a rough length factor: enough to start the longest units first."""
    s = study.students.scales[scale]
    if s.from_config:
        size = s.num_layers * 12 * s.hidden_size**2
    elif s.model in PACKAGED_CONFIGS:
        size = flops.parameter_counts(student_architecture(study, scale))["total"]
    else:
        size = 1.0  # an unknown hub model: its config is not fetched just to order the queue
    rows = study.samples_per_family(recipe) / study.teacher.train_per_family
    return size * (1.0 + 2.0 * parse_recipe(recipe).reasoning_share) * rows


def plan(study: StudyParams, parameters_file: str | Path) -> list[Unit]:
    """Every unit of the study, in an order that respects dependencies."""
    file = str(paths.resolve(parameters_file))
    units = [Unit("generate", "data", store.data_dir(study), {"parameters_file": file}, cost=1e12)]
    for scale, recipe in study.students_to_train():
        name, cost = f"{scale}-{recipe}", _relative_cost(study, scale, recipe)
        selector = {"parameters_file": file, "scale": scale, "recipe": recipe}
        needs = ("generate:data",)
        if parse_recipe(recipe).strategy == "unsolved":  # drops what the probe solves: after its evaluation
            needs += (f"evaluate:{study.selection.probe.scale}-probe",)
        units.append(
            Unit("train", name, store.train_dir(study, scale, recipe), selector,
                 needs=needs, cost=cost, threads=study.training.threads)
        )  # fmt: skip
        units.append(
            Unit("evaluate", name, store.eval_dir(study, scale, recipe), selector,
                 needs=(f"train:{name}",), cost=cost, threads=study.evaluation.threads)
        )  # fmt: skip
    evaluations = tuple(u.key for u in units if u.stage == "evaluate")
    whole_study = {"parameters_file": file}
    if study.recipes:  # the paper's analysis compares the recipes across scales
        units.append(Unit("analyze", "study", store.analysis_dir(study), whole_study, needs=evaluations))
    if study.curricula.recipes:
        units.append(Unit("curriculum", "study", store.curriculum_dir(study), whole_study, needs=evaluations))
    if any(b.variant != "test" for b in study.benchmarks):
        units.append(Unit("transfer", "study", store.transfer_dir(study), whole_study, needs=evaluations))
    if study.selection or study.teacher_choice:
        units.append(Unit("efficiency", "study", store.efficiency_dir(study), whole_study, needs=evaluations))
    return units


def check_notebook_parameters(unit: Unit) -> None:
    """papermill only warns about a parameter the notebook does not declare: refuse it instead."""
    declared = papermill.inspect_notebook(str(unit.notebook))
    unknown = sorted(set(unit.parameters) - set(declared))
    if unknown:
        raise UnknownNotebookParameter(
            f"{unit.notebook.name} declares no parameter {', '.join(map(repr, unknown))} "
            f"(its parameters cell has: {', '.join(declared) or 'none'})"
        )


def kernel_environment(study: StudyParams, threads: int) -> dict[str, str]:
    """Caches inside the study's folder, the unit's thread budget and, for offline studies, no hub.

    A study that downloads (`runner.offline: false`) keeps the user's own Hugging Face cache, where
    multi-GB models are shared between studies."""
    cache = store.study_dir(study) / ".cache"
    env = dict(os.environ)
    env.update(
        MPLCONFIGDIR=str(cache / "matplotlib"),
        IPYTHONDIR=str(cache / "ipython"),
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
    )
    if study.runner.offline:
        env.update(
            HF_HOME=str(cache / "huggingface"),
            HF_DATASETS_CACHE=str(cache / "datasets"),
            HF_HUB_OFFLINE="1",
            HF_DATASETS_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
        )
    return env


def execute(unit: Unit, study: StudyParams) -> None:
    """One papermill execution; the executed notebook and its log stay in the unit's folder."""
    # An interrupted training unit keeps its periodic checkpoints and resumes from the last one.
    store.reset(unit.folder, keep=(store.CHECKPOINTS,) if unit.stage == "train" else ())
    log_file = unit.folder / "papermill.log"
    command = [
        sys.executable, "-m", "papermill", str(unit.notebook), str(unit.folder / unit.notebook.name),
        "-y", yaml.safe_dump(unit.parameters), "--cwd", str(paths.REPO_ROOT), "-k", "python3",
        "--log-output", "--no-progress-bar",
    ]  # fmt: skip
    with log_file.open("w") as log:
        finished = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=kernel_environment(study, unit.threads))
    if finished.returncode != 0:
        reason = notebook_error(unit.folder / unit.notebook.name) or "the notebook stopped"
        tail = "\n".join(log_file.read_text().splitlines()[-LOG_TAIL_LINES:])
        raise UnitFailed(f"{unit.key} failed: {reason}\nlast lines of {log_file}:\n{tail}")
    if not store.is_complete(unit.folder):
        raise UnitFailed(f"{unit.key}: the notebook finished but did not mark {unit.folder} complete")


def notebook_error(executed: Path) -> str:
    """The exception that stopped an executed notebook, as `Name: message` ("" if none is recorded),
    so that a failed unit's first line says why, above the papermill log's traceback."""
    try:
        cells = json.loads(executed.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return ""
    errors = [out for cell in cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    return f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else ""


def _timed(unit: Unit, study: StudyParams) -> Outcome:
    start = time.perf_counter()
    try:
        execute(unit, study)
    except UnitFailed as error:
        return Outcome(unit, "failed", time.perf_counter() - start, str(error))
    return Outcome(unit, "ran", time.perf_counter() - start)


def run_units(units: list[Unit], study: StudyParams, jobs: int, rerun: set[str]) -> list[Outcome]:
    for unit in units:
        check_notebook_parameters(unit)
    outcomes: dict[str, Outcome] = {}
    pending = {u.key: u for u in units}
    for key, unit in list(pending.items()):
        if unit.stage not in rerun and store.is_complete(unit.folder):
            outcomes[key] = Outcome(unit, "skipped")
            del pending[key]
    running: dict[Future, Unit] = {}
    failed = False
    with ThreadPoolExecutor(max_workers=jobs) as pool, tqdm(total=len(units), desc=study.study, unit="unit") as bar:
        bar.update(len(outcomes))
        while pending or running:
            finished = {key for key, outcome in outcomes.items() if outcome.status in ("ran", "skipped")}
            ready = [u for u in pending.values() if set(u.needs) <= finished]
            for unit in sorted(ready, key=lambda u: -u.cost)[: 0 if failed else jobs - len(running)]:
                running[pool.submit(_timed, unit, study)] = pending.pop(unit.key)
            if not running:
                break
            bar.set_postfix_str(", ".join(u.key for u in running.values()), refresh=True)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                outcomes[running.pop(future).key] = outcome
                failed |= outcome.status == "failed"
                bar.write(f"{outcome.status:>7}  {outcome.unit.key}  {outcome.seconds:7.1f} s")
                bar.update()
    return [outcomes[u.key] for u in units if u.key in outcomes]


def timing_table(outcomes: list[Outcome]) -> pd.DataFrame:
    records = [{"stage": o.unit.stage, "status": o.status, "seconds": o.seconds} for o in outcomes]
    table = pd.DataFrame(records)
    summary = table.pivot_table(index="stage", columns="status", values="seconds", aggfunc="count", fill_value=0)
    summary["seconds"] = table.groupby("stage")["seconds"].sum()
    return summary.reindex([s for s in STAGES if s in summary.index]).astype({"seconds": float}).round(1)


def dry_run(parameters_file: str | Path) -> str:
    """Validate a study and describe its plan (units, models, benchmarks, estimated FLOPs) without
    running anything or loading any weights."""
    study = load_study(parameters_file)
    units = plan(study, parameters_file)
    for unit in units:
        check_notebook_parameters(unit)
    return describe(study, units)


EXECUTORS = ("local", "slurm")


def run_study(
    parameters_file: str | Path, jobs: int | None = None, rerun: tuple[str, ...] = (), wait: bool = False,
    executor: str = "local",
) -> pd.DataFrame:  # fmt: skip
    """Run every unfinished unit of a study, here (`local`, `jobs` side by side) or as Slurm jobs
    (`slurm`, settings in `runner.slurm`); returns the per-unit timings.

    The study is locked while it runs: a second runner of the same study stops at once, naming
    the first (or, with `wait`, runs after it and finds its work done)."""
    study = load_study(parameters_file)
    unknown = set(rerun) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stage(s) to rerun: {', '.join(sorted(unknown))}; stages: {', '.join(STAGES)}")
    preflight.check_study(study)  # paths and folders, before the lock, the peak benchmark or any unit
    folder = store.study_dir(study)
    with store.study_lock(study, wait=wait):
        store.write_text(folder / "study.yaml", yaml.safe_dump(study.model_dump(mode="json"), sort_keys=False))
        units = plan(study, parameters_file)
        start = time.perf_counter()
        if executor == "slurm":
            from .slurm import SlurmParams, run_units_slurm  # each job measures its own node's peak

            outcomes = run_units_slurm(units, study, set(rerun), study.runner.slurm or SlurmParams())
            how = "as Slurm jobs"
        else:
            if any(u.stage == "train" and not store.is_complete(u.folder) for u in units):
                # Measured once, before any unit loads the machine, for every training unit's MFU.
                machine.peak_flops("cuda" if torch.cuda.is_available() else "cpu", torch.float32, study.training.threads)
            outcomes = run_units(units, study, jobs or study.runner.jobs, set(rerun))
            how = f"with {jobs or study.runner.jobs} job(s)"
        wall = time.perf_counter() - start
    timings = pd.DataFrame(
        [{"stage": o.unit.stage, "unit": o.unit.name, "status": o.status, "seconds": round(o.seconds, 1)} for o in outcomes]
    )
    store.write_atomic(folder / "timings.csv", lambda tmp: timings.to_csv(tmp, index=False))
    print(f"\n{study.study}: timings per stage (wall clock {wall:.0f} s {how})")
    print(timing_table(outcomes).to_string())
    failures = [o for o in outcomes if o.status == "failed"]
    if failures:
        raise UnitFailed("\n\n".join(o.error for o in failures))
    print(f"results: {store.results_csv(study)}")
    return timings
