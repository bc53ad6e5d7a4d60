"""The plan of a study before it runs: its units, the model each trains or evaluates, the
benchmarks, and the FLOPs each unit will cost, without loading any weights.

    sor study parameters/paper.yaml --dry-run

Model shapes come from configs only: the paper's models ship with the package
(`model_configs/`, copied from their hub repositories), any other hub id is asked for its config
alone, and students built from config are counted from their parameters. Token lengths come from
the study's generated data once it exists, and before that from the `estimates` section of the
parameters (the assumptions are printed with the plan).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from huggingface_hub.errors import StrictDataclassError

from . import flops, store
from .flops import ConfigError
from .params import StudyParams
from .recipes import parse_recipe

MODEL_CONFIGS_DIR = Path(__file__).parent / "model_configs"
PACKAGED_CONFIGS = {
    "Qwen/Qwen2.5-0.5B": "qwen2.5-0.5b.json",
    "Qwen/Qwen2.5-1.5B": "qwen2.5-1.5b.json",
    "Qwen/Qwen2.5-3B": "qwen2.5-3b.json",
    "Qwen/Qwen2.5-7B": "qwen2.5-7b.json",
    "Qwen/Qwen2.5-14B": "qwen2.5-14b.json",
    "Qwen/Qwen3-235B-A22B": "qwen3-235b-a22b.json",
}


def load_config(source: str):
    """A model config from a config.json, a folder holding one, or a hub id (network permitting).

    A local file that transformers cannot parse as a config (an unknown model type, say) is read as
    plain JSON, so that any decoder with the usual fields can still be counted.
    """
    from transformers import AutoConfig

    path = Path(source)
    if path.is_dir():
        path = path / "config.json"
    if path.suffix == ".json" or path.exists() or source.startswith((".", "/")):
        if not path.is_file():
            raise ConfigError(f"no model config at {path}")
        try:
            return AutoConfig.from_pretrained(str(path), trust_remote_code=False)
        except (ValueError, OSError, TypeError, StrictDataclassError):
            try:
                return SimpleNamespace(**json.loads(path.read_text()))
            except (json.JSONDecodeError, TypeError, UnicodeDecodeError):
                raise ConfigError(f"{path}: not a JSON model config") from None
    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=False)
    except (ValueError, OSError) as error:
        raise ConfigError(f"cannot load config {source!r} from the hub: {str(error).splitlines()[0]}") from None


def model_config(name: str):
    """A model's config without its weights: packaged, from a local folder, or from the hub."""
    if name in PACKAGED_CONFIGS:
        return SimpleNamespace(**json.loads((MODEL_CONFIGS_DIR / PACKAGED_CONFIGS[name]).read_text()))
    return load_config(name)


def student_architecture(study: StudyParams, scale: str) -> flops.Architecture:
    params = study.students.scales[scale]
    if not params.from_config:
        return flops.architecture(model_config(params.model))
    config = SimpleNamespace(
        hidden_size=params.hidden_size, intermediate_size=params.intermediate_size,
        num_attention_heads=params.num_heads, num_key_value_heads=params.num_kv_heads,
        num_hidden_layers=params.num_layers, vocab_size=study.tokenizer.vocab_size,
        tie_word_embeddings=True, model_type="qwen2",
    )  # fmt: skip
    return flops.architecture(config)


def token_lengths(study: StudyParams) -> dict[str, float] | None:
    """Mean prompt, IFT and reasoning lengths: measured if the data exists, else assumed."""
    data = store.data_dir(study)
    if store.is_complete(data):
        stats = pd.read_csv(data / "token_stats.csv")
        train = stats[stats["table"] == "train"]
        weights = train["n"] / train["n"].sum()
        return {k: float((train[f"{k}_tokens"] * weights).sum()) for k in ("prompt", "ift", "reasoning")}
    estimates = study.estimates
    if None in (estimates.prompt_tokens, estimates.ift_tokens, estimates.reasoning_tokens):
        return None
    return {"prompt": estimates.prompt_tokens, "ift": estimates.ift_tokens, "reasoning": estimates.reasoning_tokens}


def training_samples(study: StudyParams) -> int | None:
    teacher = study.teacher
    if teacher.kind == "synthetic":
        return teacher.train_per_family * len(teacher.families)
    return teacher.limit or study.estimates.samples


def unit_flops(study: StudyParams, scale: str, recipe: str, lengths: dict | None) -> tuple[float | None, float | None]:
    """Paper-formula training and evaluation FLOPs of one student, from mean lengths."""
    samples = training_samples(study)
    if lengths is None or samples is None:
        return None, None
    if study.teacher.kind == "synthetic":  # a data-efficiency recipe trains on fewer rows than every pair
        samples = study.samples_per_family(recipe) * len(study.teacher.families)
    arch = student_architecture(study, scale)
    share = parse_recipe(recipe).reasoning_share
    target = share * lengths["reasoning"] + (1 - share) * lengths["ift"]
    rows = samples * study.training.epochs
    train = rows * 3 * flops.forward_flops(arch, round(lengths["prompt"] + target))
    items = study.estimates.eval_items_per_benchmark
    if items is None and all(b.is_synthetic for b in study.benchmarks):
        items = study.teacher.test_per_family
    generated = lengths["reasoning"] if share > 0 else lengths["ift"]
    evaluate = (
        None if items is None
        else items * len(study.benchmarks) * flops.inference_flops(arch, round(lengths["prompt"]), round(generated))
    )  # fmt: skip
    return float(train), (None if evaluate is None else float(evaluate))


def teacher_flops(study: StudyParams, lengths: dict | None) -> float | None:
    """An LLM teacher answering every prompt twice (thinking off and on); exact count, so a
    mixture-of-experts teacher is charged for its active experts only."""
    samples = training_samples(study)
    if study.teacher.model is None or lengths is None or samples is None:
        return None
    arch = flops.architecture(model_config(study.teacher.model))
    prompt = round(lengths["prompt"])
    both = sum(flops.exact_inference_flops(arch, prompt, round(lengths[k])) for k in ("ift", "reasoning"))
    return float(samples * both)


def gpu_hours(study: StudyParams, unit_flops: float | None) -> float | None:
    estimates = study.estimates
    if unit_flops is None or estimates.gpu_flops_per_second is None or estimates.mfu is None:
        return None
    return unit_flops / (estimates.gpu_flops_per_second * estimates.mfu) / 3600


def plan_table(study: StudyParams, units: list) -> pd.DataFrame:
    """One row per unit: what it runs, whether it is done, and its estimated FLOPs."""
    lengths = token_lengths(study)
    rows = []
    for unit in units:
        scale, recipe = unit.parameters.get("scale"), unit.parameters.get("recipe")
        row = {"unit": unit.key, "state": "complete" if store.is_complete(unit.folder) else "to do"}
        if scale is not None:
            params = study.students.scales[scale]
            train, evaluate = unit_flops(study, scale, recipe, lengths)
            row["model"] = params.model or f"from config ({scale})"
            row["params"] = flops.parameter_counts(student_architecture(study, scale))["total"]
            row["est_flops"] = train if unit.stage == "train" else evaluate
            row["gpu_hours"] = gpu_hours(study, row["est_flops"])
        elif unit.stage == "generate":
            row["model"] = study.teacher.model or study.teacher.source or "programmatic teacher"
            row["est_flops"] = teacher_flops(study, lengths)
            row["gpu_hours"] = gpu_hours(study, row["est_flops"])
        rows.append(row)
    return pd.DataFrame(rows, columns=["unit", "state", "model", "params", "est_flops", "gpu_hours"])


def describe(study: StudyParams, units: list) -> str:
    """The dry-run report: the plan table, the benchmarks and the assumptions behind the FLOPs."""
    table = plan_table(study, units)
    lengths = token_lengths(study)
    source = "measured on the generated data" if store.is_complete(store.data_dir(study)) else "assumed (estimates)"
    lines = [
        f"{study.study}: {len(units)} units, {sum(table['state'] == 'to do')} to do",
        f"teacher: {study.teacher.kind} {study.teacher.model or study.teacher.source or ''}".rstrip(),
        f"benchmarks: {', '.join(b.name for b in study.benchmarks)}",
        f"training samples: {training_samples(study) or 'unknown'}; token lengths {source}: "
        + (", ".join(f"{k} {v:.0f}" for k, v in lengths.items()) if lengths else "unknown (set estimates.*)"),
        "",
        table.to_string(index=False, na_rep="—", float_format=lambda x: f"{x:.3g}"),
    ]
    if "est_flops" in table and table["est_flops"].notna().any():
        lines.append(f"\ntotal estimated FLOPs: {table['est_flops'].sum():.3g} (paper formula)")
    if "gpu_hours" in table and table["gpu_hours"].notna().any():
        stages = table.assign(stage=table["unit"].str.split(":").str[0]).groupby("stage", sort=False)["gpu_hours"].sum()
        per_stage = ", ".join(f"{stage} {hours:,.0f}" for stage, hours in stages.items())
        lines.append(
            f"GPU-hours at {study.estimates.gpu_flops_per_second:.3g} FLOP/s and MFU {study.estimates.mfu:.0%}: {per_stage}"
        )
    return "\n".join(lines)
