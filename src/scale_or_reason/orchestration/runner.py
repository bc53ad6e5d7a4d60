"""Run a whole study: each unit of work is one papermill execution of a stage notebook.

    sor study parameters/embedded.yaml [--jobs 2] [--rerun analyze] [--executor slurm] [--wait]

Units come from the unit graph (`units.plan`) and run in dependency order (generation, then one
training per student, each followed by its evaluation, then the analyses), up to `--jobs` at a
time, longest first, or as Slurm jobs (`slurm.py`). A unit whose folder is marked complete is
skipped, so a study that was stopped resumes where it stopped; a folder left unfinished is emptied
and the unit starts again. The run ends with a timing table per stage.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from .. import units
from ..config.params import SlurmParams, StudyParams, load_study
from ..core import files, machine
from ..units import STAGES, Unit
from . import preflight
from .execution import Outcome, timed
from .interface import UnitFailed
from .lock import study_lock
from .notebooks import check_notebook_parameters
from .slurm import run_units_slurm
from .warm_kernels import KernelPool


def run_units(planned: list[Unit], study: StudyParams, jobs: int, rerun: set[str]) -> list[Outcome]:
    """Every unit not complete (or of a stage in `rerun`), `jobs` at a time, longest first; after a
    failure nothing new starts."""
    for unit in planned:
        check_notebook_parameters(unit)
    outcomes: dict[str, Outcome] = {}
    pending = {u.key: u for u in planned}
    for key, unit in list(pending.items()):
        if unit.stage not in rerun and units.is_complete(unit.folder):
            outcomes[key] = Outcome(unit, "skipped")
            del pending[key]
    running: dict[Future, Unit] = {}
    failed = False
    with (
        KernelPool() if study.runner.warm_kernels and pending else contextlib.nullcontext() as kernels,
        ThreadPoolExecutor(max_workers=jobs) as pool,
        tqdm(total=len(planned), desc=study.study, unit="unit") as bar,
    ):
        bar.update(len(outcomes))
        while pending or running:
            finished = {key for key, outcome in outcomes.items() if outcome.status in ("ran", "skipped")}
            ready = [u for u in pending.values() if set(u.needs) <= finished]
            for unit in sorted(ready, key=lambda u: -u.cost)[: 0 if failed else jobs - len(running)]:
                running[pool.submit(timed, unit, study, kernels)] = pending.pop(unit.key)
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
    return [outcomes[u.key] for u in planned if u.key in outcomes]


def timing_table(outcomes: list[Outcome]) -> pd.DataFrame:
    records = [{"stage": o.unit.stage, "status": o.status, "seconds": o.seconds} for o in outcomes]
    table = pd.DataFrame(records)
    summary = table.pivot_table(
        index="stage", columns="status", values="seconds", aggfunc="count", fill_value=0
    )
    summary["seconds"] = table.groupby("stage")["seconds"].sum()
    return summary.reindex([s for s in STAGES if s in summary.index]).astype({"seconds": float}).round(1)


def run_study(
    parameters_file: str | Path,
    jobs: int | None = None,
    rerun: tuple[str, ...] = (),
    wait: bool = False,
    executor: str = "local",
    overrides: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Run every unfinished unit of a study, here (`local`, `jobs` side by side) or as Slurm jobs
    (`slurm`, settings in `runner.slurm`); returns the per-unit timings. `overrides` (`KEY=VALUE`)
    change the file's parameters for this run (its units read them from the study's folder);
    `only` (unit-key patterns) runs the matching units and what they need.

    The study is locked while it runs: a second runner of the same study stops at once, naming
    the first (or, with `wait`, runs after it and finds its work done)."""
    study = load_study(parameters_file, overrides)
    unknown = set(rerun) - set(STAGES)
    if unknown:
        raise ValueError(
            f"unknown stage(s) to rerun: {', '.join(sorted(unknown))}; stages: {', '.join(STAGES)}"
        )
    preflight.check_study(study)  # paths and folders, before the lock, the peak benchmark or any unit
    folder = units.study_dir(study)
    with study_lock(study, wait=wait):
        units.write_parameters(study, folder / "study.yaml")
        if overrides:
            parameters_file = units.saved_parameters(study)
        planned = units.plan(study, parameters_file)
        if only:
            planned = units.only(planned, only)
        start = time.perf_counter()
        if executor == "slurm":  # each job measures its own node's peak
            outcomes = run_units_slurm(planned, study, set(rerun), study.runner.slurm or SlurmParams())
            how = "as Slurm jobs"
        else:
            if any(u.stage == "train" and not units.is_complete(u.folder) for u in planned):
                # Measured once, before any unit loads the machine, for every training unit's MFU.
                device = "cuda" if torch.cuda.is_available() else "cpu"
                machine.peak_flops(device, torch.float32, study.training.threads)
            outcomes = run_units(planned, study, jobs or study.runner.jobs, set(rerun))
            how = f"with {jobs or study.runner.jobs} job(s)"
        wall = time.perf_counter() - start
    timings = pd.DataFrame(
        [
            {"stage": o.unit.stage, "unit": o.unit.name, "status": o.status, "seconds": round(o.seconds, 1)}
            for o in outcomes
        ]
    )
    files.write_csv(folder / "timings.csv", timings)
    print(f"\n{study.study}: timings per stage (wall clock {wall:.0f} s {how})")
    print(timing_table(outcomes).to_string())
    failures = [o for o in outcomes if o.status == "failed"]
    if failures:
        raise UnitFailed("\n\n".join(o.error for o in failures))
    print(f"results: {units.results_csv(study)}")
    return timings
