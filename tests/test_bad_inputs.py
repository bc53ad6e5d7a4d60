"""Bad inputs stop `sor study` early, with one line saying what is wrong, and leave nothing done.

Each case is one small edit of the smoke study (or of a file it names), run through the real CLI
in a subprocess. A bad parameter must fail before any unit starts; data that only turns out bad
once it is read must fail in the generation unit, before any training.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import PARAMETERS, REPO
from scale_or_reason import units
from scale_or_reason.config.params import parse_study
from scale_or_reason.core import files
from scale_or_reason.data import generation
from scale_or_reason.evaluation.benchmarks import KNOWN_BENCHMARKS

FIXTURES = Path(__file__).parent / "fixtures" / "bad_inputs"
SMOKE_TEXT = (PARAMETERS / "smoke.yaml").read_text()


def smoke() -> dict:
    return yaml.safe_load(SMOKE_TEXT)


def released(source: Path, benchmark: str = "gsm8k") -> dict:
    """The smoke study taught by released pairs from a local file, tested on a paper benchmark."""
    data = smoke()
    data["teacher"] = {"kind": "released", "source": str(source)}
    data["benchmarks"] = [{"name": benchmark}]
    return data


# --- the edits: each writes a parameters file into `folder` and returns it ----------------------


def unchanged(folder: Path) -> Path:
    return write_text(folder, SMOKE_TEXT)


def malformed_yaml(folder: Path) -> Path:
    return write_text(folder, SMOKE_TEXT.replace("seed: 0", "seed: [0"))


def wrong_type(folder: Path) -> Path:
    data = smoke()
    data["training"]["epochs"] = "two"
    return write_yaml(folder, data)


def misspelt_key(folder: Path) -> Path:
    data = smoke()
    data["trainig"] = data.pop("training")
    return write_yaml(folder, data)


def unknown_family(folder: Path) -> Path:
    data = smoke()
    data["teacher"]["families"][1] = "physics_mc"
    return write_yaml(folder, data)


def unknown_benchmark(folder: Path) -> Path:
    return write_yaml(folder, released(FIXTURES / "some_bad_pairs.jsonl", benchmark="gsm8kk"))


def student_without_weights(folder: Path) -> Path:
    data = smoke()
    data["students"]["scales"]["local"] = {"model": str(FIXTURES / "model_without_weights")}
    return write_yaml(folder, data)


def missing_teacher_source(folder: Path) -> Path:
    return write_yaml(folder, released(folder / "absent.jsonl"))


def unknown_accelerate_config(folder: Path) -> Path:
    data = smoke()
    data["training"]["accelerate_config"] = "fdsp"
    return write_yaml(folder, data)


def every_released_row_unclosed(folder: Path) -> Path:
    return write_yaml(folder, released(FIXTURES / "unclosed_pairs.jsonl"))


def write_text(folder: Path, text: str) -> Path:
    file = folder / "study.yaml"
    file.write_text(text)
    return file


def write_yaml(folder: Path, data: dict) -> Path:
    return write_text(folder, yaml.safe_dump(data, sort_keys=False))


UNWRITABLE = "unwritable"  # the runs folder sits below a regular file: even root cannot create it
KNOWN = ", ".join(sorted(KNOWN_BENCHMARKS))
MODEL_FOLDER = FIXTURES / "model_without_weights"

# (case, edit, runs folder, exit status, what the one `error:` line must contain). `{file}`,
# `{runs}` and `{folder}` stand for the case's parameters file, runs folder and temporary folder.
CASES = [
    (
        "malformed-yaml",
        malformed_yaml,
        None,
        2,
        ["{file}: not valid YAML at line 6, column 8: expected ',' or ']', but got ':'"],
    ),
    (
        "wrong-type",
        wrong_type,
        None,
        2,
        ["{file}: training.epochs: Input should be a valid integer, unable to parse string as an integer"],
    ),
    ("misspelt-key", misspelt_key, None, 2, ["{file}: unknown key 'trainig' (did you mean 'training'?)"]),
    (
        "unknown-family",
        unknown_family,
        None,
        2,
        ["{file}: teacher.families.1: Input should be 'math_oe', 'math_mc', 'general_oe' or 'general_mc'"],
    ),
    (
        "unknown-benchmark",
        unknown_benchmark,
        None,
        2,
        [f"Unknown benchmark 'gsm8kk'. Did you mean 'gsm8k'? Known benchmarks: {KNOWN}."],
    ),
    (
        "student-without-weights",
        student_without_weights,
        None,
        2,
        [
            f"students.scales.local.model: the model folder {MODEL_FOLDER} lacks safetensors weights "
            "(*.safetensors) and a tokenizer (tokenizer.json or tokenizer_config.json)"
        ],
    ),
    (
        "unwritable-runs-folder",
        unchanged,
        UNWRITABLE,
        2,
        [
            "the run folder {runs}/smoke cannot be written (Not a directory): "
            "set SOR_RUNS_DIR to a writable folder"
        ],
    ),
    (
        "missing-teacher-source",
        missing_teacher_source,
        None,
        2,
        ["teacher.source: no such file or folder {folder}/absent.jsonl"],
    ),
    (
        "unknown-accelerate-config",
        unknown_accelerate_config,
        None,
        2,
        [
            f"training.accelerate_config: no file {REPO}/fdsp "
            "(use fsdp, zero3, ddp, or a path to an accelerate config)"
        ],
    ),
    (
        "every-released-row-unclosed",
        every_released_row_unclosed,
        None,
        1,
        [
            "generate:data failed: ValueError: the teacher left no training pairs",
            '"left_out": {"reasoning_unclosed": 5}',
        ],
    ),
]


def fill(text: str, **places) -> str:
    """`text` with `{name}` replaced by each place (not str.format: messages hold JSON braces)."""
    for name, value in places.items():
        text = text.replace(f"{{{name}}}", str(value))
    return text


@pytest.mark.parametrize(
    ("edit", "runs_choice", "status", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_bad_input_stops_the_study_with_one_line_and_nothing_done(
    tmp_path, isolated_runs, edit, runs_choice, status, expected
):
    file = edit(tmp_path)
    runs = isolated_runs
    if runs_choice == UNWRITABLE:
        (tmp_path / "file").write_text("a regular file, not a folder")
        runs = (tmp_path / "file" / "runs").resolve()
    env = {**os.environ, "SOR_RUNS_DIR": str(runs), "HF_HUB_OFFLINE": "1"}
    finished = subprocess.run(
        [sys.executable, "-m", "scale_or_reason.cli", "study", str(file)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert finished.returncode == status, finished.stderr
    error_lines = [line for line in finished.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, finished.stderr
    for text in expected:
        assert fill(text, file=file, runs=runs, folder=tmp_path) in error_lines[0]
    if status == 2:  # a bad parameter: that one line and nothing else
        assert finished.stderr.strip() == error_lines[0]
    assert not list(runs.rglob(units.COMPLETE)), "no unit may be marked complete"
    assert not (runs / "smoke" / "train").exists(), "no training unit may start"


def test_some_bad_released_rows_are_counted_reported_and_left_out(isolated_runs, caplog):
    study = parse_study(released(FIXTURES / "some_bad_pairs.jsonl"))
    with caplog.at_level(logging.WARNING, logger="scale_or_reason.data.released"):
        generation.generate_data(study)
    folder = units.data_dir(study)
    assert units.is_complete(folder)
    report = files.read_json(folder / "teacher_report.json")
    assert report["pairs"] == 12 and report["left_out"] == {"reasoning_unclosed": 2, "empty_ift": 1}
    warnings = [
        record.getMessage() for record in caplog.records if record.name == "scale_or_reason.data.released"
    ]
    assert len(warnings) == 1 and "left out 3 of 15" in warnings[0]
    assert "empty column 'ift': 1 rows" in warnings[0]
    assert "no closed think block in column 'reasoning': 2 rows" in warnings[0]
    lines = (folder / "pairs" / "train.jsonl").read_text().splitlines()
    trained = [json.loads(line)["prompt"] for line in lines]
    assert sorted(trained) == sorted(f"What is {n} + {n}?" for n in range(12))
