"""The released pair datasets, read from tiny local parquet and jsonl files with their schema."""

from __future__ import annotations

import logging

import datasets.config
import huggingface_hub.constants
import pandas as pd
import pytest

from conftest import paper_like_study
from scale_or_reason import units
from scale_or_reason.config.params import parse_study
from scale_or_reason.core import files
from scale_or_reason.core.hub import HubUnreachableError
from scale_or_reason.data import generation
from scale_or_reason.data.teachers import PAIR_COLUMNS, prompt_key
from scale_or_reason.teachers import load_released_pairs  # the README's public name

GOOD = [
    {
        "prompt": f"What is {n} + {n}?",
        "reasoning": f"<think>\nDouble {n}.\n</think>\n\nIt is \\boxed{{{2 * n}}}.",
        "ift": f"\\boxed{{{2 * n}}}",
    }
    for n in range(20)
]
BAD = [
    {"prompt": "", "reasoning": "<think>\nx\n</think>\n\n\\boxed{1}", "ift": "\\boxed{1}"},
    {"prompt": None, "reasoning": "<think>\nx\n</think>\n\n\\boxed{1}", "ift": "\\boxed{1}"},
    {"prompt": "Empty IFT?", "reasoning": "<think>\nx\n</think>\n\n\\boxed{1}", "ift": "  "},
    {"prompt": "Unclosed?", "reasoning": "<think>\nI was cut off", "ift": "\\boxed{1}"},
    {"prompt": "No answer?", "reasoning": "<think>\nx\n</think>\n\n", "ift": "\\boxed{1}"},
]
# A release may leave the opening tag out (it sat in the teacher's prompt) and keep the
# non-thinking answer's empty think block.
UNTIDY = {
    "prompt": "Half of one?",
    "reasoning": "One over two.\n</think>\n\n\\boxed{\\frac{1}{2}}",
    "ift": "<think>\n\n</think>\n\n\\boxed{\\frac{1}{2}}",
}


def write(rows: list[dict], path, extra: dict | None = None):
    frame = pd.DataFrame(rows).assign(**(extra or {}))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    return path


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_released_rows_come_out_in_the_pair_schema(tmp_path, suffix):
    path = write([*GOOD, UNTIDY], tmp_path / f"math-reasoning-ift-pairs{suffix}")
    pairs = load_released_pairs(str(path))
    assert pairs.column_names == list(PAIR_COLUMNS) and len(pairs) == 21
    rows = {row["prompt"]: row for row in pairs}
    first = rows["What is 3 + 3?"]
    assert first["reasoning"] == "<think>\nDouble 3.\n</think>\n\nIt is \\boxed{6}."
    assert (
        first["ift"] == "\\boxed{6}"
        and first["answer"] == "6"
        and first["key"] == prompt_key("What is 3 + 3?")
    )
    assert {(r["family"], r["domain"], r["task"], r["question_format"], r["variant"]) for r in pairs} == {
        ("math", "math", "math", "mixed", "train")
    }
    untidy = rows["Half of one?"]
    assert untidy["reasoning"] == "<think>\nOne over two.\n</think>\n\n\\boxed{\\frac{1}{2}}"
    assert untidy["ift"] == "\\boxed{\\frac{1}{2}}" and untidy["answer"] == "\\frac{1}{2}"
    assert len(set(pairs["id"])) == len(pairs)


def test_bad_rows_are_counted_by_reason_and_left_out(tmp_path, caplog):
    path = write([*GOOD[:3], *BAD], tmp_path / "pairs.parquet")
    with caplog.at_level(logging.WARNING, logger="scale_or_reason.data.released"):
        pairs = load_released_pairs(str(path))
    assert sorted(pairs["prompt"]) == sorted(row["prompt"] for row in GOOD[:3])
    (warning,) = [
        record.getMessage() for record in caplog.records if record.name == "scale_or_reason.data.released"
    ]
    assert "left out 5 of 8" in warning
    for reason in (
        "empty column 'prompt': 2 rows",
        "empty column 'ift': 1 rows",
        "no closed think block in column 'reasoning': 1 rows",
        "no answer after the think block in column 'reasoning': 1 rows",
    ):
        assert reason in warning
    assert set(pairs["family"]) == {"general"}, "no corpus named anywhere: general"


def test_limit_samples_deterministically_with_the_seed(tmp_path):
    path = write(GOOD, tmp_path / "general.jsonl")
    first = load_released_pairs(str(path), limit=5, seed=1)
    assert len(first) == 5
    assert load_released_pairs(str(path), limit=5, seed=1)["id"] == first["id"]
    assert load_released_pairs(str(path), limit=5, seed=2)["id"] != first["id"]
    assert len(load_released_pairs(str(path), limit=500, seed=1)) == len(GOOD)


def test_a_folder_of_files_takes_each_family_from_its_corpus_or_name(tmp_path):
    write(GOOD[:4], tmp_path / "release" / "data" / "math-part.parquet")
    write(
        GOOD[4:7],
        tmp_path / "release" / "data" / "mixed.jsonl",
        extra={"corpus": ["general", "math", "code"]},
    )
    pairs = load_released_pairs(str(tmp_path / "release"))
    families = dict(zip(pairs["prompt"], pairs["family"], strict=True))
    assert [families[row["prompt"]] for row in GOOD[:7]] == ["math"] * 4 + ["general", "math", "general"]


def test_missing_columns_are_named(tmp_path):
    path = write([{"prompt": "p", "answer": "a"}], tmp_path / "pairs.parquet")
    with pytest.raises(ValueError, match=r"reasoning: 'reasoning', ift: 'ift'.*its columns: prompt, answer"):
        load_released_pairs(str(path))
    with pytest.raises(ValueError, match="response: 'output'"):
        load_released_pairs(str(path), columns={"prompt": "prompt", "response": "output"})


def test_traces_in_other_column_names_and_a_csv_file_are_read(tmp_path):
    renamed = [{"question": r["prompt"], "short": r["ift"], "long": r["reasoning"]} for r in GOOD[:5]]
    path = tmp_path / "traces.csv"
    pd.DataFrame(renamed).to_csv(path, index=False)
    pairs = load_released_pairs(
        str(path), columns={"prompt": "question", "ift": "short", "reasoning": "long"}
    )
    assert pairs["prompt"] == [row["prompt"] for row in GOOD[:5]]
    assert pairs["ift"] == [row["ift"] for row in GOOD[:5]]
    assert pairs["reasoning"] == [row["reasoning"] for row in GOOD[:5]]


def test_one_response_per_row_gives_both_formats_split_at_its_think_block(tmp_path, caplog):
    responses = [{"q": row["prompt"], "output": row["reasoning"]} for row in GOOD[:4]]
    responses += [{"q": "No trace?", "output": "\\boxed{3}"}, {"q": "Cut?", "output": "<think>\nI was"}]
    responses += [{"q": "Nothing after?", "output": "<think>\nx\n</think>\n\n"}]
    path = write(responses, tmp_path / "responses.jsonl")
    with caplog.at_level(logging.WARNING, logger="scale_or_reason.data.released"):
        pairs = load_released_pairs(str(path), columns={"prompt": "q", "response": "output"})
    assert pairs["reasoning"] == [row["reasoning"] for row in GOOD[:4]]  # the whole response
    assert pairs["ift"] == [row["reasoning"].split("</think>")[1].strip() for row in GOOD[:4]]  # its answer
    (warning,) = [record.getMessage() for record in caplog.records]
    assert "left out 3 of 7 rows" in warning
    assert "no closed think block in column 'output': 2 rows" in warning
    assert "no answer after the think block in column 'output': 1 rows" in warning


def test_a_missing_local_file_is_not_taken_for_a_hub_id(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_released_pairs(str(tmp_path / "absent.parquet"))


def test_an_unreachable_hub_id_names_the_local_file_alternative(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # Both libraries read the flag once, at import.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnreachableError) as unreachable:
        load_released_pairs("Scale-or-Reason-tests/math-reasoning-ift-pairs-absent")
    message = str(unreachable.value)
    assert "Scale-or-Reason-tests/math-reasoning-ift-pairs-absent" in message and "parquet/jsonl" in message


def test_a_study_trains_on_a_teachers_own_columns(tmp_path, base_model_folder):
    path = write([{"q": row["prompt"], "output": row["reasoning"]} for row in GOOD], tmp_path / "own.jsonl")
    data = paper_like_study(tmp_path, base_model_folder).model_dump(mode="json")
    data["teacher"].update(source=str(path), columns={"prompt": "q", "response": "output"})
    study = parse_study(data, "own-columns")
    generation.generate_data(study)
    trained = files.read_jsonl(units.data_dir(study) / generation.PAIRS_FILE)
    assert sorted(row["prompt"] for row in trained) == sorted(row["prompt"] for row in GOOD)
    assert all(row["reasoning"].startswith("<think>") and "</think>" not in row["ift"] for row in trained)
