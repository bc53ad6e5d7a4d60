"""Stage 2: fine-tune one student on one recipe with TRL's `SFTTrainer`.

    papermill notebooks/02_train.ipynb out.ipynb -p parameters_file parameters/embedded.yaml \\
        -p scale xs -p recipe reasoning
    # or, without Jupyter:
    python -c "from scale_or_reason import train; train.run('parameters/embedded.yaml', 'xs', 'ift')"

Writes into the unit's folder: `model/` (safetensors weights, config and tokenizer), `train_log.csv`
(the trainer's log history) and `train_metrics.json` (real token counts, training FLOPs by the
paper's formula and exactly, and the run's model FLOPs utilisation against the machine's measured
matmul peak).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from transformers import PreTrainedTokenizerBase, Trainer
from trl import SFTConfig, SFTTrainer

from . import flops, machine, store
from .generate import load_pairs
from .params import StudyParams, load_study
from .recipes import recipe_rows, training_order
from .students import build_student, count_parameters, student_config
from .tokenizer import load_tokenizer

MAX_POSITIONS = 2048
IGNORED_LABEL = -100  # TRL labels prompt tokens with it: they carry no loss


class TruncationError(ValueError):
    """A training sequence would not fit: its end (which holds the answer) would be cut."""


class SmallVocabSFTTrainer(SFTTrainer):
    """TRL's trainer with the model's own loss, for students whose whole vocabulary is small.

    TRL 1.16 always projects through a chunked, fused LM head, built so that a 150k-token
    vocabulary's logits are never materialised. With the embedded tokenizer's 512 tokens the full
    logits are tiny and the tile loop is pure overhead: the model's own loss (the same token-summed
    negative log-likelihood over the completion, divided by the batch's completion tokens) trained
    the 9k-parameter student 2.6x and the 231k one 1.35x faster, to the same loss. Only TRL's
    logged entropy and token accuracy are lost.
    """

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)


def sft_config(study: StudyParams, scale: str, recipe: str, output_dir: Path, steps: int) -> SFTConfig:
    training = study.training
    return SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=1,  # the recipe lays every epoch out in the rows, in training order
        per_device_train_batch_size=training.batch_size,
        learning_rate=study.learning_rate(scale, recipe),
        lr_scheduler_type="warmup_stable_decay",
        warmup_steps=round(training.warmup_ratio * steps),
        lr_scheduler_kwargs={
            "num_decay_steps": round(training.decay_ratio * steps),
            "min_lr_ratio": training.min_lr_ratio,
        },
        weight_decay=training.weight_decay,
        adam_beta2=training.adam_beta2,
        # Never let TRL's default (1024) cut a trace: lengths are checked against the parameter.
        max_length=None,
        # The rows come in the recipe's order (shuffled per epoch, or IFT-then-reasoning). Grouping
        # by length would make batches of one family each, which slowed learning several-fold in
        # our measurements; packing is correct but slower on CPU.
        train_sampling_strategy="sequential",
        use_cpu=not torch.cuda.is_available(),
        bf16=False,
        activation_checkpointing=False,
        seed=study.seed,
        data_seed=study.seed,
        logging_steps=max(1, steps // 50),
        save_strategy="no",
        report_to="none",
        dataloader_num_workers=0,
    )


def check_lengths(dataset, eos_id: int, max_length: int | None) -> list[int]:
    """Real lengths of the tokenized rows; refuses rows that are too long or lost their end."""
    lengths = []
    for row_id, input_ids, labels in zip(dataset["id"], dataset["input_ids"], dataset["labels"]):
        completion = [label for label in labels if label != IGNORED_LABEL]
        if eos_id not in completion:
            raise TruncationError(f"training row {row_id}: the completion lost its end-of-turn token")
        if max_length is not None and len(input_ids) > max_length:
            raise TruncationError(
                f"training row {row_id} has {len(input_ids)} tokens, more than "
                f"training.max_length={max_length}: raise it or leave it unset"
            )
        lengths.append(len(input_ids))
    return lengths


def train_student(study: StudyParams, scale: str, recipe: str) -> dict:
    """Train (or find already trained) the student `scale` on `recipe`; returns its metrics."""
    study.check_student(scale, recipe)
    folder = store.train_dir(study, scale, recipe)
    if store.is_complete(folder):
        return store.read_json(folder / "train_metrics.json")
    data_folder = store.require_complete(store.data_dir(study), "generation")
    torch.set_num_threads(study.training.threads)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(data_folder / "tokenizer")
    pairs = load_pairs(data_folder)
    rows = recipe_rows(pairs, recipe, study.seed)
    order = training_order(recipe, rows, study.training.epochs, study.seed)
    model = build_student(student_config(study.students.scales[scale], tokenizer, MAX_POSITIONS), study.seed)
    steps = -(-len(order) // study.training.batch_size)
    trainer = SmallVocabSFTTrainer(
        model=model,
        args=sft_config(study, scale, recipe, folder / "trainer", steps),
        train_dataset=rows,
        processing_class=tokenizer,
    )
    # Each distinct row is tokenized once; the trainer then reads them in the recipe's order.
    trainer.train_dataset = trainer.train_dataset.select(order)
    examples = rows.select(order)
    lengths = check_lengths(trainer.train_dataset, tokenizer.eos_token_id, study.training.max_length)
    result = trainer.train()
    metrics = _metrics(study, scale, recipe, model, trainer, examples, lengths, result)
    _save(folder, trainer, tokenizer, metrics)
    return metrics


def _metrics(study, scale, recipe, model, trainer, examples, lengths, result) -> dict:
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
        "samples": len(set(examples["id"])),
        "rows": len(lengths),
        "reasoning_rows": list(examples["format"]).count("reasoning"),
        "epochs": study.training.epochs,
        "learning_rate": study.learning_rate(scale, recipe),
        "steps": trainer.state.global_step,
        "train_tokens": train_tokens,
        "train_completion_tokens": sum(
            sum(label != IGNORED_LABEL for label in labels) for labels in trainer.train_dataset["labels"]
        ),
        "train_flops_paper": flops.training_flops(arch, lengths),
        "train_flops_exact": train_flops_exact,
        "max_length": max(lengths),
        "train_seconds": train_seconds,
        "tokens_per_second": train_tokens / train_seconds,
        "peak_flops_per_second": peak,
        "mfu": machine.model_flops_utilisation(train_flops_exact, train_seconds, peak),
        "final_loss": result.training_loss,
    }


def _save(folder: Path, trainer: SFTTrainer, tokenizer: PreTrainedTokenizerBase, metrics: dict) -> None:
    def save_checkpoint(tmp: Path) -> None:
        trainer.model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    store.write_atomic(folder / "model", save_checkpoint)
    log = pd.DataFrame(trainer.state.log_history)
    store.write_atomic(folder / "train_log.csv", lambda tmp: log.to_csv(tmp, index=False))
    store.write_json(folder / "train_metrics.json", metrics)
    store.mark_complete(folder, params=metrics["params"], train_flops_exact=metrics["train_flops_exact"])


def run(parameters_file: str, scale: str, recipe: str) -> dict:
    return train_student(load_study(parameters_file), scale, recipe)
