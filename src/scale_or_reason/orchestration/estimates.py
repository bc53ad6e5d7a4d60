"""The plan of a study before it runs: its units, the model each trains or evaluates, the
benchmarks, and the FLOPs each unit will cost, without loading any weights.

    sor study parameters/paper.yaml --dry-run

Model shapes come from configs only (`core.model_configs`): the paper's models ship with the
package, any other hub id is asked for its config alone, and students built from config are
counted from their parameters. Token lengths come from the study's generated data once it exists,
and before that from the `estimates` section of the parameters (the assumptions are printed with
the plan).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import units
from ..config.params import StudyParams, load_study
from ..config.recipes import FORMATS, parse_recipe
from ..core import flops, machine
from ..core.model_configs import model_config, student_architecture
from ..data.corpus_size import (
    lengths_source,
    planned_train_flops,
    token_lengths,
    train_flops_estimate,
    training_samples,
)
from .notebooks import check_notebook_parameters
from .preflight import check_paths


def unit_flops(
    study: StudyParams, scale: str, recipe: str, lengths: dict | None
) -> tuple[float | None, float | None]:
    """Paper-formula training and evaluation FLOPs of one student, from mean lengths."""
    train = planned_train_flops(study, scale, recipe, lengths)
    if train is None:
        return None, None
    arch = student_architecture(study, scale)
    items = evaluation_items(study)
    per_item = flops.inference_flops(arch, round(lengths["prompt"]), generated_tokens(study, recipe, lengths))
    return float(train), (None if items is None else float(items * per_item))


def generated_tokens(study: StudyParams, recipe: str, lengths: dict) -> int:
    """Tokens a student writes per item: the teacher's mean in the format it was trained towards,
    capped by the evaluation's `max_gen_toks`."""
    fmt = "reasoning" if parse_recipe(recipe).reasoning_share > 0 else "ift"
    cap = study.evaluation.max_gen_toks
    return round(lengths[fmt]) if cap is None else min(round(lengths[fmt]), cap)


def evaluation_items(study: StudyParams) -> int | None:
    """Items a student answers in its evaluation: the synthetic benchmarks' own sizes, the paper's
    at `estimates.eval_items_per_benchmark` each (unknown without it)."""
    assumed = study.estimates.eval_items_per_benchmark
    sizes = [
        b.items_or(study.teacher.test_per_family) if b.is_synthetic else assumed for b in study.benchmarks
    ]
    return None if None in sizes else sum(sizes)


def teacher_flops(study: StudyParams, lengths: dict | None) -> float | None:
    """An LLM teacher answering every prompt twice (thinking off and on); exact count, so a
    mixture-of-experts teacher is charged for its active experts only."""
    samples = training_samples(study)
    if study.teacher.model is None or lengths is None or samples is None:
        return None
    arch = flops.architecture(model_config(study.teacher.model))
    prompt = round(lengths["prompt"])
    both = sum(flops.exact_inference_flops(arch, prompt, round(lengths[k])) for k in FORMATS)
    return float(samples * both)


@dataclass(frozen=True)
class Throughput:
    """What one device achieves: FLOP/s (its peak × MFU), memory bandwidth in bytes/s (None when
    unknown: decoding is then counted as compute-bound), and how both were found."""

    flops_per_second: float
    memory_bandwidth: float | None
    kind: str  # GPU-hours or CPU-hours
    how: str

    def hours(self, flop_count: float | None) -> float | None:
        return None if flop_count is None else flop_count / self.flops_per_second / 3600


def throughput(study: StudyParams) -> Throughput | None:
    """The FLOP/s a unit achieves, and where that figure comes from: the latest `sor doctor
    --smoke` on the plan's device (`estimates.device`, else this machine's) at the study's
    precision when one is recorded, else the assumed peak and MFU of `estimates`; None without
    either. The memory bandwidth: `estimates.memory_bandwidth`, else the device's data sheet."""
    estimates = study.estimates
    device = estimates.device or machine.device_name()
    bandwidth = estimates.memory_bandwidth or machine.spec_memory_bandwidth(device)
    record = machine.smoke_record(device)
    # A record at another precision (a CPU run in fp32 for a bf16 GPU study) says nothing of its MFU.
    if record is not None and record.get("bf16") == study.training.bf16:
        peak, mfu = record["peak_flops_per_second"], record["mfu"]
        kind = "CPU-hours" if record.get("kind") == "cpu" else "GPU-hours"
        how = (
            f"{kind} at MFU {mfu:.0%} of {peak:.3g} FLOP/s, measured by `sor doctor --smoke` on {device} "
            f"({record['model']}, {record['date']})"
        )
        return Throughput(peak * mfu, bandwidth, kind, how)
    if estimates.gpu_flops_per_second is None or estimates.mfu is None:
        return None
    how = (
        f"GPU-hours at {estimates.gpu_flops_per_second:.3g} FLOP/s and MFU {estimates.mfu:.0%}, assumed "
        f"(estimates; no smoke record of {device} at this precision: `sor doctor PARAMS --smoke` on "
        "the target device measures it)"
    )
    return Throughput(estimates.gpu_flops_per_second * estimates.mfu, bandwidth, "GPU-hours", how)


def decoding_seconds(
    arch: flops.Architecture,
    prompt: int,
    generated: int,
    items: int,
    batch: int,
    device: Throughput,
    value_bytes: int,
) -> float:
    """Seconds for one device to answer `items` prompts, `batch` at a time: the prompts' prefill
    bound by compute; each decoding step by the slower of computing the batch's next tokens and
    reading the weights and the batch's KV cache at the device's memory bandwidth (decoding is
    memory-bound at any batch a GPU holds)."""
    prefill = items * flops.prefill_flops(arch, prompt) / device.flops_per_second
    if generated <= 1:
        return prefill
    mean_context = prompt + generated / 2  # the KV cache grows linearly: its mean is exact
    steps = math.ceil(items / batch) * (generated - 1)
    compute = min(batch, items) * flops.decode_step_flops(arch, round(mean_context)) / device.flops_per_second
    if device.memory_bandwidth is None:
        return prefill + steps * compute
    weights = flops.parameter_counts(arch)["total"] * value_bytes
    cache = (
        2 * arch.layers * arch.kv_width * value_bytes * mean_context * min(batch, items)
    )  # keys and values
    return prefill + steps * max(compute, (weights + cache) / device.memory_bandwidth)


def evaluation_batch(study: StudyParams) -> int:
    if study.evaluation.backend == "vllm":
        return study.estimates.eval_batch_size
    return study.evaluation.batch_size


def value_bytes(study: StudyParams) -> int:
    return 2 if study.training.bf16 else 4


def evaluation_hours(
    study: StudyParams, scale: str, recipe: str, lengths: dict | None, device
) -> float | None:
    items = evaluation_items(study)
    if lengths is None or items is None or device is None:
        return None
    arch = student_architecture(study, scale)
    generated = generated_tokens(study, recipe, lengths)
    batch = evaluation_batch(study)
    seconds = decoding_seconds(
        arch, round(lengths["prompt"]), generated, items, batch, device, value_bytes(study)
    )
    return seconds / 3600


def teacher_hours(study: StudyParams, lengths: dict | None, device) -> float | None:
    samples = training_samples(study)
    if study.teacher.model is None or lengths is None or samples is None or device is None:
        return None
    arch = flops.architecture(model_config(study.teacher.model))
    prompt, batch = round(lengths["prompt"]), study.estimates.eval_batch_size
    seconds = sum(
        decoding_seconds(arch, prompt, round(lengths[k]), samples, batch, device, value_bytes(study))
        for k in FORMATS
    )
    return seconds / 3600


def devices_per_unit(study: StudyParams, stage: str) -> int:
    """The devices one unit of `stage` runs on at once (its wall clock is its device-hours over them)."""
    if stage == "train":
        return study.training.processes
    if stage == "evaluate" and study.evaluation.backend == "vllm":
        return study.evaluation.tensor_parallel_size
    if stage == "generate" and study.teacher.model is not None:
        return study.teacher.tensor_parallel_size
    return 1


def plan_table(study: StudyParams, planned: list) -> pd.DataFrame:
    """One row per unit: what it runs, whether it is done, its estimated FLOPs, device-hours and
    wall-clock hours (device-hours over the devices the unit runs on)."""
    lengths = token_lengths(study)
    device = throughput(study)
    rows = []
    for unit in planned:
        scale, recipe = unit.parameters.get("scale"), unit.parameters.get("recipe")
        row = {"unit": unit.key, "state": "complete" if units.is_complete(unit.folder) else "to do"}
        if scale is not None:
            params = study.students.scales[scale]
            train, evaluate = unit_flops(study, scale, recipe, lengths)
            trained = units.trained_source(study, scale, recipe)
            row["model"] = trained or params.model or f"from config ({scale})"
            row["params"] = flops.parameter_counts(student_architecture(study, scale))["total"]
            if unit.stage == "train":
                row["flops"], row["device_hours"] = train, device.hours(train) if device else None
            else:
                row["flops"], row["device_hours"] = (
                    evaluate,
                    evaluation_hours(study, scale, recipe, lengths, device),
                )
        elif unit.stage == "generate":
            row["model"] = study.teacher.model or study.teacher.source or "programmatic teacher"
            row["flops"] = teacher_flops(study, lengths)
            row["device_hours"] = teacher_hours(study, lengths, device)
            if study.teacher.model is None:
                row["flops"] = row["device_hours"] = 0.0 if study.teacher.kind == "released" else None
        if row.get("device_hours") is not None:
            row["wall_hours"] = row["device_hours"] / devices_per_unit(study, unit.stage)
        rows.append(row)
    columns = ["unit", "state", "model", "params", "flops", "device_hours", "wall_hours"]
    counts = dict.fromkeys(("params", "flops", "device_hours", "wall_hours"), float)
    return pd.DataFrame(rows, columns=columns).astype(counts)


def describe(study: StudyParams, planned: list) -> str:
    """The dry-run report: the plan table, the benchmarks and the assumptions behind the FLOPs."""
    table = plan_table(study, planned)
    if study.reported:
        return "\n".join(
            [
                f"{study.study}: {len(planned)} units, {sum(table['state'] == 'to do')} to do",
                f"results: the paper's published numbers ({', '.join(study.reported.corpora)} corpus); "
                "nothing is generated, trained or evaluated",
                "",
                table[["unit", "state", "model", "params"]].to_string(index=False, na_rep="—"),
                *reported_prediction_savings(study),
            ]
        )
    lengths = token_lengths(study)
    described_lengths = ", ".join(f"{k} {v:.0f}" for k, v in lengths.items()) if lengths else ""
    if any(unit.stage == "train" for unit in planned):
        samples = training_samples(study)
        data = [
            f"teacher: {study.teacher.kind} {study.teacher.model or study.teacher.source or ''}".rstrip(),
            f"training samples: {f'{samples:,}' if samples else 'unknown'}; mean token lengths "
            + (described_lengths or "unknown (set estimates.*)")
            + f" ({lengths_source(study)})",
        ]
    else:  # every student trained elsewhere: nothing generated or trained here
        data = [
            f"students trained elsewhere; their training FLOPs are estimates: {study.estimates.samples} "
            f"samples, token lengths {described_lengths}"
        ]
    device = throughput(study)
    kind = device.kind if device else "device-hours"
    unknown = [column for column in ("device_hours", "wall_hours") if table[column].isna().all()]
    shown = table.drop(columns=unknown)  # no throughput known: no hours to show
    shown = shown.rename(columns={"flops": "FLOPs", "device_hours": kind, "wall_hours": "wall hours"})
    lines = [
        f"{study.study}: {len(planned)} units, {sum(table['state'] == 'to do')} to do",
        *data,
        f"benchmarks: {', '.join(b.name for b in study.benchmarks)}",
        "",
        shown.to_string(index=False, na_rep="—", formatters=plan_formatters(kind)),
    ]
    if table["flops"].notna().any():
        lines += ["", *totals(study, table, device)]
    lines += prediction_savings(study, table, device)
    return "\n".join(lines)


def _predicted(study: StudyParams) -> str:
    predict = study.analysis.predict
    return f"the students at {', '.join(predict.predict)} (predicted from {', '.join(predict.fit)})"


def prediction_savings(study: StudyParams, table: pd.DataFrame, device) -> list[str]:
    """What `analysis.predict` lets a planner skip: the FLOPs and hours of training and evaluating
    the predicted IFT and reasoning students, every seed, against the plan's with them."""
    if study.analysis.predict is None:
        return []
    lengths = token_lengths(study)
    flop_count, hours = 0.0, 0.0
    for scale in study.analysis.predict.predict:
        for recipe in [r for r in FORMATS if r in study.recipes]:
            seeds = len(units.run_seeds(study, recipe, scale))
            train, evaluate = unit_flops(study, scale, recipe, lengths)
            if train is None or evaluate is None:
                return ["", f"analysis.predict: {_predicted(study)}; their cost is unknown (no lengths)"]
            flop_count += seeds * (train + evaluate)
            if device is not None:
                decoding = evaluation_hours(study, scale, recipe, lengths, device)
                hours += seeds * (device.hours(train) + decoding)
    trained = study.analysis.predict.train
    whole = table["flops"].sum() + (0.0 if trained else flop_count)
    where = (
        "This study trains them too, to score the prediction (analysis.predict.train: false plans "
        "without them)."
        if trained
        else "They are left out of this plan (analysis.predict.train: false)."
    )
    in_hours = f", {hours:,.1f} {device.kind}" if device is not None else ""
    return [
        "",
        f"analysis.predict: {_predicted(study)} cost {flop_count:.3g} FLOPs{in_hours} "
        f"({flop_count / whole:.0%} of the study's with them): what trusting the prediction saves. {where}",
    ]


def reported_prediction_savings(study: StudyParams) -> list[str]:
    """A reported study's `analysis.predict`: the estimated training FLOPs of the predicted
    students (both formats, every corpus) against the whole ladder's."""
    if study.analysis.predict is None:
        return []
    reported_sizes = study.reported.corpus_sizes
    per_scale = {
        scale: sum(
            train_flops_estimate(
                student_architecture(study, scale),
                reported_sizes[corpus],
                fmt,
                study.reported.chars_per_token,
            )
            for corpus in study.reported.corpora
            for fmt in FORMATS
        )
        for scale in study.students.scales
    }
    saved = sum(per_scale[scale] for scale in study.analysis.predict.predict)
    return [
        "",
        f"analysis.predict: training {_predicted(study)} cost an estimated {saved:.3g} FLOPs in the "
        f"paper (both formats, {' and '.join(study.reported.corpora)} corpus; "
        f"{saved / sum(per_scale.values()):.0%} of the whole ladder's): what the prediction would have "
        "saved.",
    ]


def plan_formatters(kind: str) -> dict:
    def count(value) -> str:
        return "—" if pd.isna(value) else f"{value:.3g}"

    def hours(value) -> str:
        return "—" if pd.isna(value) else f"{value:,.2f}"

    return {"params": count, "FLOPs": count, kind: hours, "wall hours": hours}


def totals(study: StudyParams, table: pd.DataFrame, device: Throughput | None) -> list[str]:
    """Per stage and in all: FLOPs, device-hours and wall clock, and what the hours rest on."""
    staged = table.assign(stage=table["unit"].str.split(":").str[0])
    sums = staged.groupby("stage", sort=False)[["flops", "device_hours", "wall_hours"]].sum(min_count=1)
    lines = [f"total estimated FLOPs: {table['flops'].sum():.3g} (paper formula)"]
    if device is None or table["device_hours"].isna().all():
        return lines
    jobs = study.runner.jobs
    for stage, row in sums.iterrows():
        if pd.notna(row["flops"]) and row["flops"] > 0:
            lines.append(
                f"  {stage}: {row['flops']:.3g} FLOPs, {row['device_hours']:,.1f} {device.kind}, "
                f"{row['wall_hours']:,.1f} h wall clock at {devices_per_unit(study, stage)} device(s) a unit"
            )
    wall = table["wall_hours"].sum() / jobs
    per_stage = sums["device_hours"].fillna(0)
    lines += [
        f"{device.kind} in all: {table['device_hours'].sum():,.0f}; wall clock about {wall:,.0f} h "
        f"({'one unit' if jobs == 1 else f'{jobs} units'} at a time, runner.jobs)",
        f"{device.how}: {', '.join(f'{stage} {hours:,.0f}' for stage, hours in per_stage.items())}",
        "training hours: FLOPs over that throughput; evaluation and teacher hours: a decoding model, "
        + (
            f"prefill at that throughput, each decoding step the slower of its compute and reading the "
            f"weights and KV cache at {device.memory_bandwidth / 1e12:.2f} TB/s "
            f"({'estimates.memory_bandwidth' if study.estimates.memory_bandwidth else 'data sheet'}), "
            f"{evaluation_batch(study)} sequences a batch"
            if device.memory_bandwidth
            else "compute-bound (no memory bandwidth known for the device: set estimates.memory_bandwidth)"
        ),
    ]
    return lines


def dry_run(parameters_file: str | Path, overrides: tuple[str, ...] = (), only: tuple[str, ...] = ()) -> str:
    """Validate a study (with `--set` overrides) and describe its plan (units, or those `only`
    matches and what they need; models, benchmarks, estimated FLOPs and hours) without running
    anything or loading any weights."""
    study = load_study(parameters_file, overrides)
    check_paths(study)
    planned = units.plan(study, parameters_file)
    if only:
        planned = units.only(planned, only)
    for unit in planned:
        check_notebook_parameters(unit)
    return describe(study, planned)
