"""Same parameters and seed, same results: the smoke study run twice in two runs folders agrees
byte for byte on its data and exactly on the tiny student's training and evaluation; another seed
draws other data.

The stages are called directly (no papermill), once per runs folder, for the `tiny` student's
IFT recipe: the cheapest unit of each stage.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from conftest import PARAMETERS as PARAMETERS_DIR
from scale_or_reason import units
from scale_or_reason.config.params import load_study
from scale_or_reason.data import generation
from scale_or_reason.evaluation import evaluate
from scale_or_reason.training import train

SCALE, RECIPE = "tiny", "ift"
# Measured on the clock, not computed from the data: they differ between any two runs.
WALL_CLOCK = {"train_seconds", "tokens_per_second", "mfu", "peak_flops_per_second"}


def run_stages(study, runs) -> dict:
    """Generate, train and evaluate in `runs`; the folders and metrics each stage left there."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOR_RUNS_DIR", str(runs))
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("HF_DATASETS_CACHE", str(runs / ".cache" / "datasets"))
        generation.generate_data(study)
        train_metrics = train.train_student(study, SCALE, RECIPE)
        eval_metrics = evaluate.evaluate_student(study, SCALE, RECIPE)
        return {
            "data": units.data_dir(study),
            "model": units.train_dir(study, SCALE, RECIPE) / "model",
            "evaluation": units.eval_dir(study, SCALE, RECIPE),
            "train_metrics": train_metrics,
            "eval_metrics": eval_metrics,
        }


@pytest.fixture(scope="module")
def smoke():
    return load_study(PARAMETERS_DIR / "smoke.yaml")


@pytest.fixture(scope="module")
def two_runs(smoke, tmp_path_factory) -> tuple[dict, dict]:
    threads = torch.get_num_threads()
    try:
        return tuple(run_stages(smoke, tmp_path_factory.mktemp(f"runs-{n}")) for n in (1, 2))
    finally:
        torch.set_num_threads(threads)  # the stages set their own thread budget


def data_files(folder) -> dict[str, bytes]:
    """Every file the generation wrote that later stages read, by its path inside the folder."""
    patterns = ("pairs/train.jsonl", "benchmarks/*.jsonl", "tokenizer/*")
    return {
        str(f.relative_to(folder)): f.read_bytes()
        for pattern in patterns
        for f in sorted(folder.glob(pattern))
    }


def test_generated_data_is_byte_identical(two_runs):
    first, second = (data_files(run["data"]) for run in two_runs)
    assert "pairs/train.jsonl" in first and "tokenizer/tokenizer.json" in first
    assert len([name for name in first if name.startswith("benchmarks/")]) == 5
    assert first.keys() == second.keys()
    differing = [name for name in first if first[name] != second[name]]
    assert not differing, f"differ between the two runs: {differing}"


def test_training_metrics_and_weights_are_identical(two_runs):
    first, second = (
        {k: v for k, v in run["train_metrics"].items() if k not in WALL_CLOCK} for run in two_runs
    )
    assert first["steps"] > 0
    assert first == second, {
        key: (first[key], second.get(key)) for key in first if first[key] != second.get(key)
    }
    weights = [load_file(run["model"] / "model.safetensors") for run in two_runs]
    assert weights[0].keys() == weights[1].keys()
    differing = [name for name in weights[0] if not torch.equal(weights[0][name], weights[1][name])]
    assert not differing, f"weights differ between the two runs: {differing}"


def test_evaluation_metrics_are_identical(two_runs):
    first, second = (run["eval_metrics"] for run in two_runs)
    assert len(first) == 5
    assert first.equals(second), f"\n{first}\n{second}"
    responses = [
        {f.name: f.read_bytes() for f in (run["evaluation"] / "samples").glob("*.jsonl")} for run in two_runs
    ]
    assert len(responses[0]) == 5 and responses[0] == responses[1]


def test_another_seed_draws_other_data(smoke, two_runs, tmp_path):
    reseeded = smoke.model_copy(update={"seed": 1})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOR_RUNS_DIR", str(tmp_path))
        generation.generate_data(reseeded)
        folder = units.data_dir(reseeded)
    same_seed = data_files(two_runs[0]["data"])
    other_seed = data_files(folder)
    assert other_seed["pairs/train.jsonl"] != same_seed["pairs/train.jsonl"]
    assert other_seed["benchmarks/math_oe.jsonl"] != same_seed["benchmarks/math_oe.jsonl"]
