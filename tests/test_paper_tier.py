"""The paper-scale path on tiny local stand-ins: pretrained base students, the paper's schedule,
multi-process launch, the vLLM switch and the dry-run plan of `parameters/paper.yaml`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
import yaml
from huggingface_hub import constants as hub_constants
from transformers import AutoTokenizer, Qwen2ForCausalLM

from conftest import PARAMETERS, paper_like_study
from scale_or_reason import units
from scale_or_reason.config import paths
from scale_or_reason.config.params import ParametersError, TrainingParams, load_study, parse_study
from scale_or_reason.core import files
from scale_or_reason.core.hub import HubUnreachableError
from scale_or_reason.core.thinking import EMPTY_THINK_BLOCK
from scale_or_reason.data import generation
from scale_or_reason.data.tokenizer import TURN_END
from scale_or_reason.evaluation import evaluate
from scale_or_reason.orchestration.estimates import dry_run
from scale_or_reason.training import train
from scale_or_reason.training.students import load_pretrained

PAPER = PARAMETERS / "paper.yaml"
PAPER_MATH = PARAMETERS / "paper-math.yaml"


def test_paper_parameter_files_validate_with_the_paper_settings():
    study = load_study(PAPER)
    assert [s.model for s in study.students.scales.values()] == [
        f"Qwen/Qwen2.5-{size}" for size in ("0.5B", "1.5B", "3B", "7B", "14B")
    ]
    rates = {
        name: (s.learning_rate.reasoning, s.learning_rate.ift) for name, s in study.students.scales.items()
    }
    assert rates == {
        "0.5b": (2e-5, 1e-5),
        "1.5b": (1e-5, 7e-6),
        "3b": (7e-6, 5e-6),
        "7b": (5e-6, 3e-6),
        "14b": (3e-6, 1e-6),
    }
    training = study.training
    assert (training.epochs, training.global_batch_size, training.warmup_steps, training.decay_steps) == (
        1,
        32,
        150,
        300,
    )
    assert training.min_lr_ratio == 0.1 and training.bf16 and training.gradient_checkpointing
    assert (
        study.teacher.decoding.thinking.temperature == 0.6
        and study.teacher.decoding.non_thinking.top_p == 0.8
    )
    assert len(study.benchmarks) == 18 and not study.runner.offline
    assert load_study(PAPER_MATH).teacher.source == "Scale-or-Reason/math-reasoning-ift-pairs"


def test_dry_run_prints_the_plan_without_loading_weights(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # packaged configs only: nothing may be fetched
    report = dry_run(PAPER)
    assert "train:7b-reasoning" in report and "Qwen/Qwen2.5-14B" in report
    assert "gsm8k" in report and "total estimated FLOPs" in report
    assert not list(paths.runs_dir().glob("paper*/train/*"))
    finished = subprocess.run(
        [sys.executable, "-m", "scale_or_reason.cli", "study", str(PAPER), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    assert "evaluate:0.5b-ift" in finished.stdout


def test_the_schedule_is_the_papers_and_shrinks_with_short_runs(tmp_path, base_model_folder):
    study = load_study(PAPER)
    assert train.schedule_steps(study.training, 5000) == (150, 300)
    assert train.schedule_steps(study.training, 90) == (30, 60)  # proportions kept
    ratio_study = load_study(PARAMETERS / "smoke.yaml")
    assert train.schedule_steps(ratio_study.training, 100) == (5, 20)


@pytest.mark.parametrize(("processes", "expected"), [(1, 8), (2, 4), (8, 1)])
def test_gradient_accumulation_follows_the_number_of_devices(processes, expected):
    study = load_study(PAPER)  # global batch 32, 4 per device
    assert study.training.gradient_accumulation(processes) == expected


def test_a_global_batch_that_does_not_divide_is_refused():
    data = yaml.safe_load(PAPER.read_text())
    data["training"]["global_batch_size"] = 30
    with pytest.raises(ParametersError, match=r"global_batch_size \(30\) is not a multiple"):
        parse_study(data, "paper")


def test_a_base_student_stops_at_the_end_of_a_turn(base_model_folder):
    model, tokenizer = load_pretrained(str(base_model_folder), bf16=False)
    end_of_turn = tokenizer.convert_tokens_to_ids(TURN_END)
    assert tokenizer.eos_token == TURN_END
    assert model.config.eos_token_id == end_of_turn == model.generation_config.eos_token_id
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "2+2?"}],
        add_generation_prompt=True,
        tokenize=False,
        enable_thinking=False,
    )
    assert rendered.endswith(EMPTY_THINK_BLOCK)


def test_an_unreachable_hub_model_names_the_offline_alternative(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the variable once, when imported: patch its flag too, or the hub is
    # tried over the network until it times out (46 s here).
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnreachableError, match=r"Offline: .*local folder"):
        load_pretrained("Qwen/Qwen2.5-0.5B-not-cached", bf16=False)


def test_released_pairs_train_a_pretrained_student_with_the_papers_schedule(tmp_path, base_model_folder):
    study = paper_like_study(tmp_path, base_model_folder)
    generation.generate_data(study)
    assert not (units.data_dir(study) / "tokenizer").exists(), "a pretrained student brings its tokenizer"
    metrics = train.train_student(study, "tiny", "reasoning")
    assert metrics["samples"] == 40 and metrics["steps"] == 5  # 40 samples / 8 per optimizer step
    log = units.train_dir(study, "tiny", "reasoning") / "train_log.csv"
    assert log.is_file()
    model_dir = units.train_dir(study, "tiny", "reasoning") / "model"
    saved = AutoTokenizer.from_pretrained(model_dir)
    assert saved.eos_token == TURN_END and (model_dir / "model.safetensors").is_file()
    assert not list(model_dir.glob("*.bin"))


def test_bf16_on_a_machine_without_gpu_is_refused(tmp_path, base_model_folder):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    study = paper_like_study(tmp_path, base_model_folder, bf16=True)
    with pytest.raises(ParametersError, match="bf16 needs a GPU"):
        train.sft_config(study, "tiny", "ift", tmp_path, 10)


@pytest.mark.parametrize("name", ["fsdp", "zero3"])
def test_accelerate_configs_load_and_the_launch_command_uses_them(tmp_path, base_model_folder, name):
    from accelerate.commands.config.config_args import ClusterConfig

    file = TrainingParams(accelerate_config=name).accelerate_config_file()
    config = ClusterConfig.from_yaml_file(file)
    assert config.distributed_type.value == {"fsdp": "FSDP", "zero3": "DEEPSPEED"}[name]
    study = paper_like_study(
        tmp_path, base_model_folder, processes=2, accelerate_config=name, global_batch_size=8
    )
    command = train.launch_command(study, "p.yaml", "tiny", "ift")
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    assert command[command.index("--config_file") + 1] == str(file)
    assert command[command.index("--num_processes") + 1] == "2"
    assert command[-5:] == [
        "-m",
        "scale_or_reason.training.train",
        str(paths.resolve("p.yaml")),
        "tiny",
        "ift",
    ]


def test_an_unknown_accelerate_config_is_named():
    with pytest.raises(ParametersError, match=r"no file .*nope\.yaml .*fsdp, zero3"):
        TrainingParams(accelerate_config="nope.yaml").accelerate_config_file()


def test_the_vllm_evaluation_backend_says_what_it_needs(tmp_path, base_model_folder):
    pytest.importorskip("lm_eval")
    try:
        import vllm  # noqa: F401

        pytest.skip("vLLM is installed here")
    except ImportError:
        pass
    data = yaml.safe_load(PAPER.read_text())
    data["evaluation"]["backend"] = "vllm"
    study = parse_study(data, "paper")
    with pytest.raises(ModuleNotFoundError, match="pip install vllm"):
        evaluate.lm_eval_model(study, base_model_folder, "reasoning")


def test_the_plan_charges_an_llm_teacher_for_both_answers(tmp_path):
    data = yaml.safe_load(PAPER.read_text())
    data["teacher"].update(kind="vllm", model="Qwen/Qwen3-235B-A22B")
    file = tmp_path / "paper-vllm.yaml"
    file.write_text(yaml.safe_dump(data))
    assert "mean token lengths unknown (set estimates.*)" in dry_run(file)  # its answers' lengths
    data["estimates"].update(ift_tokens=400, reasoning_tokens=4000)
    file.write_text(yaml.safe_dump(data))
    report = dry_run(file)
    assert "answer lengths assumed (estimates)" in report
    generate_row = next(line for line in report.splitlines() if line.strip().startswith("generate:data"))
    hours = r"[0-9,]+\.\d\d"
    assert re.search(rf"Qwen/Qwen3-235B-A22B\s+—\s+[0-9.]+e\+\d+\s+{hours}\s+{hours}$", generate_row), (
        generate_row
    )
    assert "GPU-hours at" in report and "generate 0," not in report


def test_weights_load_from_safetensors_only(tmp_path, base_model_folder):
    import shutil

    pickled = tmp_path / "pickled"
    shutil.copytree(base_model_folder, pickled)
    model = Qwen2ForCausalLM.from_pretrained(pickled)
    (pickled / "model.safetensors").unlink()
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")  # a pickle, the only weights left
    assert (pickled / "pytorch_model.bin").is_file()
    with pytest.raises(OSError, match="safetensors"):
        load_pretrained(str(pickled), bf16=False)
    assert load_study(PAPER).trust_remote_code is False


def test_launch_trains_in_a_subprocess_and_streams_its_log(
    tmp_path, base_model_folder, capsys, isolated_runs
):
    """The multi-process path as 02_train takes it, with one process: this machine has no GPUs."""
    study = paper_like_study(tmp_path, base_model_folder)
    params_file = tmp_path / "paper-like.yaml"
    params_file.write_text(yaml.safe_dump(study.model_dump(mode="json")))
    generation.generate_data(study)
    metrics = train.launch_training(study, str(params_file), "tiny", "ift")
    shown = capsys.readouterr().out
    assert shown.startswith("$ ") and "accelerate.commands.launch" in shown.splitlines()[0]
    assert "train_runtime" in shown, "the subprocess's training log was not streamed"
    assert metrics["recipe"] == "ift" and units.is_complete(units.train_dir(study, "tiny", "ift"))


@pytest.mark.slow
def test_a_llama_student_is_counted_from_its_config_and_evaluated_as_it_was_trained(
    tmp_path, small_tokenizer
):
    from transformers import LlamaConfig, LlamaForCausalLM

    from scale_or_reason.core import flops
    from scale_or_reason.core.model_configs import model_config

    folder = tmp_path / "tiny-llama"
    small_tokenizer.save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = None
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=40, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    data = paper_like_study(tmp_path, folder).model_dump(mode="json")
    data["students"]["scales"] = {"llama": data["students"]["scales"]["tiny"]}
    data["teacher"] = {
        "kind": "synthetic",
        "families": ["math_oe"],
        "train_per_family": 40,
        "test_per_family": 6,
    }
    data["benchmarks"] = [{"name": "math_oe", "family": "math_oe"}]
    data["evaluation"] = {"backend": "hf", "batch_size": 6, "max_gen_toks": 16}
    study = parse_study(data, "llama")
    generation.generate_data(study)
    metrics = train.train_student(study, "llama", "reasoning")
    arch = flops.architecture(model_config(str(folder)))
    assert metrics["params"] == flops.parameter_counts(arch)["total"]
    scored = evaluate.evaluate_student(study, "llama", "reasoning")
    assert scored["inference_flops_exact"].iloc[0] > 0
    trained = AutoTokenizer.from_pretrained(units.train_dir(study, "llama", "reasoning") / "model")
    (first, *_) = files.read_jsonl(units.eval_dir(study, "llama", "reasoning") / "samples" / "math_oe.jsonl")
    (asked, *_) = files.read_jsonl(units.data_dir(study) / "benchmarks" / "math_oe.jsonl")
    rendered = trained.apply_chat_template(
        [{"role": "user", "content": asked["prompt"]}], add_generation_prompt=True, tokenize=False
    )
    assert first["question"] == rendered  # the template the student was trained under
