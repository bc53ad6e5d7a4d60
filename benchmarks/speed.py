"""Where the time of a study goes, per student size: a training step and an evaluation.

    .venv/bin/python benchmarks/speed.py [parameters/embedded.yaml] [--steps 150] [--items 50]

For each scale of the study, on its reasoning rows (the longer format) and its own batch size:

- `trainer_ms`: the project's training path (TRL's SFTTrainer as `training.train` builds it),
  median milliseconds per optimizer step after a warm-up, and `tokens_per_s` (real tokens);
- `bare_ms`: a bare PyTorch loop (forward, backward, clipping, AdamW) on the same model and the
  trainer's own batches: what is left is the model's own cost;
- `padded_ms`: the same loop on the same rows padded to each batch's longest (TRL's own
  collator) instead of packed (`training.packing`): what packing saves;
- `mfu`: exact training FLOPs per trainer step over the step's time and this machine's measured
  single-thread matmul peak (`core.machine`);
- `prepare_s`: the seconds spent preparing (tokenizing) the rows before the first step, as a
  training unit does (`training/prepared.py`);
- `eval_items_per_s`, `gen_tokens`: lm-eval through the project's evaluation path on `--items`
  items of every benchmark, with the trained-for-`--steps` student (it may not stop where a
  trained one does: `gen_tokens` is what it generated per item).

Threads: one, as the study's units use. Nothing is written outside a temporary folder (the study's
data is generated there). Compare two versions of the code by running this script on both.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from transformers import TrainerCallback
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from scale_or_reason import units
from scale_or_reason.config.params import load_study
from scale_or_reason.core import flops, machine
from scale_or_reason.data import generation
from scale_or_reason.data.sft_rows import training_order
from scale_or_reason.evaluation import evaluate
from scale_or_reason.training import train
from scale_or_reason.training.students import count_parameters

WARMUP = 10  # steps left out of the medians (or half of a shorter run)


def steady(times: list[float]) -> float:
    """The median of `times` after the warm-up."""
    return statistics.median(times[min(WARMUP, len(times) // 2) :])


class StepTimes(TrainerCallback):
    """Wall time of every optimizer step."""

    def __init__(self):
        self.times, self._start = [], 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._start)


def bare_loop(model, batches, learning_rate: float) -> float:
    """Median seconds of forward, backward, clipping and an AdamW step on `batches`."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    times = []
    for batch in batches:
        start = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return steady(times)


def measure_training(study, scale: str, steps: int, peak: float) -> tuple[dict, object, object]:
    data_folder = units.data_dir(study)
    recipe, seed = "reasoning", study.seed
    rows, _ = train.training_rows(study, data_folder, recipe)
    order = training_order(recipe, rows, study.training.epochs, seed)
    model, tokenizer = train.student_and_tokenizer(study, scale, data_folder, seed)
    args = train.sft_config(study, scale, recipe, Path(tempfile.mkdtemp()), steps, seed)
    args.max_steps = steps
    timer = StepTimes()
    start = time.perf_counter()
    trainer = train.build_trainer(study, scale, model, tokenizer, rows, args)  # rows prepared as a unit does
    trainer.add_callback(timer)
    prepare = time.perf_counter() - start
    used = order[: steps * study.training.samples_per_step]
    trainer.train_dataset = trainer.train_dataset.select(used)
    trainer.train()
    step = steady(timer.times)
    steps = len(timer.times)  # fewer than asked when the rows run out
    lengths = train.token_counts(trainer.train_dataset, tokenizer.eos_token_id, None)[0].tolist()
    per_step_tokens = sum(lengths) / steps
    arch = flops.architecture(model.config)
    per_step_flops = flops.exact_training_flops(arch, lengths) / steps
    batches = list(trainer.get_train_dataloader())
    learning_rate = study.learning_rate(scale, recipe)
    bare = bare_loop(train.student_and_tokenizer(study, scale, data_folder, seed)[0], batches, learning_rate)
    trainer.data_collator = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)
    padded_batches = list(trainer.get_train_dataloader())
    fresh = train.student_and_tokenizer(study, scale, data_folder, seed)[0]
    fresh.config.use_cache = False  # as the trainer sets it
    padded = bare_loop(fresh, padded_batches, learning_rate)
    row = {
        "scale": scale,
        "params": count_parameters(model),
        "trainer_ms": 1000 * step,
        "bare_ms": 1000 * bare,
        "padded_ms": 1000 * padded,
        "tokens_per_s": per_step_tokens / step,
        "mfu": per_step_flops / step / peak,
        "prepare_s": prepare,
    }
    return row, model, tokenizer


def measure_evaluation(study, model, tokenizer, items: int) -> dict:
    folder = Path(tempfile.mkdtemp())
    model.save_pretrained(folder / "model")
    tokenizer.save_pretrained(folder / "model")
    data_folder = units.data_dir(study)
    cap = evaluate.max_gen_toks(study, data_folder)
    names = evaluate.write_task_yamls(study, data_folder, folder / "tasks", cap)
    limited = study.model_copy(update={"evaluation": study.evaluation.model_copy(update={"limit": items})})
    lm = evaluate.lm_eval_model(limited, folder / "model", "reasoning")
    start = time.perf_counter()
    results = evaluate.run_lm_eval(limited, lm, folder / "tasks", list(names.values()))
    seconds = time.perf_counter() - start
    responses = [s["resps"][0][0] for samples in results["samples"].values() for s in samples]
    generated = [len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in responses]
    return {"eval_items_per_s": len(responses) / seconds, "gen_tokens": statistics.mean(generated)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parameters", nargs="?", default="parameters/embedded.yaml")
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps timed per scale")
    parser.add_argument("--items", type=int, default=50, help="items of each benchmark evaluated")
    parser.add_argument("--scales", nargs="*", help="only these scales (default: all)")
    args = parser.parse_args(argv)
    os.environ.setdefault("SOR_RUNS_DIR", tempfile.mkdtemp(prefix="sor-speed-"))
    os.environ["HF_HUB_OFFLINE"] = "1"
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    torch.set_num_threads(1)
    study = load_study(args.parameters)
    generation.generate_data(study)
    peak = machine.peak_flops("cpu", torch.float32, 1)
    rows = []
    for scale in args.scales or list(study.students.scales):
        row, model, tokenizer = measure_training(study, scale, args.steps, peak)
        row.update(measure_evaluation(study, model, tokenizer, args.items))
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, float_format=lambda v: f"{v:.3g}"), file=sys.stderr)
    table = pd.DataFrame(rows)
    print(f"\n{study.study}: batch {study.training.batch_size}, one thread, peak {peak / 1e9:.0f} GFLOP/s")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
