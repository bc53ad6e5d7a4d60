"""`sor doctor PARAMS`: what a study needs against what this machine has, before any GPU hour.

    sor doctor parameters/paper.yaml            # packages, devices, memory, disk, models and data
    sor doctor parameters/paper.yaml --smoke    # then train and generate briefly (orchestration.smoke)

One line per check, `ok`, `warn` or `fail`, a failure with its fix; `sor doctor` exits 1 on any
failure. Nothing is loaded but configs: the memory figures are `core.memory`'s estimates from the
students' shapes, at the study's precision, per-device batch, longest sequence, checkpointing and
sharding; models, datasets and benchmarks are looked for in their local folders and the hub cache,
and the hub is asked only when the study may download (`runner.offline: false`, no
`HF_HUB_OFFLINE`).
"""

from __future__ import annotations

import importlib.metadata as metadata
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import httpx
import pandas as pd
import requests
import torch
import yaml
from huggingface_hub import HfApi
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
from huggingface_hub.file_download import repo_folder_name
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from .. import units
from ..config import paths
from ..config.params import ParametersError, StudyParams
from ..core import flops, machine, memory
from ..core.hub import hub_offline
from ..core.model_configs import model_config, student_architecture
from ..evaluation.benchmarks import KNOWN_BENCHMARKS
from ..evaluation.evaluate import PAPER_MAX_GEN_TOKS, max_gen_toks
from . import estimates, preflight

Status = Literal["ok", "warn", "fail"]
PROJECT = "scale-or-reason"
STUDY_PACKAGES = ("torch", "transformers", "trl", "accelerate", "lm-eval", "datasets", "tokenizers")
# Known-good ranges of the optional packages: the extras of the pinned packages that integrate them.
OPTIONAL_RANGES = {"vllm": (("trl", "vllm"), ("lm-eval", "vllm")), "deepspeed": (("trl", "deepspeed"),)}
TIGHT_SHARE = 0.9  # above this share of free memory, a warning: fragmentation and the CUDA context
VLLM_MEMORY_SHARE = 0.9  # vLLM's default gpu_memory_utilization
BYTES_PER_TOKEN_TEXT = 4  # characters a token, stored as UTF-8 text in JSONL
RECORD_OVERHEAD_BYTES = 300  # ids, scores and keys of a JSONL record
HUB_TIMEOUT_SECONDS = 5
SHARD_CHOICES = (2, 4, 8, 16, 32, 64)
NO_GPU_FIX = "run `sor doctor` on the GPU machine to set it against its memory"
AREA_WIDTH = len("processes")  # the longest area: the details line up under each other


@dataclass(frozen=True)
class Check:
    area: str
    status: Status
    detail: str
    fix: str = ""


def format_checks(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{check.status:<4}  {check.area:<{AREA_WIDTH}}  {check.detail}")
        if check.fix and check.status != "ok":
            lines.append(" " * (4 + 2 + AREA_WIDTH + 2) + f"fix: {check.fix}")
    failed = sum(check.status == "fail" for check in checks)
    warned = sum(check.status == "warn" for check in checks)
    lines.append(f"\n{len(checks)} checks: {failed} failed, {warned} warnings")
    return "\n".join(lines)


def doctor(
    study: StudyParams, parameters_file: str | Path, devices: list[machine.Device] | None = None
) -> list[Check]:
    """Every check of the study against this machine (or against `devices`)."""
    devices = machine.local_devices() if devices is None else devices
    return [
        *check_packages(study),
        *check_devices(study, devices),
        *check_memory(study, devices),
        *check_long_runs(study),
        check_disk(study, parameters_file),
        *check_sources(study),
    ]


def smoke_blockers(
    study: StudyParams, scale: str, checks: list[Check], devices: list[machine.Device] | None = None
) -> str:
    """Why the smoke test of `scale` cannot run here ("" when it can): a failed package or device
    check, or the student's micro-batch not fitting one device. The smoke test is one process,
    unsharded, so a study's processes wanting more GPUs than this machine has do not stop it: one
    GPU can measure a student that its study trains on eight."""
    devices = machine.local_devices() if devices is None else devices
    failed = [
        check.detail for check in checks if check.status == "fail" and check.area in ("packages", "devices")
    ]
    units.check_student(study, scale, "reasoning")
    sequence, _ = longest_sequence(study)
    if not failed and sequence is not None:
        needed = training_estimate(study, scale, sequence, shards=1).total
        free = devices[0].free
        if needed > free:
            failed.append(
                f"{scale}'s micro-batch needs about {memory.gib(needed)} on one device, {memory.gib(free)} "
                "free (turn on training.gradient_checkpointing or lower training.batch_size)"
            )
    return "; ".join(failed)


# --- packages -------------------------------------------------------------------------------------


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def pins() -> dict[str, SpecifierSet]:
    """The project's own requirements, from the installed package's metadata."""
    requirements = [Requirement(text) for text in metadata.requires(PROJECT) or []]
    return {canonicalize_name(r.name): r.specifier for r in requirements if r.marker is None}


def extra_range(package: str, extra: str, dependency: str) -> SpecifierSet:
    """What `package` declares for `dependency` in its `extra` (e.g. trl[vllm]'s vllm range)."""
    try:
        declared = metadata.requires(package) or []
    except metadata.PackageNotFoundError:  # reported by its own check
        return SpecifierSet()
    for text in declared:
        requirement = Requirement(text)
        in_extra = requirement.marker is not None and requirement.marker.evaluate({"extra": extra})
        if in_extra and canonicalize_name(requirement.name) == dependency:
            return requirement.specifier
    return SpecifierSet()


def optional_packages(study: StudyParams) -> list[str]:
    """vLLM when the teacher, the evaluation or a judge uses it; DeepSpeed for ZeRO-3."""
    uses_vllm = (
        study.teacher.kind == "vllm"
        or study.evaluation.backend == "vllm"
        or any(judge.kind == "vllm" for judge in (study.jury.judges if study.jury else []))
    )
    needed = ["vllm"] if uses_vllm else []
    if study.training.processes > 1 and launch_kind(study) == "zero3":
        needed.append("deepspeed")
    return needed


def needs_gpu(study: StudyParams) -> list[str]:
    """What in the study runs only on CUDA devices."""
    reasons = ["training.bf16"] if study.training.bf16 else []
    reasons += [f"{package} (vLLM runs on GPUs)" for package in optional_packages(study) if package == "vllm"]
    return reasons


def check_packages(study: StudyParams) -> list[Check]:
    try:
        pinned = pins()
    except metadata.PackageNotFoundError:
        return [
            Check("packages", "warn", f"{PROJECT} is not installed: its pins are unknown", "pip install -e .")
        ]
    checks = [
        package_check(name, pinned.get(canonicalize_name(name), SpecifierSet())) for name in STUDY_PACKAGES
    ]
    for package in optional_packages(study):
        wanted = SpecifierSet()
        for owner, extra in OPTIONAL_RANGES[package]:
            wanted &= extra_range(owner, extra, package)
        checks.append(package_check(package, wanted, known_good=True))
    checks.append(torch_build_check(study))
    return checks


def package_check(name: str, wanted: SpecifierSet, known_good: bool = False) -> Check:
    version = installed_version(name)
    what = "known-good range" if known_good else "pin"
    install = f"pip install '{name}{wanted}'"
    if version is None:
        return Check("packages", "fail", f"{name} is not installed (the study uses it)", install)
    if wanted and Version(version) not in wanted:
        return Check("packages", "warn", f"{name} {version}, outside the {what} {wanted}", install)
    return Check("packages", "ok", f"{name} {version}" + (f" ({what} {wanted})" if wanted else ""))


def torch_build_check(study: StudyParams) -> Check:
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU build"
    release = torch.__version__.split("+")[0]
    gpu_parts = needs_gpu(study)
    if torch.version.cuda is None and gpu_parts:
        return Check(
            "packages",
            "fail",
            f"torch {torch.__version__} is {build}, and {', '.join(gpu_parts)} need CUDA",
            f"install the CUDA wheel of the same version (pip install torch=={release} "
            "--index-url https://download.pytorch.org/whl/cu128)",
        )
    return Check("packages", "ok", f"torch {torch.__version__}: {build}")


# --- devices --------------------------------------------------------------------------------------


def launch_kind(study: StudyParams) -> str:
    """How several training processes share the model: fsdp, zero3 (both shard it) or ddp."""
    name = study.training.accelerate_config
    if name is None:
        return "ddp"
    if name in ("fsdp", "zero3"):
        return name
    config = yaml.safe_load(study.training.accelerate_config_file().read_text()) or {}
    if config.get("distributed_type") == "FSDP":
        return "fsdp"
    stage = (config.get("deepspeed_config") or {}).get("zero_stage")
    return "zero3" if config.get("distributed_type") == "DEEPSPEED" and stage == 3 else "ddp"


def tensor_parallel_needs(study: StudyParams) -> dict[str, int]:
    needs = {}
    if study.evaluation.backend == "vllm":
        needs["evaluation.tensor_parallel_size"] = study.evaluation.tensor_parallel_size
    if study.teacher.kind == "vllm":
        needs["teacher.tensor_parallel_size"] = study.teacher.tensor_parallel_size
    return needs


def check_devices(study: StudyParams, devices: list[machine.Device]) -> list[Check]:
    gpus = [device for device in devices if device.kind == "cuda"]
    if not gpus:
        cpu = devices[0] if devices else machine.Device("cpu", machine.cpu_name(), 0, 0, False)
        described = f"no GPU; {cpu.name}, {memory.gib(cpu.free)} of memory free"
        reasons = needs_gpu(study)
        if reasons:
            fix = "run it on a GPU machine; for a CPU trial set training.bf16 false and evaluation.backend hf"
            return [Check("devices", "fail", f"{described}; {', '.join(reasons)} need CUDA", fix)]
        return [Check("devices", "ok", f"{described} (this study runs on CPUs)")]
    checks = []
    names = sorted({device.name for device in gpus})
    summary = f"{len(gpus)} × {' + '.join(names)}, {memory.gib(gpus[0].memory)} each"
    checks.append(Check("devices", "ok", summary))
    for name in names:
        if machine.spec_bf16_peak(name) is None:
            checks.append(
                Check(
                    "devices",
                    "warn",
                    f"{name}: an unknown device type, no data-sheet peak",
                    "--smoke measures MFU against a measured matmul peak instead",
                )
            )
    if study.training.bf16 and not all(device.bf16 for device in gpus):
        checks.append(
            Check(
                "devices",
                "fail",
                "training.bf16 on a GPU without bf16 (before Ampere)",
                "set training.bf16 false",
            )
        )
    processes = study.training.processes
    if processes > len(gpus):
        checks.append(
            Check(
                "processes",
                "fail",
                f"training.processes is {processes}, this machine has {len(gpus)} GPU(s)",
                f"run on a node with {processes} GPUs, or set training.processes: {len(gpus)} "
                "(global_batch_size keeps the samples per step through gradient accumulation)",
            )
        )
    else:
        checks.append(Check("processes", "ok", f"training.processes {processes} of {len(gpus)} GPU(s)"))
    for key, size in tensor_parallel_needs(study).items():
        status = "fail" if size > len(gpus) else "ok"
        checks.append(
            Check("devices", status, f"{key} {size} of {len(gpus)} GPU(s)", f"set {key}: {len(gpus)}")
        )
    return checks


# --- memory ---------------------------------------------------------------------------------------


def trained_scales(study: StudyParams) -> list[str]:
    return sorted(
        {run.scale for run in units.runs(study) if units.trained_source(study, run.scale, run.recipe) is None}
    )


def largest(study: StudyParams, scales: list[str]) -> str | None:
    counts = {scale: flops.parameter_counts(student_architecture(study, scale))["total"] for scale in scales}
    return max(counts, key=counts.get) if counts else None


def longest_sequence(study: StudyParams) -> tuple[int | None, str]:
    """The longest training row: training.max_length, else measured on the data, else the
    estimates' mean prompt plus reasoning length (a floor: the longest is longer)."""
    if study.training.max_length is not None:
        return study.training.max_length, "training.max_length"
    data = units.data_dir(study)
    if units.is_complete(data):
        stats = pd.read_csv(data / "token_stats.csv")
        train = stats[stats["table"] == "train"]
        longest = (train["prompt_tokens"] + train["reasoning_tokens_max"]).max()
        return round(longest), "the generated data's longest reasoning trace after a mean prompt"
    lengths = estimates.token_lengths(study)
    if lengths is None:
        return None, "unknown"
    return (
        round(lengths["prompt"] + lengths["reasoning"]),
        "the mean prompt + reasoning length: a floor, the longest row is longer",
    )


def check_long_runs(study: StudyParams) -> list[Check]:
    """A GPU study's training units run for hours: the longest row they may meet is bounded
    (`training.max_length`) and a killed unit resumes (`training.checkpoint_steps`)."""
    scale = largest(study, trained_scales(study))
    if not needs_gpu(study) or scale is None:
        return []
    checks = []
    if study.training.max_length is None:
        budget = study.teacher.decoding.thinking.max_new_tokens
        context = student_context(study, scale)
        longest = budget if context is None else min(budget, context)
        of_context = "" if context is None else f", the {scale} student's context {context:,}"
        checks.append(
            Check(
                "training",
                "warn",
                f"training.max_length is unset: the memory above is not at the worst case; the teacher's "
                f"budget allows {budget:,} answer tokens after a prompt (teacher.decoding){of_context}",
                f"training.max_length: {longest} (a longer row refuses the run, never truncated)",
            )
        )
    if study.training.checkpoint_steps is None:
        longest = longest_training_hours(study)
        hours = f"; the longest training unit is about {longest:,.0f} GPU-hours" if longest else ""
        checks.append(
            Check(
                "training",
                "warn",
                f"training.checkpoint_steps is unset: a killed training unit starts over{hours}",
                "training.checkpoint_steps: 1000 (the unit resumes from its last checkpoint)",
            )
        )
    return checks


def student_context(study: StudyParams, scale: str) -> int | None:
    model = study.students.scales[scale].model
    return None if model is None else getattr(model_config(model), "max_position_embeddings", None)


def longest_training_hours(study: StudyParams) -> float | None:
    device = estimates.throughput(study)
    lengths = estimates.token_lengths(study)
    if device is None or lengths is None:
        return None
    train = [
        estimates.unit_flops(study, run.scale, run.recipe, lengths)[0]
        for run in units.runs(study)
        if units.trained_source(study, run.scale, run.recipe) is None
    ]
    return device.hours(max(train, default=0.0) or None)


def shards_of(study: StudyParams, processes: int | None = None) -> int:
    processes = processes or study.training.processes
    return processes if processes > 1 and launch_kind(study) in ("fsdp", "zero3") else 1


def free_per_process(study: StudyParams, devices: list[machine.Device]) -> int:
    gpus = [device for device in devices if device.kind == "cuda"]
    if gpus:
        return min(device.free for device in gpus)
    return devices[0].free // max(study.training.processes, 1) if devices else 0


def training_estimate(study: StudyParams, scale: str, sequence: int, **changes) -> memory.TrainingMemory:
    training = study.training
    settings = {
        "bf16": training.bf16,
        "batch_size": training.batch_size,
        "sequence": sequence,
        "checkpointing": training.gradient_checkpointing,
        "shards": shards_of(study),
        "fused_head": not study.students.scales[scale].from_config,
    }
    return memory.training_memory(student_architecture(study, scale), **(settings | changes))


def fitting_changes(study: StudyParams, scale: str, sequence: int, available: int) -> list[str]:
    """The single changes of settings under which the student fits, with what it then needs."""
    training, options = study.training, []

    def fits(**changes) -> float | None:
        total = training_estimate(study, scale, sequence, **changes).total
        return total if total <= available * TIGHT_SHARE else None

    if not training.gradient_checkpointing and (total := fits(checkpointing=True)):
        options.append(f"training.gradient_checkpointing: true ({memory.gib(total)})")
    for shards in SHARD_CHOICES:
        if shards > shards_of(study) and (total := fits(shards=shards)):
            options.append(
                f"training.processes: {shards} with accelerate_config fsdp or zero3 "
                f"({memory.gib(total)} per GPU)"
            )
            break
    for batch in range(training.batch_size - 1, 0, -1):
        if total := fits(batch_size=batch):
            options.append(f"training.batch_size: {batch} ({memory.gib(total)})")
            break
    return options


def check_memory(study: StudyParams, devices: list[machine.Device]) -> list[Check]:
    if study.reported:
        return []
    no_gpu_here = bool(needs_gpu(study)) and not any(device.kind == "cuda" for device in devices)
    available = None if no_gpu_here else free_per_process(study, devices)
    checks = []
    scale = largest(study, trained_scales(study))
    if scale is not None:
        checks.append(training_memory_check(study, scale, available))
    scale = largest(study, sorted({run.scale for run in units.runs(study)}))
    if scale is not None:
        checks.append(evaluation_memory_check(study, scale, None if no_gpu_here else devices))
    return checks


def training_memory_check(study: StudyParams, scale: str, available: int | None) -> Check:
    """The largest student's training memory per device against `available` bytes (None: no GPU
    here for a GPU study, so the figure is given for planning)."""
    sequence, source = longest_sequence(study)
    if sequence is None:
        return Check(
            "memory",
            "warn",
            f"training {scale}: the longest sequence is unknown",
            "set training.max_length or estimates.prompt_tokens and estimates.reasoning_tokens",
        )
    estimate = training_estimate(study, scale, sequence)
    parts = ", ".join(
        f"{name.replace('_', ' ')} {memory.gib(value)}" for name, value in estimate.parts().items()
    )
    training = study.training
    precision = "bf16" if training.bf16 else "fp32"
    checkpointing = "on" if training.gradient_checkpointing else "off"
    detail = (
        f"training {scale}: about {memory.gib(estimate.total)} per device ({parts}) at batch "
        f"{training.batch_size} × {sequence} tokens ({source}), "
        f"{precision}, checkpointing {checkpointing}, "
        f"{shards_of(study)} shard(s)"
    )
    if available is None:
        return Check("memory", "warn", f"{detail}; no GPU here to set it against", NO_GPU_FIX)
    detail += f"; {memory.gib(available)} free"
    if estimate.total <= available * TIGHT_SHARE:
        return Check("memory", "ok", detail)
    options = fitting_changes(study, scale, sequence, available)
    if estimate.total <= available:
        fix = "for headroom, " + "; or ".join(options) if options else "a device with more memory"
        return Check("memory", "warn", f"{detail}: tight", fix)
    fix = (
        "fits with " + "; or ".join(options)
        if options
        else "no single setting fits: a device with more memory"
    )
    return Check("memory", "fail", f"{detail}: does not fit", fix)


def generation_cap(study: StudyParams) -> int | None:
    if study.evaluation.max_gen_toks is not None or not any(b.is_synthetic for b in study.benchmarks):
        return study.evaluation.max_gen_toks or PAPER_MAX_GEN_TOKS
    data = units.data_dir(study)
    return max_gen_toks(study, data) if units.is_complete(data) else None


def evaluation_memory_check(study: StudyParams, scale: str, devices: list[machine.Device] | None) -> Check:
    """Weights and KV cache of the largest evaluated student against the free memory of `devices`
    (None: no GPU here for a GPU study, so the figure is given for planning)."""
    cap = generation_cap(study)
    lengths = estimates.token_lengths(study)
    if cap is None or lengths is None:
        return Check("memory", "ok", f"evaluation {scale}: the generation cap is known once the data exists")
    context = round(lengths["prompt"]) + cap
    bf16 = study.training.bf16 and (devices is None or any(device.kind == "cuda" for device in devices))
    vllm = study.evaluation.backend == "vllm"
    shards = study.evaluation.tensor_parallel_size if vllm else 1
    sequences = 1 if vllm else study.evaluation.batch_size  # vLLM batches what fits; it needs one sequence
    needed = memory.inference_memory(
        student_architecture(study, scale), bf16=bf16, sequences=sequences, context=context, shards=shards
    )
    total = sum(needed.values())
    what = "one sequence" if vllm else f"batch {sequences}"
    detail = (
        f"evaluation {scale} ({study.evaluation.backend}): weights {memory.gib(needed['weights'])} "
        f"+ KV cache {memory.gib(needed['kv_cache'])} for {what} of {context} tokens"
    )
    if devices is None:
        return Check("memory", "warn", f"{detail}; no GPU here to set it against", NO_GPU_FIX)
    free = min((d.free for d in devices), default=0)
    available = free * VLLM_MEMORY_SHARE if vllm else free
    detail += f"; {memory.gib(available)} available"
    if total <= available:
        return Check("memory", "ok", detail)
    fix = (
        f"evaluation.tensor_parallel_size: {shards * 2}, or a lower evaluation.max_gen_toks"
        if vllm
        else "a smaller evaluation.batch_size, or evaluation.backend: vllm"
    )
    return Check("memory", "fail", detail + ": does not fit", fix)


# --- disk -----------------------------------------------------------------------------------------


def planned_bytes(study: StudyParams, parameters_file: str | Path) -> dict[str, float]:
    """What the unfinished units will write: checkpoints, generations and the teacher's pairs."""
    lengths = estimates.token_lengths(study) or {}
    written = {"checkpoints": 0.0, "generations": 0.0, "pairs": 0.0}
    for unit in units.plan(study, parameters_file):
        if units.is_complete(unit.folder):
            continue
        scale, recipe = unit.parameters.get("scale"), unit.parameters.get("recipe")
        if unit.stage == "train":
            params = flops.parameter_counts(student_architecture(study, scale))["total"]
            written["checkpoints"] += params * memory.dtype_bytes(study.training.bf16)
        elif unit.stage == "evaluate" and lengths:
            items = estimates.evaluation_items(study) or 0
            generated = lengths["reasoning" if recipe != "ift" else "ift"]
            text = (lengths["prompt"] + generated) * BYTES_PER_TOKEN_TEXT
            written["generations"] += items * (text + RECORD_OVERHEAD_BYTES)
        elif unit.stage == "generate" and lengths:
            samples = estimates.training_samples(study) or 0
            text = (lengths["prompt"] + lengths["ift"] + lengths["reasoning"]) * BYTES_PER_TOKEN_TEXT
            written["pairs"] += samples * (text + RECORD_OVERHEAD_BYTES)
    return written


def existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(study: StudyParams, parameters_file: str | Path) -> Check:
    folder = units.study_dir(study)
    free = shutil.disk_usage(existing_parent(folder)).free
    written = planned_bytes(study, parameters_file)
    needed = sum(written.values())
    parts = ", ".join(f"{name} {memory.gib(value)}" for name, value in written.items() if value)
    detail = (
        f"the plan writes about {memory.gib(needed)} ({parts or 'nothing left to do'}); "
        f"{memory.gib(free)} free at {folder}"
    )
    if needed > free:
        return Check("disk", "fail", detail, "free space, or set SOR_RUNS_DIR to a larger disk")
    if needed > free * TIGHT_SHARE:
        return Check("disk", "warn", detail + ": tight", "set SOR_RUNS_DIR to a larger disk")
    return Check("disk", "ok", detail)


# --- models, datasets and benchmarks --------------------------------------------------------------


def named_sources(study: StudyParams) -> list[tuple[str, str, str]]:
    """(key, name, kind) of every model and dataset the study loads; kind: model or dataset."""
    sources = []
    for scale, params in study.students.scales.items():
        if params.model is not None:
            sources.append((f"students.scales.{scale}.model", params.model, "model"))
        for recipe, trained in (params.trained or {}).items():
            sources.append((f"students.scales.{scale}.trained.{recipe}", trained, "model"))
    teacher = study.teacher
    if teacher.kind != "synthetic":
        sources.append(("teacher.source", teacher.source, "dataset"))
    if teacher.model:
        sources.append(("teacher.model", teacher.model, "model"))
    for benchmark in study.benchmarks:
        if benchmark.is_paper:
            dataset = KNOWN_BENCHMARKS[benchmark.name].dataset_path
            sources.append((f"benchmarks.{benchmark.name}", dataset, "dataset"))
    for index, judge in enumerate(study.jury.judges if study.jury else []):
        if judge.kind != "openai":
            sources.append((f"jury.judges.{index}.model", judge.model, "model"))
    return sources


def hub_cache(study: StudyParams) -> Path:
    """The hub cache the study's units read: its own for an offline study, else the user's."""
    if study.runner.offline:
        return units.study_dir(study) / ".cache" / "huggingface" / "hub"
    return Path(hub_constants.HF_HUB_CACHE)


def in_hub_cache(cache: Path, name: str, kind: str) -> bool:
    snapshots = cache / repo_folder_name(repo_id=name, repo_type=kind) / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())


@cache
def hub_reachable(endpoint: str) -> bool:
    try:
        requests.head(endpoint, timeout=HUB_TIMEOUT_SECONDS)
    except requests.RequestException:
        return False
    return True


def check_sources(study: StudyParams) -> list[Check]:
    """One check per distinct model or dataset, naming every key that uses it."""
    keys: dict[tuple[str, str], list[str]] = {}
    for key, name, kind in named_sources(study):
        keys.setdefault((name, kind), []).append(key)
    return [source_check(study, ", ".join(named), name, kind) for (name, kind), named in keys.items()]


def source_check(study: StudyParams, key: str, name: str, kind: str) -> Check:
    local = kind == "model" and preflight.looks_local(name)
    local = local or (kind == "dataset" and preflight.looks_local(name, preflight.DATA_SUFFIXES))
    if local:
        try:
            if kind == "model":
                preflight.check_model_folder(name, key)
            else:
                preflight.check_exists(name, key)
        except ParametersError as error:
            return Check(
                "sources", "fail", str(error), f"put the {kind} at {paths.resolve(name)}, or name a hub id"
            )
        return Check("sources", "ok", f"{key}: local {kind} {paths.resolve(name)}")
    cache = hub_cache(study)
    if in_hub_cache(cache, name, kind):
        return Check("sources", "ok", f"{key}: {name} is in the hub cache {cache}")
    download = f"hf download {name}" + (" --repo-type dataset" if kind == "dataset" else "")
    offline_fix = (
        f"on a machine with network, `{download} --local-dir DIR` and name DIR instead"
        if key.startswith(("students", "teacher", "jury"))
        else f"on a machine with network, `HF_HOME={cache.parent} {download}`"
    )
    if study.runner.offline or hub_offline():
        why = "runner.offline is true" if study.runner.offline else "HF_HUB_OFFLINE is set"
        return Check(
            "sources", "fail", f"{key}: {name} is not in the hub cache {cache} and {why}", offline_fix
        )
    if not hub_reachable(hub_constants.ENDPOINT):
        return Check(
            "sources",
            "fail",
            f"{key}: {name} is not cached and the hub ({hub_constants.ENDPOINT}) is unreachable",
            offline_fix,
        )
    return hub_repo_check(key, name, kind)


def hub_repo_check(key: str, name: str, kind: str) -> Check:
    try:
        HfApi().repo_info(name, repo_type=kind, timeout=HUB_TIMEOUT_SECONDS)
    except GatedRepoError:
        return Check(
            "sources",
            "fail",
            f"{key}: {name} is gated",
            "accept its licence on the hub, then `hf auth login`",
        )
    except RepositoryNotFoundError:
        return Check(
            "sources",
            "fail",
            f"{key}: no {kind} {name} on the hub (or it is private)",
            "check the name, or `hf auth login`",
        )
    except (requests.RequestException, httpx.HTTPError, OSError) as error:
        return Check(
            "sources", "warn", f"{key}: the hub did not answer for {name} ({type(error).__name__})", "retry"
        )
    return Check("sources", "ok", f"{key}: {name} on the hub (downloaded when a unit first needs it)")
