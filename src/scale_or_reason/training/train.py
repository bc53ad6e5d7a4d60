"""Stage 2: fine-tune one student on one recipe with TRL's `SFTTrainer`.

    papermill notebooks/02_train.ipynb out.ipynb -p parameters_file parameters/embedded.yaml \\
        -p scale xs -p recipe reasoning
    # or, without Jupyter (one process):
    python -m scale_or_reason.training.train parameters/embedded.yaml xs ift
    # several GPUs (what `02_train` runs when `training.processes` > 1):
    accelerate launch --config_file parameters/accelerate/fsdp.yaml --num_processes 8 \\
        -m scale_or_reason.training.train parameters/paper.yaml 7b reasoning

Writes into the unit's folder: `model/` (safetensors weights, config and tokenizer), `train_log.csv`
(the trainer's log history) and `train_metrics.json` (real token counts, training FLOPs by the
paper's formula and exactly, and the run's model FLOPs utilisation against the machine's measured
matmul peak).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import torch
from datasets import Dataset
from transformers import Trainer
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTConfig, SFTTrainer

from .. import units
from ..config.params import ParametersError, StudyParams, load_study
from ..config.recipes import parse_recipe
from ..core import files, flops, launch, machine
from ..core.hub import load_tokenizer
from ..data import pool
from ..data.generation import load_pairs
from ..data.prepared import prepared_rows, with_format_tokens
from ..data.sft_rows import reasoning_rows, recipe_rows, training_order
from .averaging import DecayAverage
from .packing import IGNORED_LABEL, PackedBatchCollator
from .students import build_student, count_parameters, load_pretrained, student_config

MAX_POSITIONS = 2048
LAUNCHED_MODULE = "scale_or_reason.training.train"  # what `accelerate launch` runs in each process


class TruncationError(ValueError):
    """A training sequence would not fit: its end (which holds the answer) would be cut."""


class SmallVocabSFTTrainer(SFTTrainer):
    """TRL's trainer with the model's own loss, for students whose whole vocabulary is small.

    TRL 1.16 always projects through a chunked, fused LM head, built so that a 150k-token
    vocabulary's logits are never materialised. With the embedded tokenizer's 512 tokens the full
    logits are tiny and the tile loop is pure overhead: the model's own loss (the same token-summed
    negative log-likelihood over the completion, divided by the batch's completion tokens) trained
    the 9k-parameter student 2.6x and the 231k one 1.35x faster, to the same loss. Only TRL's
    logged entropy and token accuracy are lost (the tokens seen are counted here). Pretrained
    students keep TRL's fused head.
    Its batches are packed (`packing`): the same rows and loss, without the padding.
    """

    def __init__(self, *args, processing_class=None, data_collator=None, **kwargs):
        data_collator = data_collator or PackedBatchCollator(pad_token_id=processing_class.pad_token_id)
        super().__init__(*args, processing_class=processing_class, data_collator=data_collator, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training:  # the tokens-seen count TRL's own loss would have logged (padding excluded)
            real = (inputs["input_ids"] != self.processing_class.pad_token_id).sum()
            self._total_train_tokens += int(self.accelerator.gather_for_metrics(real).sum().item())
            self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
        return Trainer.compute_loss(
            self, model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
        )


def schedule_steps(training, steps: int) -> tuple[int, int]:
    """Warmup and decay steps: absolute when given (the paper's 150 and 300), else ratios of the run.

    A run shorter than warmup + decay keeps their proportions, so the schedule still warms up,
    holds and decays instead of being cut off mid-warmup.
    """
    warmup = (
        training.warmup_steps if training.warmup_steps is not None else round(training.warmup_ratio * steps)
    )
    decay = training.decay_steps if training.decay_steps is not None else round(training.decay_ratio * steps)
    if warmup + decay > steps:
        warmup, decay = (round(part * steps / (warmup + decay)) for part in (warmup, decay))
    return warmup, decay


def sft_config(
    study: StudyParams,
    scale: str,
    recipe: str,
    output_dir: Path,
    steps: int,
    seed: int | None = None,
    accumulation: int | None = None,
) -> SFTConfig:
    """The run's TRL settings; `accumulation` overrides the gradient accumulation that
    `training.global_batch_size` implies (the smoke test takes one micro-batch per step)."""
    training = study.training
    seed = study.seed if seed is None else seed
    if accumulation is None:
        accumulation = training.gradient_accumulation(launch.world_size())
    if training.bf16 and not torch.cuda.is_available():
        raise ParametersError("training.bf16 needs a GPU; set it false to train on the CPU")
    warmup, decay = schedule_steps(training, steps)
    return SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=1,  # the recipe lays every epoch out in the rows, in training order
        per_device_train_batch_size=training.batch_size,
        gradient_accumulation_steps=accumulation,
        learning_rate=study.learning_rate(scale, recipe),
        lr_scheduler_type="warmup_stable_decay",
        warmup_steps=warmup,
        lr_scheduler_kwargs={"num_decay_steps": decay, "min_lr_ratio": training.min_lr_ratio},
        weight_decay=training.weight_decay,
        adam_beta2=training.adam_beta2,
        max_grad_norm=training.max_grad_norm,
        # Never let TRL's default (1024) cut a trace: lengths are checked against the parameter.
        max_length=None,
        # The rows come in the recipe's order (shuffled per epoch, or IFT-then-reasoning). Grouping
        # by length would make batches of one family each, which slowed learning several-fold in
        # our measurements; packing is correct but slower on CPU.
        train_sampling_strategy="sequential",
        use_cpu=not torch.cuda.is_available(),
        bf16=training.bf16,
        # On CPU checkpointing only costs time (2.3x in our measurements); large students need it.
        activation_checkpointing=training.gradient_checkpointing,
        seed=seed,
        data_seed=seed,
        logging_steps=max(1, steps // 50),
        # Periodic checkpoints (optimizer and schedule included) let a killed unit resume.
        save_strategy="steps" if training.checkpoint_steps else "no",
        save_steps=training.checkpoint_steps or 500,
        save_total_limit=1,
        report_to=training.report_to,
        run_name=units.curves_name(study, scale, recipe, seed),  # W&B's (else "checkpoints")
        dataloader_num_workers=0,
    )


def token_counts(
    dataset, eos_id: int, max_length: int | None, max_positions: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per tokenized row, its length and its completion tokens (those that carry loss), read with
    Arrow rather than row by row in Python (27,000 rows take seconds that way); refuses rows that
    are too long or lost their end."""
    table = dataset.with_format("arrow")[:]
    labels = table["labels"].combine_chunks()
    starts = np.concatenate([[0], np.cumsum(pc.list_value_length(labels).to_numpy())[:-1]])
    flat_labels = labels.flatten().to_numpy()
    lengths = pc.list_value_length(table["input_ids"]).to_numpy()
    if not len(lengths):
        return lengths, lengths
    ends_turn = np.add.reduceat(flat_labels == eos_id, starts) > 0
    problems = [
        (~ends_turn, "the completion lost its end-of-turn token"),
        (
            lengths > (max_length or np.inf),
            "{n} tokens, more than training.max_length={max_length}: raise it or leave it unset",
        ),
        (
            lengths > (max_positions or np.inf),
            "{n} tokens, more than the student's {max_positions} positions: drop such rows from the "
            "data or choose a longer-context student",
        ),
    ]
    for broken, message in problems:
        if broken.any():
            row = int(np.argmax(broken))
            what = message.format(n=lengths[row], max_length=max_length, max_positions=max_positions)
            raise TruncationError(f"training row {dataset[row]['id']}: {what}")
    return lengths, np.add.reduceat(flat_labels != IGNORED_LABEL, starts)


def last_checkpoint(folder: Path) -> str | None:
    """The latest complete periodic checkpoint of an interrupted run, if any."""
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def student_and_tokenizer(study: StudyParams, scale: str, data_folder: Path, seed: int):
    """A fresh student from config (with the study's tokenizer), or a pretrained base student."""
    scale_params = study.students.scales[scale]
    if scale_params.from_config:
        tokenizer = load_tokenizer(data_folder / "tokenizer")
        config = student_config(scale_params, tokenizer, MAX_POSITIONS, study.training.init_std)
        return build_student(config, seed), tokenizer
    torch.manual_seed(seed)
    return load_pretrained(
        scale_params.model, bf16=study.training.bf16, trust_remote_code=study.trust_remote_code
    )


def train_student(study: StudyParams, scale: str, recipe: str, seed: int | None = None) -> dict:
    """Train (or find already trained) the student `scale` on `recipe` with `seed` (initialisation
    and data order; the study's `seed` when None); returns its metrics. The data, and which
    prompts a curriculum gives in which form, are the study's whatever the seed."""
    seed = study.seed if seed is None else seed
    units.check_student(study, scale, recipe, seed)
    folder = units.train_dir(study, scale, recipe, seed)
    if units.is_complete(folder):
        return files.read_json(folder / "train_metrics.json")
    data_folder = units.require_complete(units.data_dir(study), "generation")
    torch.set_num_threads(study.training.threads)
    folder.mkdir(parents=True, exist_ok=True)
    model, tokenizer = student_and_tokenizer(study, scale, data_folder, seed)
    if recipe == "base":
        return save_untrained(scale, seed, folder, model, tokenizer)
    rows, selection = training_rows(study, data_folder, recipe)
    if reads_format_tokens(study, scale, recipe):
        rows = with_format_tokens(rows, data_folder)
    order = training_order(recipe, rows, study.training.epochs, seed, study.training.balanced_batches)
    steps = -(-len(order) // study.training.samples_per_step)
    args = sft_config(study, scale, recipe, folder / units.CHECKPOINTS, steps, seed)
    # transformers' TensorBoard callback reads its folder from the environment (else output_dir/runs,
    # which the finished model's checkpoint folder removal would take with it).
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(units.tensorboard_dir(study, scale, recipe, seed))
    # W&B writes its local files into the unit (else ./wandb in the project) under the study's name;
    # its messages go to wandb/debug.log there, not to stderr (red in JupyterLab as if wrong).
    os.environ["WANDB_DIR"] = str(folder)
    os.environ.setdefault("WANDB_PROJECT", study.study)
    os.environ.setdefault("WANDB_SILENT", "true")
    trainer = build_trainer(study, scale, model, tokenizer, rows, args)
    if study.training.average_decay:
        trainer.add_callback(DecayAverage(model, steps, schedule_steps(study.training, steps)[1]))
    # Each distinct row is tokenized and checked once; the trainer then reads them in the recipe's order.
    distinct = trainer.train_dataset
    max_positions = model.config.max_position_embeddings
    row_lengths, row_completions = token_counts(
        distinct, tokenizer.eos_token_id, study.training.max_length, max_positions
    )
    lengths = row_lengths[order].tolist()
    completion = int(row_completions[order].sum())
    trainer.train_dataset = distinct.select(order)
    seen = rows_seen(rows, order)
    name = units.run_name(study, scale, recipe, seed)
    processes = f" across {launch.world_size()} processes" if launch.world_size() > 1 else ""
    print(f"training {name}: {len(order)} rows tokenized, {steps} optimizer steps{processes}", flush=True)
    resume_from = last_checkpoint(folder / units.CHECKPOINTS)
    if resume_from:
        print(f"resuming from {resume_from}", flush=True)
    result = trainer.train(resume_from_checkpoint=resume_from)
    metrics = _metrics(study, scale, recipe, model, trainer, seen, lengths, result)
    metrics.update(train_completion_tokens=completion, seed=seed)
    if selection:
        metrics["selection"] = selection
    _save(folder, trainer, metrics)
    return metrics


def build_trainer(study: StudyParams, scale: str, model, tokenizer, rows: Dataset, args: SFTConfig):
    """The trainer of every run: the small-vocabulary one for students built from config (their
    own loss, packed batches), TRL's own for pretrained students (its chunked LM head)."""
    trainer_class = SmallVocabSFTTrainer if study.students.scales[scale].from_config else SFTTrainer
    rows = prepared_rows(rows, tokenizer)  # what TRL's own preparation gives, a few times faster
    return trainer_class(model=model, args=args, train_dataset=rows, processing_class=tokenizer)


def training_rows(study: StudyParams, data_folder: Path, recipe: str) -> tuple[Dataset, dict]:
    """A recipe's SFT rows, and for a data-efficiency recipe what its chosen traces hold."""
    pairs = load_pairs(data_folder)
    if not parse_recipe(recipe).from_pool:
        return recipe_rows(pairs, recipe, study.seed), {}
    chosen = pool.pool_recipe_pairs(study, data_folder, pairs.to_list(), recipe)
    if not chosen:
        raise ValueError(f"recipe {recipe!r} chose no training rows (is the pool or the budget empty?)")
    return reasoning_rows(chosen), pool.selection_stats(chosen)


def reads_format_tokens(study: StudyParams, scale: str, recipe: str) -> bool:
    """Whether the data unit's prepared tokens are this run's: the study's tokenizer (a student
    built from config), and every row its pair's own answer in its format (a full-granularity
    recipe of the study's pairs)."""
    parsed = parse_recipe(recipe)
    from_config = study.students.scales[scale].from_config
    return from_config and parsed.granularity == "full" and not parsed.from_pool


def save_untrained(scale: str, seed: int, folder: Path, model, tokenizer) -> dict:
    """The `base` recipe: the student as it starts, evaluated as the baseline of a gain."""

    def write(tmp: Path) -> None:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))

    files.write_atomic(folder / "model", write)
    counts = (
        "rows",
        "samples",
        "reasoning_rows",
        "steps",
        "train_tokens",
        "train_completion_tokens",
        "train_flops_paper",
        "train_flops_exact",
        "train_seconds",
        "tokens_per_second",
        "mfu",
    )
    zero = dict.fromkeys(counts, 0)
    metrics = {
        "scale": scale,
        "recipe": "base",
        "params": count_parameters(model),
        "epochs": 0,
        **zero,
        "seed": seed,
    }
    files.write_text(folder / "train_log.csv", "step,loss\n")  # no step taken
    files.write_json(folder / "train_metrics.json", metrics)
    units.mark_complete(folder, params=metrics["params"], train_flops_exact=0)
    return metrics


def rows_seen(rows: Dataset, order: list[int]) -> dict:
    """Distinct samples and reasoning rows among the rows trained on (`order`, every epoch)."""
    columns = rows.select_columns(["id", "format"])[:]
    ids, formats = np.asarray(columns["id"]), np.asarray(columns["format"])
    return {"samples": len(set(ids[order])), "reasoning_rows": int((formats[order] == "reasoning").sum())}


def _metrics(study, scale, recipe, model, trainer, seen, lengths, result) -> dict:
    """Counts over every row trained on; `lengths` already holds each epoch's rows."""
    train_seconds = result.metrics["train_runtime"]
    train_tokens = sum(lengths)
    arch = flops.architecture(model.config)
    train_flops_exact = flops.exact_training_flops(arch, lengths)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    peak = machine.peak_flops(device, torch.float32, torch.get_num_threads())
    return {
        "scale": scale,
        "recipe": recipe,
        "params": count_parameters(model),
        "samples": seen["samples"],
        "rows": len(lengths),
        "reasoning_rows": seen["reasoning_rows"],
        "epochs": study.training.epochs,
        "learning_rate": study.learning_rate(scale, recipe),
        "steps": trainer.state.global_step,
        "train_tokens": train_tokens,
        "train_flops_paper": flops.training_flops(arch, lengths),
        "train_flops_exact": train_flops_exact,
        "max_length": max(lengths),
        "train_seconds": train_seconds,
        "tokens_per_second": train_tokens / train_seconds,
        "peak_flops_per_second": peak,
        "mfu": machine.model_flops_utilisation(train_flops_exact, train_seconds, peak),
        # TRL's `training_loss` is the mean over the run's steps, not where the curve ends.
        "mean_loss": result.training_loss,
        "last_logged_loss": last_logged_loss(trainer.state.log_history),
    }


def last_logged_loss(log_history: list[dict]) -> float | None:
    """The training loss of the last logging step (the end of the plotted curve)."""
    losses = [entry["loss"] for entry in log_history if "loss" in entry]
    return float(losses[-1]) if losses else None


def _save(folder: Path, trainer: SFTTrainer, metrics: dict) -> None:
    """Every process takes part in saving (FSDP and ZeRO-3 gather the weights); the main process
    alone moves the checkpoint into place and writes the unit's records."""
    staging = folder / ".model.staging"
    trainer.save_model(str(staging))  # safetensors weights, config and tokenizer
    trainer.accelerator.wait_for_everyone()
    if not trainer.accelerator.is_main_process:
        return
    (staging / "training_args.bin").unlink(missing_ok=True)  # a pickle nobody needs to load
    files.write_atomic(folder / "model", lambda tmp: os.replace(staging, tmp))
    shutil.rmtree(folder / units.CHECKPOINTS, ignore_errors=True)  # the finished model supersedes them
    log = pd.DataFrame(trainer.state.log_history)
    files.write_csv(folder / "train_log.csv", log)
    files.write_json(folder / "train_metrics.json", metrics)
    units.mark_complete(folder, params=metrics["params"], train_flops_exact=metrics["train_flops_exact"])


def launch_command(
    study: StudyParams, parameters_file: str, scale: str, recipe: str, seed: int | None = None
) -> list[str]:
    """`accelerate launch` of this module for one run, across `training.processes` processes."""
    training = study.training
    config = training.accelerate_config_file() if training.accelerate_config else None
    return launch.unit_command(
        study, parameters_file, scale, recipe, seed, LAUNCHED_MODULE, training.processes, config
    )


def launch_training(
    study: StudyParams, parameters_file: str, scale: str, recipe: str, seed: int | None = None
) -> dict:
    """Train in a fresh subprocess under `accelerate launch` (`core.launch`)."""
    launch.run_streamed(launch_command(study, parameters_file, scale, recipe, seed))
    name = units.run_name(study, scale, recipe, seed)
    folder = units.require_complete(units.train_dir(study, scale, recipe, seed), f"training of {name}")
    return files.read_json(folder / "train_metrics.json")


def train_unit(parameters_file: str, scale: str, recipe: str, seed: int | None = None) -> dict:
    """What `02_train` runs: in this process, or under `accelerate launch` for several processes."""
    study = load_study(parameters_file)
    units.check_student(study, scale, recipe, seed)
    if study.training.processes > 1 and not units.is_complete(units.train_dir(study, scale, recipe, seed)):
        return launch_training(study, parameters_file, scale, recipe, seed)
    return train_student(study, scale, recipe, seed)


def run(parameters_file: str, scale: str, recipe: str, seed: int | None = None) -> dict:
    return train_student(load_study(parameters_file), scale, recipe, seed)


def main(argv: list[str] | None = None) -> None:
    args = launch.unit_arguments(LAUNCHED_MODULE, "train one student", argv)
    run(args.parameters_file, args.scale, args.recipe, args.seed)


if __name__ == "__main__":
    main()
