"""Shared fixtures: every test writes runs and caches under its own temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

# NumPy's BLAS on one thread, as the study's kernels run (OMP_NUM_THREADS): the bootstrap's small
# matrix products spun two threads against each other, 3x slower on a busy 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest

from scale_or_reason.config.params import load_study

REPO = Path(__file__).resolve().parents[1]  # this checkout: the project of its own studies
PARAMETERS = REPO / "parameters"
SMOKE = PARAMETERS / "smoke.yaml"


@pytest.fixture(autouse=True)
def isolated_runs(tmp_path_factory, monkeypatch) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    monkeypatch.setenv("SOR_RUNS_DIR", str(runs))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(runs / ".cache" / "datasets"))
    monkeypatch.setenv("MPLCONFIGDIR", str(runs / ".cache" / "matplotlib"))
    return runs


@pytest.fixture
def smoke_study():
    return load_study(SMOKE)


@pytest.fixture(scope="session")
def small_tokenizer():
    from scale_or_reason.config.families import FAMILIES
    from scale_or_reason.data.teachers import synthetic_pairs
    from scale_or_reason.data.tokenizer import build_tokenizer, tokenizer_corpus

    rows = [row for family in FAMILIES for row in synthetic_pairs(family, "train", 200, 0)]
    return build_tokenizer(tokenizer_corpus(rows), 400)


def run_sor(*args, runs_dir, timeout=600, **popen):
    """`sor ARGS` in a subprocess writing under `runs_dir`, offline, from the repository root."""
    import subprocess
    import sys

    env = dict(os.environ, SOR_RUNS_DIR=str(runs_dir), HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "scale_or_reason.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def red_outputs(notebook_path: Path) -> list[str]:
    """What JupyterLab would show in a red box in an executed notebook: errors and stderr text."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    return [
        output.get("ename") or output.get("text", "")
        for output in outputs
        if output.output_type == "error" or (output.output_type == "stream" and output.name == "stderr")
    ]


@pytest.fixture(scope="session")
def smoke_reference(tmp_path_factory) -> Path:
    """The smoke study run once, uninterrupted, for the tests that compare against it: once per
    session, shared by pytest-xdist's workers (the first to ask runs it, the others wait)."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's folder sits in the session's; alone, the session's folder is its own.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    runs = shared / "smoke-reference"
    with FileLock(str(shared / "smoke-reference.lock")):
        if not (runs / "finished").is_file():
            finished = run_sor("study", "parameters/smoke.yaml", runs_dir=runs)
            assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
            (runs / "finished").write_text("")
    return runs


def pytest_collection_modifyitems(config, items):
    """Files with slow tests first: pytest-xdist hands out whole files in this order, so the long
    end-to-end runs start at once and the quick files fill the gaps, not the other way round."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


def pytest_configure(config):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# --- the paper-scale path on stand-ins ---------------------------------------------------------


@pytest.fixture(scope="session")
def base_model_folder(tmp_path_factory, small_tokenizer):
    """A tiny 'pretrained base' Qwen2 model as the hub would ship it: no chat template of ours,
    end-of-text as its EOS (so it would never stop at the end of a turn)."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    folder = tmp_path_factory.mktemp("tiny-base")
    tokenizer = AutoTokenizer.from_pretrained(_save_tokenizer(small_tokenizer, folder))
    tokenizer.chat_template = None
    tokenizer.eos_token = "<|endoftext|>"
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _save_tokenizer(tokenizer, folder):
    tokenizer.save_pretrained(folder)
    return folder


def released_file(folder, rows=48):
    import json

    from scale_or_reason.data.tasks import FAMILIES
    from scale_or_reason.data.teachers import synthetic_pairs

    pairs = [row for family in FAMILIES for row in synthetic_pairs(family, "train", rows // len(FAMILIES), 1)]
    path = folder / "pairs.jsonl"
    path.write_text(
        "".join(json.dumps({k: row[k] for k in ("prompt", "reasoning", "ift")}) + "\n" for row in pairs)
    )
    return path


def paper_like_study(tmp_path, base_model_folder, **training):
    """paper.yaml's shape, scaled down: released pairs from a local file, a local base student."""
    import yaml

    from scale_or_reason.config.params import parse_study

    data = yaml.safe_load((PARAMETERS / "paper.yaml").read_text())
    data["study"] = "paper-like"
    data["teacher"] = {"kind": "released", "source": str(released_file(tmp_path)), "limit": 40}
    data["students"]["scales"] = {
        "tiny": {"model": str(base_model_folder), "learning_rate": {"ift": 1e-3, "reasoning": 1e-3}}
    }
    data["curricula"] = {"recipes": [], "scales": []}
    data["training"].update(
        {
            "batch_size": 4,
            "global_batch_size": 8,
            "processes": 1,
            "accelerate_config": None,
            "bf16": False,
            "gradient_checkpointing": False,
            "warmup_steps": 2,
            "decay_steps": 3,
            **training,
        }
    )
    data["runner"] = {"offline": True}
    return parse_study(data, "paper-like")
