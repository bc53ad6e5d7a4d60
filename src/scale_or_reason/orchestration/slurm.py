"""Run a study's units as Slurm jobs through submitit, with the local runner's folders and resume rule.

    sor study parameters/embedded.yaml --executor slurm

Each unfinished unit becomes one batch job that runs the same papermill execution as the local
runner (`execution.execute`), with `afterok` dependencies on the jobs of the units it needs, so
Slurm itself keeps the order: generation, then trainings side by side, then evaluations, then the
analyses. submitit's scripts and logs go to `runs/<study>/slurm/<job id>/`, and
`runs/<study>/slurm/jobs.json` records which job runs which unit: a second submission skips
complete units, reattaches to jobs still pending or running, and submits the rest again.

Job states come from `squeue`, not from submitit: submitit asks `sacct`, which fails on clusters
without accounting storage. The cluster's settings are `runner.slurm` in the parameters file
(`params.SlurmParams`); a unit asks for at least as many CPUs as its thread budget.
"""

from __future__ import annotations

import math
import os
import pickle
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import submitit
from submitit.core.utils import FailedJobError, FailedSubmissionError, JobPaths
from tqdm.auto import tqdm

from .. import units
from ..config import paths
from ..config.params import SlurmParams, StudyParams
from ..core import files
from ..units import Unit
from .execution import Outcome, execute, log_tail
from .interface import SlurmUnavailable
from .notebooks import check_notebook_parameters

# States in which a job may still run; anything else (or no longer listed) means it ended.
ALIVE = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"})
# Pending for a reason that never clears: an `afterok` job whose dependency failed.
NEVER_SATISFIED = "DependencyNeverSatisfied"
COMMANDS = ("sbatch", "squeue", "scancel", "srun")
SQUEUE = ["squeue", "--me", "--noheader", "--states=all", "--format=%i|%T|%r|%j"]
COMMAND_TIMEOUT = 60


@dataclass(frozen=True)
class QueuedJob:
    job_id: str
    state: str
    reason: str
    name: str

    @property
    def alive(self) -> bool:
        return self.state in ALIVE and self.reason != NEVER_SATISFIED


@dataclass
class Tracked:
    """A unit's job while we wait for it."""

    unit: Unit
    job_id: str
    since: float
    started: float | None = None


# --- talking to Slurm ------------------------------------------------------------------------


def _slurm(command: list[str], check: bool = True) -> str:
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SlurmUnavailable(f"Slurm is not reachable: `{' '.join(command)}` failed: {error}") from None
    if check and finished.returncode != 0:
        said = (finished.stderr or finished.stdout).strip() or f"exit status {finished.returncode}"
        raise SlurmUnavailable(f"Slurm is not reachable: `{' '.join(command)}` failed: {said}")
    return finished.stdout


def check_reachable() -> None:
    """Fail early, naming the missing command or the controller's answer."""
    missing = [c for c in COMMANDS if shutil.which(c) is None]
    if missing:
        raise SlurmUnavailable(
            f"Slurm is not reachable: {', '.join(missing)} not found on PATH "
            f"(looked for {', '.join(COMMANDS)})"
        )
    _slurm(SQUEUE)


def parse_squeue(text: str) -> dict[str, QueuedJob]:
    """`squeue --format=%i|%T|%r|%j` lines, by job id (the name is last: it may hold a `|`)."""
    jobs = {}
    for line in text.splitlines():
        if line.strip():
            job_id, state, reason, name = line.strip().split("|", 3)
            jobs[job_id] = QueuedJob(job_id, state, reason, name)
    return jobs


def read_queue() -> dict[str, QueuedJob]:
    return parse_squeue(_slurm(SQUEUE))


def cancel(job_ids: list[str]) -> None:
    if job_ids:  # scancel complains about a job that ended meanwhile, which is what we wanted anyway
        _slurm(["scancel", *job_ids], check=False)


# --- deciding what to submit -----------------------------------------------------------------


def job_name(study: StudyParams, unit: Unit) -> str:
    return f"sor:{study.study}:{unit.key}"


def dependency(unit: Unit, job_ids: dict[str, str]) -> str | None:
    """`afterok` on the jobs of the unit's needs; needs already complete have no job here."""
    ids = [job_ids[need] for need in unit.needs if need in job_ids]
    return "afterok:" + ":".join(ids) if ids else None


def reusable_jobs(
    planned: list[Unit],
    to_run: set[str],
    recorded: dict[str, str],
    queue: dict[str, QueuedJob],
    names: dict[str, str],
) -> dict[str, str]:
    """Units to run whose recorded job is still pending or running, by unit key.

    The queued job must carry the unit's name (job ids restart when a cluster's state is wiped),
    and every need must be complete or reused too: a job waiting on a job that is gone or is
    being replaced would wait for the wrong thing. `planned` come in dependency order.
    """
    reused: dict[str, str] = {}
    for unit in planned:
        job = queue.get(recorded.get(unit.key, ""))
        needs_kept = all(need not in to_run or need in reused for need in unit.needs)
        if unit.key in to_run and job and job.alive and job.name == names[unit.key] and needs_kept:
            reused[unit.key] = job.job_id
    return reused


def stale_jobs(
    to_submit: list[Unit], recorded: dict[str, str], queue: dict[str, QueuedJob], names: dict[str, str]
) -> list[str]:
    """Recorded jobs still queued for units about to be submitted again: two jobs must not share a folder."""
    queued = [(u.key, queue.get(recorded.get(u.key, ""))) for u in to_submit]
    return [job.job_id for key, job in queued if job and job.state in ALIVE and job.name == names[key]]


# --- submitting ------------------------------------------------------------------------------


def slurm_dir(study: StudyParams) -> Path:
    return units.study_dir(study) / "slurm"


def run_in_job(unit: Unit, study: StudyParams, project_dir: str, runs_dir: str) -> float:
    """What each job runs: the local executor's papermill execution; returns its seconds."""
    # The notebooks find the study's files and folders through these, whatever sbatch exported.
    os.environ.update(SOR_PROJECT_DIR=project_dir, SOR_RUNS_DIR=runs_dir)
    start = time.perf_counter()
    execute(unit, study)
    return time.perf_counter() - start


def _executor(study: StudyParams, slurm: SlurmParams):
    executor = submitit.SlurmExecutor(folder=slurm_dir(study) / "%j")
    fixed = {"partition": slurm.partition, "account": slurm.account, "time": slurm.time_minutes}
    if slurm.gpus_per_node:  # `--gpus-per-node=0` is refused where no GPU resource is configured
        fixed["gpus_per_node"] = slurm.gpus_per_node
    if slurm.mem_gb:
        fixed["mem"] = f"{math.ceil(slurm.mem_gb * 1024)}M"
    executor.update_parameters(**{k: v for k, v in fixed.items() if v is not None})
    return executor


def _submit(executor, unit: Unit, study: StudyParams, slurm: SlurmParams, after: str | None) -> str:
    executor.update_parameters(
        job_name=job_name(study, unit), dependency=after, cpus_per_task=max(slurm.cpus_per_task, unit.threads)
    )
    try:
        where = (str(paths.project_dir()), str(paths.runs_dir()))
        return executor.submit(run_in_job, unit, study, *where).job_id
    except (FailedJobError, FailedSubmissionError) as error:
        raise SlurmUnavailable(f"`sbatch` did not take {unit.key}: {str(error).strip()}") from None


def _read_recorded(file: Path) -> dict[str, str]:
    return {key: str(job) for key, job in files.read_json(file).items()} if file.is_file() else {}


def submit_units(
    planned: list[Unit], study: StudyParams, to_run: set[str], slurm: SlurmParams
) -> dict[str, str]:
    """Submit (or reattach to) a job per unit in `to_run`; returns unit key → job id."""
    records = slurm_dir(study) / "jobs.json"
    recorded, queue = _read_recorded(records), read_queue()
    names = {u.key: job_name(study, u) for u in planned}
    job_ids = reusable_jobs(planned, to_run, recorded, queue, names)
    to_submit = [u for u in planned if u.key in to_run and u.key not in job_ids]
    cancel(stale_jobs(to_submit, recorded, queue, names))
    executor = _executor(study, slurm) if to_submit else None
    for unit in to_submit:
        unplanned = [need for need in unit.needs if need not in job_ids and need in to_run]
        if unplanned:
            raise ValueError(
                f"{unit.key} needs {', '.join(unplanned)}, which come after it in the units' order"
            )
        job_ids[unit.key] = _submit(executor, unit, study, slurm, dependency(unit, job_ids))
        # Written after every submission, so a submitter killed halfway leaves a true record.
        files.write_json(records, {**recorded, **job_ids})
    return job_ids


# --- waiting ---------------------------------------------------------------------------------


def _job_paths(study: StudyParams, job_id: str):
    return JobPaths(slurm_dir(study) / "%j", job_id=job_id, task_id=0)


def _result(study: StudyParams, job_id: str) -> tuple[str, object]:
    """submitit's ("success", value) or ("error", traceback); ("missing", None) if the job left none."""
    path = _job_paths(study, job_id).result_pickle
    if not path.is_file():
        return "missing", None
    with path.open("rb") as file:
        return pickle.load(file)


def judge(job: Tracked, study: StudyParams, how_it_ended: str) -> Outcome:
    """The outcome of a job that left the queue: it ran only if it returned and its folder is complete."""
    ended = time.monotonic()
    status, value = _result(study, job.job_id)
    if status == "success" and units.is_complete(job.unit.folder):
        return Outcome(job.unit, "ran", float(value))
    if status == "error":
        reason = str(value).strip().splitlines()[-1]
    elif status == "success":
        reason = f"the job returned but {job.unit.folder} is not marked complete"
    else:
        reason = f"the job ended without a result ({how_it_ended})"
    job_files = _job_paths(study, job.job_id)
    tails = "".join(
        log_tail(p) for p in (job_files.stdout, job_files.stderr, job.unit.folder / "papermill.log")
    )
    error = f"{job.unit.key} failed in Slurm job {job.job_id}: {reason}{tails}"
    return Outcome(job.unit, "failed", ended - (job.started or job.since), error)


def dependants(key: str, planned: list[Unit]) -> list[str]:
    """Every unit that needs `key`, directly or through others, in the units' order."""
    found = {key}
    for unit in planned:  # dependency order: a unit's needs are decided before it
        if found & set(unit.needs):
            found.add(unit.key)
    return [u.key for u in planned if u.key in found - {key}]


def _cancel_dependants(
    failed: Outcome, planned: list[Unit], tracked: dict[str, Tracked], outcomes: dict
) -> list[Outcome]:
    waiting = [key for key in dependants(failed.unit.key, planned) if key in tracked and key not in outcomes]
    cancel([tracked[key].job_id for key in waiting])
    reason = f"cancelled: it needs {failed.unit.key}, which failed"
    return [
        Outcome(tracked[key].unit, "failed", 0.0, f"{key} (Slurm job {tracked[key].job_id}) {reason}")
        for key in waiting
    ]


def _counts(tracked: dict[str, Tracked], queue: dict[str, QueuedJob], outcomes: dict) -> str:
    states = [queue.get(job.job_id) for key, job in tracked.items() if key not in outcomes]
    running = sum(1 for s in states if s and s.state in ("CONFIGURING", "RUNNING", "COMPLETING"))
    return f"pending {len(states) - running}, running {running}, done {len(outcomes)}"


def wait_for(
    tracked: dict[str, Tracked], planned: list[Unit], study: StudyParams, slurm: SlurmParams
) -> dict[str, Outcome]:
    """Poll `squeue` until every job has ended; a failure cancels the jobs that need it."""
    outcomes: dict[str, Outcome] = {}
    shown = ""
    with tqdm(total=len(tracked), desc=f"{study.study} on Slurm", unit="job") as bar:
        while len(outcomes) < len(tracked):
            queue = read_queue()
            for key, job in tracked.items():
                entry = queue.get(job.job_id)
                if key in outcomes or (entry and entry.alive):
                    if entry and entry.state == "RUNNING" and job.started is None:
                        job.started = time.monotonic()
                    continue
                how = f"state {entry.state}" if entry else "no longer listed by squeue"
                if entry and entry.reason == NEVER_SATISFIED:  # it waits on a job that failed before
                    cancel([job.job_id])
                    how = f"cancelled here: {NEVER_SATISFIED}"
                finished = [judge(job, study, how)]
                if finished[0].status == "failed":
                    finished += _cancel_dependants(finished[0], planned, tracked, outcomes)
                for outcome in finished:
                    outcomes[outcome.unit.key] = outcome
                    job_id = tracked[outcome.unit.key].job_id
                    bar.write(
                        f"{outcome.status:>7}  {outcome.unit.key}  job {job_id}  {outcome.seconds:7.1f} s"
                    )
                    bar.update()
            counts = _counts(tracked, queue, outcomes)
            if counts != shown:  # one line per change keeps CI logs short
                bar.set_postfix_str(counts, refresh=True)
                shown = counts
            if len(outcomes) < len(tracked):
                time.sleep(slurm.poll_seconds)
    return outcomes


def run_units_slurm(
    planned: list[Unit], study: StudyParams, rerun: set[str], slurm: SlurmParams
) -> list[Outcome]:
    """`runner.run_units` on Slurm: skip complete units, submit the rest as jobs, wait for them all."""
    for unit in planned:
        check_notebook_parameters(unit)
    to_run = {u.key for u in planned if u.stage in rerun or not units.is_complete(u.folder)}
    outcomes = {u.key: Outcome(u, "skipped") for u in planned if u.key not in to_run}
    if to_run:
        check_reachable()
        job_ids = submit_units(planned, study, to_run, slurm)
        now = time.monotonic()
        tracked = {u.key: Tracked(u, job_ids[u.key], now) for u in planned if u.key in to_run}
        print(f"{study.study}: {len(tracked)} Slurm job(s), logs in {slurm_dir(study)}", flush=True)
        try:
            outcomes.update(wait_for(tracked, planned, study, slurm))
        except KeyboardInterrupt:
            print("stopped waiting; the jobs run on, and the same command waits for them again", flush=True)
            raise
    return [outcomes[u.key] for u in planned]
