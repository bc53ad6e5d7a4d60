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

from pathlib import Path

import pandas as pd

from .. import units
from ..config.params import StudyParams, load_study
from ..config.recipes import FORMATS, parse_recipe
from ..core import flops, machine
from ..core.model_configs import model_config, student_architecture
from .notebooks import check_notebook_parameters


def token_lengths(study: StudyParams) -> dict[str, float] | None:
    """Mean prompt, IFT and reasoning lengths: measured if the data exists, else assumed."""
    data = units.data_dir(study)
    if units.is_complete(data):
        stats = pd.read_csv(data / "token_stats.csv")
        train = stats[stats["table"] == "train"]
        weights = train["n"] / train["n"].sum()
        return {k: float((train[f"{k}_tokens"] * weights).sum()) for k in ("prompt", "ift", "reasoning")}
    estimates = study.estimates
    if None in (estimates.prompt_tokens, estimates.ift_tokens, estimates.reasoning_tokens):
        return None
    return {
        "prompt": estimates.prompt_tokens,
        "ift": estimates.ift_tokens,
        "reasoning": estimates.reasoning_tokens,
    }


def training_samples(study: StudyParams) -> int | None:
    teacher = study.teacher
    if teacher.kind == "synthetic":
        return teacher.train_per_family * len(teacher.families)
    return teacher.limit or study.estimates.samples


def unit_flops(
    study: StudyParams, scale: str, recipe: str, lengths: dict | None
) -> tuple[float | None, float | None]:
    """Paper-formula training and evaluation FLOPs of one student, from mean lengths."""
    samples = training_samples(study)
    if lengths is None or samples is None:
        return None, None
    if study.teacher.kind == "synthetic":  # a data-efficiency recipe trains on fewer rows than every pair
        samples = units.samples_per_family(study, recipe) * len(study.teacher.families)
    arch = student_architecture(study, scale)
    share = parse_recipe(recipe).reasoning_share
    target = share * lengths["reasoning"] + (1 - share) * lengths["ift"]
    rows = samples * study.training.epochs
    train = rows * 3 * flops.forward_flops(arch, round(lengths["prompt"] + target))
    generated = lengths["reasoning"] if share > 0 else lengths["ift"]
    items = evaluation_items(study)
    per_item = flops.inference_flops(arch, round(lengths["prompt"]), round(generated))
    return float(train), (None if items is None else float(items * per_item))


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


def throughput(study: StudyParams) -> tuple[float, str] | None:
    """The FLOP/s a unit achieves, and where that figure comes from: the latest `sor doctor
    --smoke` on the plan's device (`estimates.device`, else this machine's) at the study's
    precision when one is recorded,
    else the assumed peak and MFU of `estimates`; None without either."""
    device = study.estimates.device or machine.device_name()
    record = machine.smoke_record(device)
    # A record at another precision (a CPU run in fp32 for a bf16 GPU study) says nothing of its MFU.
    if record is not None and record.get("bf16") == study.training.bf16:
        peak, mfu = record["peak_flops_per_second"], record["mfu"]
        hours = "CPU-hours" if record.get("kind") == "cpu" else "GPU-hours"
        how = (
            f"{hours} at MFU {mfu:.0%} of {peak:.3g} FLOP/s, measured by `sor doctor --smoke` on {device} "
            f"({record['model']}, {record['date']})"
        )
        return peak * mfu, how
    estimates = study.estimates
    if estimates.gpu_flops_per_second is None or estimates.mfu is None:
        return None
    how = (
        f"GPU-hours at {estimates.gpu_flops_per_second:.3g} FLOP/s and MFU {estimates.mfu:.0%}, assumed "
        f"(estimates; no smoke record of {device} at this precision: `sor doctor PARAMS --smoke` on "
        "the target device measures it)"
    )
    return estimates.gpu_flops_per_second * estimates.mfu, how


def device_hours(unit_flops: float | None, achieved: tuple[float, str] | None) -> float | None:
    if unit_flops is None or achieved is None:
        return None
    return unit_flops / achieved[0] / 3600


def plan_table(study: StudyParams, planned: list) -> pd.DataFrame:
    """One row per unit: what it runs, whether it is done, and its estimated FLOPs."""
    lengths = token_lengths(study)
    achieved = throughput(study)
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
            row["est_flops"] = train if unit.stage == "train" else evaluate
            row["est_hours"] = device_hours(row["est_flops"], achieved)
        elif unit.stage == "generate":
            row["model"] = study.teacher.model or study.teacher.source or "programmatic teacher"
            row["est_flops"] = teacher_flops(study, lengths)
            row["est_hours"] = device_hours(row["est_flops"], achieved)
        rows.append(row)
    return pd.DataFrame(rows, columns=["unit", "state", "model", "params", "est_flops", "est_hours"])


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
                table.to_string(index=False, na_rep="—"),
            ]
        )
    lengths = token_lengths(study)
    source = (
        "measured on the generated data"
        if units.is_complete(units.data_dir(study))
        else "assumed (estimates)"
    )
    described_lengths = ", ".join(f"{k} {v:.0f}" for k, v in lengths.items()) if lengths else ""
    if any(unit.stage == "train" for unit in planned):
        data = [
            f"teacher: {study.teacher.kind} {study.teacher.model or study.teacher.source or ''}".rstrip(),
            f"training samples: {training_samples(study) or 'unknown'}; token lengths {source}: "
            + (described_lengths or "unknown (set estimates.*)"),
        ]
    else:  # every student trained elsewhere: nothing generated or trained here
        data = [
            f"students trained elsewhere; their training FLOPs are estimates: {study.estimates.samples} "
            f"samples, token lengths {described_lengths}"
        ]
    lines = [
        f"{study.study}: {len(planned)} units, {sum(table['state'] == 'to do')} to do",
        *data,
        f"benchmarks: {', '.join(b.name for b in study.benchmarks)}",
        "",
        table.to_string(index=False, na_rep="—", float_format=lambda x: f"{x:.3g}"),
    ]
    if "est_flops" in table and table["est_flops"].notna().any():
        lines.append(f"\ntotal estimated FLOPs: {table['est_flops'].sum():.3g} (paper formula)")
    if "est_hours" in table and table["est_hours"].notna().any():
        stages = (
            table.assign(stage=table["unit"].str.split(":").str[0])
            .groupby("stage", sort=False)["est_hours"]
            .sum()
        )
        per_stage = ", ".join(f"{stage} {hours:,.0f}" for stage, hours in stages.items())
        lines.append(f"{throughput(study)[1]}: {per_stage}")
    return "\n".join(lines)


def dry_run(parameters_file: str | Path) -> str:
    """Validate a study and describe its plan (units, models, benchmarks, estimated FLOPs) without
    running anything or loading any weights."""
    study = load_study(parameters_file)
    planned = units.plan(study, parameters_file)
    for unit in planned:
        check_notebook_parameters(unit)
    return describe(study, planned)
