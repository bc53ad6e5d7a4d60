"""The GPU plan counts the real corpus (shipped sizes, local files, `teacher.limit`) and turns FLOPs
into GPU-hours and wall clock, with decoding bound by memory bandwidth."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import PARAMETERS
from scale_or_reason.cli import main
from scale_or_reason.config.params import ParametersError, parse_study
from scale_or_reason.core import flops
from scale_or_reason.core.model_configs import student_architecture
from scale_or_reason.data.corpus_size import released_corpora, teacher_data
from scale_or_reason.orchestration import estimates

PAPER = yaml.safe_load((PARAMETERS / "paper.yaml").read_text())
PAPER_MATH = yaml.safe_load((PARAMETERS / "paper-math.yaml").read_text())


def study_with(base: dict, **changes):
    data = json.loads(json.dumps(base))
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        data[section][key] = value
    return parse_study(data, "test")


def test_the_paper_plans_count_the_released_corpora_as_their_cards_give_them():
    cards = released_corpora().set_index("corpus")
    for data, corpus, lengths in (
        (PAPER, "general", (140, 425, 2600)),
        (PAPER_MATH, "math", (72.5, 875, 6900)),
    ):
        planned = teacher_data(parse_study(data, "test"))
        assert planned.samples == cards.loc[corpus, "pairs"]
        assert tuple(planned.lengths[k] for k in ("prompt", "ift", "reasoning")) == lengths
        assert "dataset card" in planned.source
    assert cards.loc["general", "pairs"] == 990_098 and cards.loc["math", "pairs"] == 152_609


def test_the_plan_honours_the_teachers_limit():
    study = study_with(PAPER, teacher__limit=5000)
    planned = teacher_data(study)
    assert planned.samples == 5000 and "teacher.limit 5,000" in planned.source
    train, _ = estimates.unit_flops(study, "0.5b", "ift", planned.lengths)
    arch = student_architecture(study, "0.5b")
    assert train == 5000 * 3 * flops.forward_flops(arch, 140 + 425)


def test_a_local_teacher_file_is_counted(tmp_path):
    rows = [
        {"prompt": "p" * 40, "ift": "i" * 80, "reasoning": "r" * 400},
        {"prompt": "p" * 20, "ift": "", "reasoning": "r"},
    ]
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    planned = teacher_data(study_with(PAPER, teacher__source=str(source)))
    assert planned.samples == 2
    assert planned.lengths == {"prompt": 30 / 4, "ift": 40 / 4, "reasoning": 200.5 / 4}
    assert f"counted in {source}" in planned.source


def test_the_paper_training_flops_follow_from_the_released_corpus():
    study = parse_study(PAPER, "test")
    table = estimates.plan_table(study, [u for u in estimates.units.plan(study, "paper.yaml")])
    train = table[table["unit"].str.startswith("train:")]
    lengths = {"prompt": 140, "ift": 425, "reasoning": 2600}
    arch = student_architecture(study, "14b")
    reasoning_14b = train.set_index("unit").loc["train:14b-reasoning", "flops"]
    assert reasoning_14b == 990_098 * 3 * flops.forward_flops(arch, lengths["prompt"] + lengths["reasoning"])
    assert 9e20 < train["flops"].sum() < 1.2e21  # about seven times the old assumed 1.5e20
    # GPU-hours are FLOPs over the assumed throughput; a training unit's wall clock spreads them over
    # its processes
    assert train["device_hours"].sum() == pytest.approx(train["flops"].sum() / (9.89e14 * 0.35) / 3600)
    assert (train["wall_hours"] * study.training.processes).to_list() == pytest.approx(
        train["device_hours"].to_list()
    )


def test_decoding_is_bound_by_memory_bandwidth_and_batching_amortises_the_weights():
    study = parse_study(PAPER, "test")
    arch = student_architecture(study, "7b")
    device = estimates.Throughput(9.89e14 * 0.35, 3.35e12, "GPU-hours", "assumed")
    compute_only = estimates.Throughput(9.89e14 * 0.35, None, "GPU-hours", "assumed")
    one = estimates.decoding_seconds(arch, 100, 1001, items=1, batch=1, device=device, value_bytes=2)
    weights_read = 1000 * flops.parameter_counts(arch)["total"] * 2 / 3.35e12
    assert weights_read < one < 1.01 * weights_read + 1  # batch 1: one read of the weights a token
    batched = estimates.decoding_seconds(arch, 100, 1001, items=64, batch=64, device=device, value_bytes=2)
    assert one < batched < 2 * one  # 64 answers in about the time of one
    assert (
        estimates.decoding_seconds(arch, 100, 1001, 64, 64, compute_only, 2) < 0.6 * batched
    )  # memory-bound
    two_batches = estimates.decoding_seconds(
        arch, 100, 1001, items=128, batch=64, device=device, value_bytes=2
    )
    assert two_batches == pytest.approx(2 * batched)


def test_the_dry_run_prints_hours_wall_clock_and_what_they_rest_on():
    report = estimates.describe(
        parse_study(PAPER, "test"), estimates.units.plan(parse_study(PAPER, "test"), "p")
    )
    assert "training samples: 990,098" in report and "GPU-hours" in report and "wall hours" in report
    assert "train: 1.02e+21 FLOPs" in report
    assert "h wall clock at 8 device(s) a unit" in report
    assert "reading the weights and KV cache at 3.35 TB/s (data sheet), 64 sequences a batch" in report
    assert "MFU 35%, assumed" in report


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"students": {"0.5b": "/nonexistent/qwen"}}, "students.scales.0.5b.model: no such file or folder"),
        ({"teacher": "/nonexistent/pairs.parquet"}, "teacher.source: no such file or folder"),
    ],
    ids=["student-model", "teacher-source"],
)
def test_sor_check_and_the_dry_run_check_every_path_and_name_its_key(tmp_path, capsys, change, key):
    data = json.loads(json.dumps(PAPER))
    if "students" in change:
        data["students"]["scales"]["0.5b"]["model"] = change["students"]["0.5b"]
    else:
        data["teacher"]["source"] = change["teacher"]
    file = tmp_path / "paper.yaml"
    file.write_text(yaml.safe_dump(data))
    for command in (["check", str(file)], ["study", str(file), "--dry-run"]):
        assert main(command) != 0
        assert key in capsys.readouterr().err


def test_a_synthetic_benchmark_may_not_take_a_paper_benchmarks_name():
    data = yaml.safe_load((PARAMETERS / "embedded.yaml").read_text())
    data["benchmarks"][0] = {"name": "gsm8k", "family": "math_oe"}
    with pytest.raises(ParametersError, match="'gsm8k' is one of the paper's benchmarks"):
        parse_study(data, "test")


def test_a_teachers_own_columns_are_counted_and_checked(tmp_path):
    source = tmp_path / "responses.jsonl"
    rows = [
        {"q": "p" * 40, "out": "<think>\nxxxx\n</think>\n\n" + "a" * 20},
        {"q": "p" * 20, "out": "b" * 10},
    ]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    study = study_with(
        PAPER, teacher__source=str(source), teacher__columns={"prompt": "q", "response": "out"}
    )
    planned = teacher_data(study)
    responses = [len(row["out"]) for row in rows]
    assert planned.lengths == {"prompt": 30 / 4, "reasoning": sum(responses) / 2 / 4, "ift": 20 / 2 / 4}
    with pytest.raises(
        ParametersError, match="must name either prompt, ift and reasoning, or prompt and response"
    ):
        study_with(PAPER, teacher__columns={"prompt": "q", "answer": "out"})
