"""`sor doctor`: the machine against a study (packages, devices, memory, disk, sources) and the
smoke test through the project's own training and evaluation code."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from transformers import Qwen2Config

from conftest import PARAMETERS, run_sor
from scale_or_reason.cli import main
from scale_or_reason.config.params import parse_study
from scale_or_reason.core import flops, machine, memory
from scale_or_reason.core.model_configs import model_config
from scale_or_reason.orchestration import doctor
from scale_or_reason.orchestration.estimates import dry_run
from scale_or_reason.orchestration.smoke import run_smoke

PAPER = PARAMETERS / "paper.yaml"
EMBEDDED = PARAMETERS / "embedded.yaml"
GIB = memory.GIB


def gpu(name: str, gib: float) -> machine.Device:
    return machine.Device("cuda", name, int(gib * GIB), int(gib * GIB), bf16=True)


def paper_study(tmp_path, **training):
    """paper.yaml with some training settings changed, written to a file (the disk check plans it).
    Rows of 4,150 tokens unless `max_length` is given: the memory figures below are rebuilt at it."""
    data = yaml.safe_load(PAPER.read_text())
    data["training"].update({"max_length": 4150, **training})
    file = tmp_path / "paper.yaml"
    file.write_text(yaml.safe_dump(data))
    return parse_study(data, "paper"), file


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    """The hub probe answers 'unreachable' at once, as it does on a machine without network."""
    monkeypatch.setattr(doctor, "hub_reachable", lambda endpoint: False)


def by_area(checks, area, status=None):
    return [c for c in checks if c.area == area and (status is None or c.status == status)]


# --- the memory estimates, against numbers anyone can rebuild ---------------------------------


def test_bf16_training_state_is_eight_bytes_a_parameter_and_shards_divide_it():
    arch = flops.architecture(model_config("Qwen/Qwen2.5-7B"))
    params = flops.parameter_counts(arch)["total"]
    assert 7.6e9 < params < 7.7e9  # Qwen2.5-7B's model card: 7.61B
    settings = {"batch_size": 1, "sequence": 1, "checkpointing": True}
    bf16 = memory.training_memory(arch, bf16=True, **settings)
    assert bf16.weights + bf16.gradients + bf16.optimizer == 8 * params
    fp32 = memory.training_memory(arch, bf16=False, **settings)
    assert fp32.weights + fp32.gradients + fp32.optimizer == 16 * params
    sharded = memory.training_memory(arch, bf16=True, shards=8, **settings)
    assert sharded.weights + sharded.gradients + sharded.optimizer == 8 * params / 8
    assert sharded.gathered_layer > 0 and bf16.gathered_layer == 0


def test_checkpointing_keeps_one_layer_input_and_a_full_head_costs_its_logits():
    arch = flops.architecture(model_config("Qwen/Qwen2.5-0.5B"))
    tokens = 4 * 4096
    full = memory.activation_bytes(arch, tokens, bf16=True, checkpointing=False)
    kept = memory.activation_bytes(arch, tokens, bf16=True, checkpointing=True)
    assert full == arch.layers * memory.layer_activation_bytes(arch, tokens, bf16=True)
    assert kept == arch.layers * tokens * arch.width * 2 + memory.layer_activation_bytes(arch, tokens, True)
    assert kept < full / 5
    assert memory.logits_bytes(arch, tokens, bf16=True, fused_head=True) == 0
    # bf16 logits, their float32 copy and its gradient: 10 bytes per token and vocabulary entry
    assert memory.logits_bytes(arch, tokens, bf16=True, fused_head=False) == tokens * 151936 * 10


def test_the_kv_cache_of_qwen2_5_7b_is_56_kib_a_token():
    arch = flops.architecture(model_config("Qwen/Qwen2.5-7B"))
    # 28 layers × (keys + values) × 4 KV heads × 128 dimensions × 2 bytes
    assert memory.kv_cache_bytes(arch, sequences=1, context=1, bf16=True) == 57_344
    assert memory.kv_cache_bytes(arch, sequences=8, context=1000, bf16=True) == 8000 * 57_344


# --- the checks ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_embedded_study_passes_on_this_cpu_machine(isolated_runs):
    result = run_sor("doctor", "parameters/embedded.yaml", runs_dir=isolated_runs)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for area in ("packages", "devices", "memory", "disk"):
        assert any(line.startswith("ok") and f" {area} " in line for line in lines), area
    assert "0 failed" in result.stdout
    assert not any(line.startswith("fail") for line in lines)


def test_the_paper_study_on_one_gpu_fails_on_its_eight_processes(tmp_path):
    study, file = paper_study(tmp_path)
    checks = doctor.doctor(study, file, devices=[gpu("NVIDIA H100 80GB HBM3", 80)])
    failed = by_area(checks, "processes", "fail")
    assert [c.detail for c in failed] == ["training.processes is 8, this machine has 1 GPU(s)"]
    assert "training.processes: 1" in failed[0].fix
    assert not by_area(checks, "devices", "fail")
    # 14B sharded over 8 processes with checkpointing: about 25 GiB per GPU
    assert by_area(checks, "memory")[0].status == "ok"


def test_one_gpu_smoke_tests_a_student_its_study_trains_on_eight_unless_it_cannot_hold_it(tmp_path):
    study, _ = paper_study(tmp_path)
    for device, scale, blocked in [
        (gpu("NVIDIA H200", 139), "7b", ""),
        (gpu("NVIDIA H200", 139), "14b", ""),  # about 121 GiB
        (gpu("NVIDIA H100 80GB HBM3", 80), "14b", "14b's micro-batch needs about 120.6 GiB on one device"),
        (gpu("NVIDIA A100-SXM4-40GB", 40), "7b", "7b's micro-batch needs about 63.0 GiB on one device"),
    ]:
        checks = doctor.check_devices(study, [device])
        assert by_area(checks, "processes", "fail")  # the study itself needs 8 GPUs
        blocking = doctor.smoke_blockers(study, scale, checks, [device])
        assert blocking.startswith(blocked) and bool(blocking) == bool(blocked), (scale, blocking)


def test_a_student_that_cannot_fit_fails_with_the_numbers_and_what_would_fit(tmp_path):
    study, _ = paper_study(
        tmp_path, processes=1, accelerate_config=None, gradient_checkpointing=True, global_batch_size=32
    )
    study = study.model_copy(
        update={"students": study.students.model_copy(update={"scales": {"7b": study.students.scales["7b"]}})}
    )
    check = doctor.training_memory_check(study, "7b", int(47 * GIB))
    assert check.status == "fail"
    assert "training 7b: about 6" in check.detail and "47.0 GiB free: does not fit" in check.detail
    assert "training.processes: 2 with accelerate_config fsdp or zero3" in check.fix
    assert "gradient_checkpointing" not in check.fix  # already on


def test_checkpointing_is_named_when_it_alone_makes_the_student_fit(tmp_path):
    study, _ = paper_study(tmp_path, processes=1, accelerate_config=None, gradient_checkpointing=False)
    check = doctor.training_memory_check(study, "0.5b", int(16 * GIB))
    assert check.status == "fail", check.detail
    assert check.fix.startswith("fits with training.gradient_checkpointing: true")


def test_an_unknown_device_is_a_warning_not_a_crash(tmp_path):
    study, file = paper_study(tmp_path, processes=1, accelerate_config=None, global_batch_size=32)
    checks = doctor.doctor(study, file, devices=[gpu("Acme Tensor 9000", 200)])
    warned = by_area(checks, "devices", "warn")
    assert len(warned) == 1 and "Acme Tensor 9000: an unknown device type" in warned[0].detail
    assert not by_area(checks, "devices", "fail")


def test_a_gpu_study_here_gives_its_memory_for_planning(tmp_path):
    study, file = paper_study(tmp_path)
    cpu = machine.Device("cpu", "CPU test", 24 * GIB, 20 * GIB, bf16=False)
    checks = doctor.doctor(study, file, devices=[cpu])
    assert "need CUDA" in by_area(checks, "devices", "fail")[0].detail
    planned = by_area(checks, "memory")
    assert [c.status for c in planned] == ["warn", "warn"]
    assert all("no GPU here to set it against" in c.detail for c in planned)


def test_a_full_disk_fails_the_plan(tmp_path, monkeypatch):
    study, file = paper_study(tmp_path)

    class Usage:
        free = 10 * GIB

    monkeypatch.setattr(doctor.shutil, "disk_usage", lambda path: Usage)
    check = doctor.check_disk(study, file)
    assert check.status == "fail" and "checkpoints" in check.detail and "10.0 GiB free" in check.detail


def test_sources_offline_are_found_in_the_study_cache_or_named_with_the_way_to_get_them(tmp_path):
    data = yaml.safe_load(PAPER.read_text())
    data["runner"]["offline"] = True
    study = parse_study(data, "paper")
    checks = {c.detail.split(":")[0]: c for c in doctor.check_sources(study)}
    student = checks["students.scales.0.5b.model"]
    assert student.status == "fail" and "runner.offline is true" in student.detail
    assert "hf download Qwen/Qwen2.5-0.5B --local-dir DIR" in student.fix
    # one line for the four benchmarks MMLU-Pro serves
    pro = ", ".join(f"benchmarks.mmlu_pro_{name}" for name in ("math", "law", "code", "physics"))
    assert pro in checks and "--repo-type dataset" in checks[pro].fix
    snapshot = doctor.hub_cache(study) / "models--Qwen--Qwen2.5-0.5B" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    again = {c.detail.split(":")[0]: c for c in doctor.check_sources(study)}
    assert again["students.scales.0.5b.model"].status == "ok"


def test_a_missing_local_model_folder_fails_naming_its_key(tmp_path):
    data = yaml.safe_load(PAPER.read_text())
    data["students"]["scales"]["0.5b"]["model"] = str(tmp_path / "nowhere")
    checks = doctor.check_sources(parse_study(data, "paper"))
    failed = [c for c in checks if c.status == "fail" and "students.scales.0.5b.model" in c.detail]
    assert len(failed) == 1 and "no such file or folder" in failed[0].detail


def test_package_versions_are_set_against_the_pins_and_the_extras_ranges(monkeypatch):
    real = doctor.installed_version
    monkeypatch.setattr(
        doctor, "installed_version", lambda name: {"trl": "0.9.0", "vllm": None}.get(name, real(name))
    )
    study = parse_study(yaml.safe_load(PAPER.read_text()), "paper")
    checks = {c.detail.split()[0]: c for c in doctor.check_packages(study)}
    assert checks["trl"].status == "warn" and "outside the pin ==1.16.0" in checks["trl"].detail
    assert checks["vllm"].status == "fail" and checks["vllm"].fix.startswith("pip install 'vllm")
    assert checks["transformers"].status == "ok"


# --- the smoke test and the plan ------------------------------------------------------------------


@pytest.mark.slow
def test_smoke_on_the_largest_embedded_student_feeds_the_plan(isolated_runs, tmp_path):
    data = yaml.safe_load(EMBEDDED.read_text())
    data["estimates"] = {"prompt_tokens": 40, "ift_tokens": 6, "reasoning_tokens": 75}  # before the data
    planned = tmp_path / "embedded.yaml"
    planned.write_text(yaml.safe_dump(data))
    assert "-hours" not in dry_run(planned)  # no peak, no MFU, no record: no hours
    result = run_sor("doctor", "parameters/embedded.yaml", "--smoke", runs_dir=isolated_runs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for figure in ("ms per step", "tokens/s (training)", "MFU", "peak memory", "tokens/s (generation)"):
        assert figure in result.stdout
    assert "xl: from config (xl)" in result.stdout
    records = json.loads((isolated_runs / ".cache" / machine.SMOKE_RECORDS).read_text())
    record = records[machine.device_name()]
    assert record["scale"] == "xl" and record["timed_steps"] == 17
    assert 0 < record["mfu"] < 1 and record["tokens_per_second"] > 0 and record["generated_tokens"] > 0
    after = dry_run(planned)
    assert f"CPU-hours at MFU {record['mfu']:.0%}" in after
    assert f"measured by `sor doctor --smoke` on {machine.device_name()}" in after


def test_the_plan_uses_the_named_devices_record_else_says_it_assumes(tmp_path):
    data = yaml.safe_load(PAPER.read_text())
    data["estimates"]["device"] = "NVIDIA H200"
    file = tmp_path / "paper.yaml"
    file.write_text(yaml.safe_dump(data))
    assumed = dry_run(file)
    assert "MFU 35%, assumed (estimates; no smoke record of NVIDIA H200 at this precision" in assumed
    record = {"device": "NVIDIA H200", "mfu": 0.5, "peak_flops_per_second": 9.89e14, "bf16": True}
    machine.record_smoke(record | {"model": "Qwen/Qwen2.5-7B", "date": "2026-12-03 10:00 UTC"})
    measured = dry_run(file)
    assert (
        "GPU-hours at MFU 50% of 9.89e+14 FLOP/s, measured by `sor doctor --smoke` on NVIDIA H200" in measured
    )

    def total_hours(report):
        line = next(line for line in report.splitlines() if line.startswith("GPU-hours at"))
        return float(line.split("train ")[1].split(",")[0].replace(",", ""))

    assert total_hours(assumed) == pytest.approx(total_hours(measured) * 0.5 / 0.35, rel=0.01)


@pytest.mark.slow
def test_smoke_trains_a_pretrained_shape_with_random_weights_on_token_rows(tmp_path):
    config_folder = tmp_path / "tiny-pretrained"
    config_folder.mkdir()
    Qwen2Config(
        vocab_size=3000,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        tie_word_embeddings=True,
    ).save_pretrained(config_folder)
    data = yaml.safe_load(PAPER.read_text())
    data["students"]["scales"] = {"tiny": {"model": str(config_folder)}}
    data["curricula"] = {"recipes": [], "scales": []}
    data["training"].update(bf16=False, gradient_checkpointing=False, processes=1, accelerate_config=None)
    data["training"].update(batch_size=2, global_batch_size=8)
    data["evaluation"] = {"backend": "hf", "batch_size": 8}
    pairs = tmp_path / "pairs.jsonl"  # a local copy of the teacher's pairs: rows at its mean lengths
    pairs.write_text(json.dumps({"prompt": "p" * 80, "ift": "i" * 24, "reasoning": "r" * 240}) + "\n")
    data["teacher"]["source"] = str(pairs)
    record = run_smoke(parse_study(data, "paper"), steps=5)
    assert record["rows"] == "token rows of 20 prompt + 60 completion tokens"
    assert (
        record["params"]
        == flops.parameter_counts(flops.architecture(model_config(str(config_folder))))["total"]
    )
    assert record["mean_tokens_per_row"] == 80 and record["timed_steps"] == 2
    assert record["generated_tokens"] > 0


def test_the_smoke_test_is_refused_where_the_study_cannot_run(capsys):
    if torch.version.cuda is not None:
        pytest.skip("this machine has a CUDA build of torch")
    assert main(["doctor", str(PAPER), "--smoke", "--scale", "0.5b"]) == 1
    captured = capsys.readouterr()
    assert "smoke test of 0.5b not run: " in captured.err and "is a CPU build" in captured.err
    assert "fail  devices" in captured.out
