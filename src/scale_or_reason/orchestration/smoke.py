"""`sor doctor PARAMS --smoke`: the study's largest student, briefly, through the study's own code.

    sor doctor parameters/embedded.yaml --smoke            # the largest embedded student, on CPU
    sor doctor parameters/paper.yaml --smoke --scale 7b    # Qwen2.5-7B's shape, random weights

The student is built from its config with random weights (nothing is downloaded; a pretrained
student's shape comes from the packaged config), trained for a few optimizer steps by the trainer
every training unit uses (`training.train.build_trainer`, the study's precision, checkpointing and
per-device batch, one micro-batch per step), saved, and made to generate through the study's
evaluation backend (`evaluation.evaluate.lm_eval_model`: transformers or vLLM). Rows are the
programmatic teacher's own pairs for a synthetic study, else token rows at the study's expected
prompt and reasoning lengths. The tokenizer is a small one trained here on teacher text; a
pretrained student keeps its full vocabulary, so its LM head costs what it will.

The first steps (allocation, kernel selection) are timed apart; ms per step, tokens/s and MFU are
over the rest. The result is kept as the device's smoke record (`core.machine.record_smoke`),
whose MFU the dry-run's GPU-hours then use.
"""

from __future__ import annotations

import random
import resource
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from datasets import Dataset
from lm_eval.api.instance import Instance
from transformers import TrainerCallback

from .. import units
from ..config.families import FAMILIES
from ..config.params import StudyParams
from ..core import flops, machine, memory
from ..core.model_configs import pretrained_config, student_architecture
from ..data.prepared import IGNORED_LABEL
from ..data.sft_rows import recipe_rows
from ..data.teachers import synthetic_pairs
from ..data.tokenizer import TURN_END, build_tokenizer, count_tokens, tokenizer_corpus
from ..evaluation.evaluate import lm_eval_model
from ..training.students import build_student, prepare_for_chat, random_student, student_config
from ..training.train import MAX_POSITIONS, build_trainer, sft_config
from .estimates import token_lengths
from .interface import STEPS, WARMUP_STEPS

PROMPTS = 8
GENERATED_TOKENS = 128
PRETRAINED_TOKENIZER_VOCAB = 512
TOKENIZER_PAIRS_PER_FAMILY = 64
RECIPE = "reasoning"  # the longer format: the memory and time that matter


def largest_scale(study: StudyParams) -> str:
    """The student with the most parameters."""
    return max(
        study.students.scales,
        key=lambda scale: flops.parameter_counts(student_architecture(study, scale))["total"],
    )


class StepTimer(TrainerCallback):
    """Wall-clock time at the end of every optimizer step (after the device has finished it)."""

    def __init__(self):
        self.marks: list[float] = []

    def _mark(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.marks.append(time.perf_counter())

    def on_train_begin(self, args, state, control, **kwargs):
        self._mark()

    def on_step_end(self, args, state, control, **kwargs):
        self._mark()


def teacher_pairs(study: StudyParams, count: int) -> list[dict]:
    """`count` training pairs of the programmatic teacher, spread over the study's families."""
    families = study.teacher.families if study.teacher.kind == "synthetic" else list(FAMILIES)
    per_family = -(-count // len(families))
    pairs = [row for family in families for row in synthetic_pairs(family, "train", per_family, study.seed)]
    return random.Random(study.seed).sample(pairs, count)


def smoke_tokenizer(study: StudyParams, scale: str):
    """A tokenizer trained here on teacher text: the study's vocabulary size for students built
    from config, a small one for pretrained students (whose embedding keeps its full size)."""
    vocab = (
        study.tokenizer.vocab_size if study.students.scales[scale].from_config else PRETRAINED_TOKENIZER_VOCAB
    )
    return build_tokenizer(tokenizer_corpus(teacher_pairs(study, TOKENIZER_PAIRS_PER_FAMILY * 4)), vocab)


def smoke_student(study: StudyParams, scale: str, tokenizer):
    """The student with random weights, in its training precision."""
    params = study.students.scales[scale]
    if params.from_config:
        config = student_config(params, tokenizer, MAX_POSITIONS, study.training.init_std)
        return build_student(config, study.seed)
    model = random_student(pretrained_config(params.model), study.seed, bf16=study.training.bf16)
    prepare_for_chat(model, tokenizer)
    return model


def token_rows(count: int, prompt: int, completion: int, tokenizer, seed: int) -> Dataset:
    """Pre-tokenized rows of `prompt` + `completion` tokens (ending in the end-of-turn token), the
    loss on the completion only."""
    rng = random.Random(seed)
    ordinary = [i for i in range(len(tokenizer)) if i not in tokenizer.all_special_ids]
    rows = []
    for _ in range(count):
        ids = [rng.choice(ordinary) for _ in range(prompt + completion - 1)] + [tokenizer.eos_token_id]
        rows.append({"input_ids": ids, "labels": [IGNORED_LABEL] * prompt + ids[prompt:]})
    return Dataset.from_list(rows)


def smoke_rows(study: StudyParams, model, tokenizer, count: int) -> tuple[Dataset, str]:
    """The programmatic teacher's pairs in reasoning form for a synthetic study; otherwise token
    rows at the study's mean prompt and reasoning lengths (measured or `estimates`)."""
    if study.teacher.kind == "synthetic":
        pairs = Dataset.from_list(teacher_pairs(study, count))
        return recipe_rows(pairs, RECIPE, study.seed), "the programmatic teacher's pairs, reasoning form"
    lengths = token_lengths(study)
    if lengths is None:
        raise ValueError("the study's token lengths are unknown: set estimates.prompt_tokens and *_tokens")
    positions = model.config.max_position_embeddings
    prompt = round(lengths["prompt"])
    completion = min(round(lengths[RECIPE]), positions - prompt)
    rows = token_rows(count, prompt, completion, tokenizer, study.seed)
    return rows, f"token rows of {prompt} prompt + {completion} completion tokens"


def peak_flops(device: machine.Device, bf16: bool, threads: int) -> tuple[float, str]:
    """The device's peak for MFU: the data sheet's bf16 figure for a listed GPU, else measured."""
    if device.spec_peak is not None and bf16:
        return device.spec_peak, "data-sheet bf16 dense peak"
    dtype = torch.bfloat16 if bf16 else torch.float32
    where = "cuda" if device.kind == "cuda" else "cpu"
    return machine.peak_flops(where, dtype, threads), f"measured {dtype} matmul peak"


def peak_memory() -> tuple[int, str]:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated(), "CUDA peak allocated"
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale, "process peak RSS"


def train_steps(study: StudyParams, scale: str, model, tokenizer, rows: Dataset, folder: Path, steps: int):
    """Train `steps` optimizer steps of one micro-batch each; returns the trainer and step times."""
    quiet = study.model_copy(
        update={"training": study.training.model_copy(update={"checkpoint_steps": None, "report_to": "none"})}
    )
    args = sft_config(quiet, scale, RECIPE, folder / "checkpoints", steps, study.seed, accumulation=1)
    trainer = build_trainer(study, scale, model, tokenizer, rows, args)
    timer = StepTimer()
    trainer.add_callback(timer)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    return trainer, [end - start for start, end in zip(timer.marks, timer.marks[1:], strict=False)]


def generate(study: StudyParams, model_folder: Path, prompts: list[str], tokenizer, cap: int) -> dict:
    """Greedy generation for `prompts` through the study's evaluation backend."""
    lm = lm_eval_model(study, model_folder, RECIPE)
    requests = [
        Instance(
            request_type="generate_until",
            doc={},
            arguments=(
                tokenizer.apply_chat_template(
                    [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
                ),
                {"until": [TURN_END], "max_gen_toks": cap, "do_sample": False},
            ),
            idx=0,
        )
        for prompt in prompts
    ]
    start = time.perf_counter()
    responses = lm.generate_until(requests, disable_tqdm=True)
    seconds = time.perf_counter() - start
    generated = sum(min(length + 1, cap) for length in count_tokens(tokenizer, responses))
    return {"generated_tokens": generated, "generation_seconds": seconds}


def run_smoke(study: StudyParams, scale: str | None = None, steps: int = STEPS) -> dict:
    """Train the student `scale` (the largest when None) for `steps` steps and generate for
    `PROMPTS` prompts; returns the measured record (also kept as the device's smoke record)."""
    scale = scale or largest_scale(study)
    units.check_student(study, scale, RECIPE, None)
    torch.set_num_threads(study.training.threads)
    device = machine.local_devices()[0]
    tokenizer = smoke_tokenizer(study, scale)
    model = smoke_student(study, scale, tokenizer)
    batch = study.training.batch_size
    rows, rows_kind = smoke_rows(study, model, tokenizer, steps * batch)
    folder = units.study_dir(study) / "doctor" / f"smoke-{scale}"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        trainer, durations = train_steps(study, scale, model, tokenizer, rows, folder, steps)
        measured_memory, memory_kind = peak_memory()
        lengths = [len(ids) for ids in trainer.train_dataset["input_ids"]]
        model_folder = folder / "model"
        trainer.save_model(str(model_folder))
        prompts = [pair["prompt"] for pair in teacher_pairs(study, PROMPTS)]
        generation = generate(study, model_folder, prompts, tokenizer, GENERATED_TOKENS)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return measured_record(study, scale, device, model, lengths, durations, generation) | {
        "rows": rows_kind,
        "peak_memory_bytes": measured_memory,
        "peak_memory_kind": memory_kind,
    }


def measured_record(study, scale, device, model, lengths, durations, generation) -> dict:
    """Per-step time, throughput and MFU over the steps after the warm-up ones."""
    batch = study.training.batch_size
    steady = durations[WARMUP_STEPS:] or durations
    first = len(durations) - len(steady)
    steady_lengths = lengths[first * batch : len(durations) * batch]
    seconds = sum(steady)
    arch = flops.architecture(model.config)
    peak, peak_source = peak_flops(device, study.training.bf16, torch.get_num_threads())
    estimated = memory.training_memory(
        arch,
        bf16=study.training.bf16,
        batch_size=batch,
        sequence=max(lengths),
        checkpointing=study.training.gradient_checkpointing,
        fused_head=not study.students.scales[scale].from_config,
    )
    return {
        "device": device.name,
        "kind": device.kind,
        "scale": scale,
        "model": study.students.scales[scale].model or f"from config ({scale})",
        "params": flops.parameter_counts(arch)["total"],
        "batch_size": batch,
        "mean_tokens_per_row": sum(lengths) / len(lengths),
        "steps": len(durations),
        "timed_steps": len(steady),
        "ms_per_step": 1000 * seconds / len(steady),
        "tokens_per_second": sum(steady_lengths) / seconds,
        "mfu": machine.model_flops_utilisation(
            flops.exact_training_flops(arch, steady_lengths), seconds, peak
        ),
        "peak_flops_per_second": peak,
        "peak_source": peak_source,
        "estimated_memory_bytes": estimated.total,
        "generation_backend": study.evaluation.backend,
        "generation_tokens_per_second": generation["generated_tokens"] / generation["generation_seconds"],
        "generated_tokens": generation["generated_tokens"],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__,
        "bf16": study.training.bf16,
        "gradient_checkpointing": study.training.gradient_checkpointing,
    }


def describe_smoke(record: dict) -> str:
    """The measured table, one line per figure."""
    figures = {
        "device": record["device"],
        "student": f"{record['scale']}: {record['model']}, {record['params']:,} parameters",
        "rows": f"{record['rows']}; batch {record['batch_size']}, "
        f"{record['mean_tokens_per_row']:.0f} tokens a row",
        "ms per step": f"{record['ms_per_step']:.1f} (mean of {record['timed_steps']} steps after warm-up)",
        "tokens/s (training)": f"{record['tokens_per_second']:,.0f}",
        "MFU": f"{record['mfu']:.1%} of {record['peak_flops_per_second']:.3g} FLOP/s "
        f"({record['peak_source']})",
        "peak memory": f"{memory.gib(record['peak_memory_bytes'])} ({record['peak_memory_kind']}); "
        f"estimated {memory.gib(record['estimated_memory_bytes'])}",
        "tokens/s (generation)": f"{record['generation_tokens_per_second']:,.0f} "
        f"({record['generation_backend']}, {PROMPTS} prompts, {record['generated_tokens']} tokens)",
    }
    width = max(map(len, figures))
    lines = [f"  {name:<{width}}  {value}" for name, value in figures.items()]
    return "\n".join([f"smoke test ({record['date']}):", *lines])
