"""The multi-process training path run for real: two CPU processes (DDP over gloo, the packaged
`ddp` launch config) through the project's own `accelerate launch` command, on a Qwen2-architecture
stand-in. FSDP needs CUDA in the installed accelerate (on CPU it falls back to DDP), so the GPU
configs are checked as command lines (`test_paper_tier`) and run here as DDP."""

from __future__ import annotations

import shutil
import subprocess
import textwrap

import pandas as pd
import pytest
import yaml
from safetensors.torch import load_file

from conftest import REPO, paper_like_study
from scale_or_reason import units
from scale_or_reason.config import paths
from scale_or_reason.config.params import parse_study
from scale_or_reason.core import files
from scale_or_reason.data import generation
from scale_or_reason.evaluation import evaluate
from scale_or_reason.training import train

pytestmark = pytest.mark.slow

# 40 rows, 8 a step: 5 optimizer steps, a resumable checkpoint every 2.
SETTINGS = {"batch_size": 2, "global_batch_size": 8, "checkpoint_steps": 2}

KILL_AT_STEP_3 = textwrap.dedent(
    """
    import os, signal, sys
    from transformers import TrainerCallback
    from trl import SFTTrainer
    from scale_or_reason.training import train

    class KillAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3 and state.is_world_process_zero:
                os.kill(os.getpid(), signal.SIGKILL)

    original = SFTTrainer.__init__
    def with_kill(self, *a, **k):
        original(self, *a, **k)
        self.add_callback(KillAt())
    SFTTrainer.__init__ = with_kill
    train.main(sys.argv[1:])
    """
)


def study_file(study, folder):
    file = folder / f"{study.study}.yaml"
    file.write_text(yaml.safe_dump(study.model_dump(mode="json")))
    return str(file)


def trained(study, scale="tiny", recipe="ift"):
    folder = units.train_dir(study, scale, recipe)
    losses = pd.read_csv(folder / "train_log.csv")["loss"].dropna().to_list()
    return (
        losses,
        load_file(folder / "model" / "model.safetensors"),
        sorted(p.name for p in (folder / "model").iterdir()),
    )


def test_two_processes_train_as_one_does_on_the_same_global_batch_and_resume(
    tmp_path, base_model_folder, isolated_runs, capsys, monkeypatch
):
    one = paper_like_study(tmp_path, base_model_folder, processes=1, **SETTINGS)
    two = paper_like_study(tmp_path, base_model_folder, processes=2, accelerate_config="ddp", **SETTINGS)
    generation.generate_data(one)
    train.train_student(one, "tiny", "ift")
    two_file = study_file(two, tmp_path)
    train.launch_training(two, two_file, "tiny", "ift")
    assert "optimizer steps across 2 processes" in capsys.readouterr().out

    one_losses, one_weights, one_files = trained(one)
    two_losses, two_weights, two_files = trained(two)
    assert len(two_losses) == len(one_losses) == 5
    # Gradient accumulation over 4 micro-batches in one process, 2 × 2 across two: the same sums
    # in another order, so the same run to float32 rounding.
    assert two_losses == pytest.approx(one_losses, rel=1e-5)
    assert two_weights.keys() == one_weights.keys()
    for name, weight in two_weights.items():
        assert (weight - one_weights[name]).abs().max() < 1e-5, name
    assert two_files == one_files  # the checkpoint saved once, by the main process

    # Killed after its step-2 checkpoint, then launched again: it resumes there, to the same weights.
    monkeypatch.setenv("SOR_RUNS_DIR", str(tmp_path / "killed"))
    generation.generate_data(two)
    script = tmp_path / "kill_at_step_3.py"
    script.write_text(KILL_AT_STEP_3)
    command = train.launch_command(two, two_file, "tiny", "ift")
    module = command.index("-m", 3)
    command[module : module + 2] = [str(script)]
    killed = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=paths.project_dir())
    assert killed.returncode != 0
    folder = units.train_dir(two, "tiny", "ift")
    assert not units.is_complete(folder)
    assert [p.name for p in (folder / units.CHECKPOINTS).glob("checkpoint-*")] == ["checkpoint-2"]
    units.reset(folder, keep=(units.CHECKPOINTS,))  # what the runner does to an unfinished unit
    train.launch_training(two, two_file, "tiny", "ift")
    assert f"resuming from {folder / units.CHECKPOINTS / 'checkpoint-2'}" in capsys.readouterr().out
    resumed_losses, resumed_weights, _ = trained(two)
    assert resumed_losses[-3:] == pytest.approx(two_losses[-3:], rel=1e-5)
    for name, weight in resumed_weights.items():
        assert (weight - two_weights[name]).abs().max() < 1e-5, name


OWN_TASKS = REPO / "tests" / "fixtures" / "own_tasks"


def test_two_processes_evaluate_as_one_does(tmp_path, base_model_folder, capsys):
    """`evaluation.processes: 2` through `03_evaluate`'s entry point: each gloo process generates a
    share of every benchmark (7 items: uneven shares, so lm-eval pads one), the first gathers them;
    the unit holds what one process writes, raw responses of an lm-eval task included."""
    shutil.copytree(OWN_TASKS, tmp_path / "my-tasks")
    data = paper_like_study(tmp_path, base_model_folder).model_dump(mode="json")
    data["teacher"] = {
        "kind": "synthetic",
        "families": ["math_oe"],
        "train_per_family": 40,
        "test_per_family": 7,
    }
    data["benchmarks"] = [
        {"name": "math_oe", "family": "math_oe"},
        {
            "name": "doubling",
            "task": "doubling",
            "include_path": str(tmp_path / "my-tasks"),
            "group": "math_oe",
        },
    ]
    # One item a batch: no padding, so greedy decoding is the same computation in either split.
    data["evaluation"] = {"backend": "hf", "batch_size": 1, "max_gen_toks": 16}
    one = parse_study(data, "paper-like")
    two = parse_study({**data, "evaluation": {**data["evaluation"], "processes": 2}}, "paper-like")
    generation.generate_data(one)
    train.train_student(one, "tiny", "reasoning")
    assert units.is_complete(units.train_dir(two, "tiny", "reasoning"))  # evaluation settings only
    single = evaluate.evaluate_student(one, "tiny", "reasoning")
    capsys.readouterr()

    split = evaluate.evaluate_unit(study_file(two, tmp_path), "tiny", "reasoning")
    launched = capsys.readouterr().out.splitlines()[0]
    assert "accelerate.commands.launch --num_processes 2" in launched and "ddp.yaml" in launched
    folder, single_folder = (units.eval_dir(s, "tiny", "reasoning") for s in (two, one))
    assert folder != single_folder
    assert files.read_json(folder / units.COMPLETE)["processes"] == 2
    pd.testing.assert_frame_equal(split, single)
    for benchmark, items in (("math_oe", 7), ("doubling", 6)):
        records = files.read_jsonl(folder / "samples" / f"{benchmark}.jsonl")
        assert records == files.read_jsonl(single_folder / "samples" / f"{benchmark}.jsonl")
        assert len(records) == items
