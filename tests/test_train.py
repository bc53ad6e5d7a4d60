"""Training on the smoke study: completion-only loss, no truncation, real token counts."""

import json

import pytest
from datasets import Dataset
from safetensors import safe_open

from scale_or_reason import units
from scale_or_reason.core import flops
from scale_or_reason.data import generation
from scale_or_reason.training import train
from scale_or_reason.training.train import IGNORED_LABEL, TruncationError, token_counts


@pytest.fixture
def trained(smoke_study):
    generation.generate_data(smoke_study)
    return train.train_student(smoke_study, "tiny", "ift")


def test_a_trained_student_is_saved_with_its_tokenizer_in_safetensors(smoke_study, trained):
    model_dir = units.train_dir(smoke_study, "tiny", "ift") / "model"
    assert (model_dir / "model.safetensors").is_file()
    assert not list(model_dir.glob("*.bin"))
    assert (model_dir / "tokenizer.json").is_file()
    config = json.loads((model_dir / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForCausalLM"] and config["hidden_size"] == 16
    with safe_open(model_dir / "model.safetensors", "pt") as weights:
        names = weights.keys()  # a safetensors file, not a dict: it is not iterable itself
        assert sum(weights.get_slice(k).get_shape()[0] > 0 for k in names) > 0
    assert units.is_complete(units.train_dir(smoke_study, "tiny", "ift"))


def test_metrics_count_real_tokens_and_both_flops(smoke_study, trained):
    """Recount every training sequence from the chat template: the totals must agree exactly."""
    from scale_or_reason.core.hub import load_tokenizer

    folder = units.train_dir(smoke_study, "tiny", "ift")
    tokenizer = load_tokenizer(folder / "model")
    pairs = generation.load_pairs(units.data_dir(smoke_study))
    lengths = [
        len(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["ift"]}],
                enable_thinking=False,
            )["input_ids"]
        )
        for row in pairs
    ]
    from transformers import AutoConfig

    arch = flops.architecture(AutoConfig.from_pretrained(str(folder / "model")))
    assert trained["samples"] == trained["rows"] == len(pairs) == 160
    assert trained["steps"] == 10  # 160 samples, batch 16, one epoch
    assert trained["reasoning_rows"] == 0
    assert trained["train_tokens"] == sum(lengths)
    assert trained["train_flops_paper"] == flops.training_flops(arch, lengths)
    assert trained["train_flops_exact"] == flops.exact_training_flops(arch, lengths)
    assert 0 < trained["mfu"] < 1 and trained["peak_flops_per_second"] > 0
    assert trained["max_length"] == max(lengths)
    assert 0 < trained["train_completion_tokens"] < trained["train_tokens"]


def test_a_second_call_finds_the_finished_unit(smoke_study, trained):
    before = (units.train_dir(smoke_study, "tiny", "ift") / "model" / "model.safetensors").stat().st_mtime_ns
    assert train.train_student(smoke_study, "tiny", "ift") == trained
    after = (units.train_dir(smoke_study, "tiny", "ift") / "model" / "model.safetensors").stat().st_mtime_ns
    assert before == after


def test_loss_falls_on_completion_tokens_only(smoke_study, small_tokenizer):
    from trl import SFTTrainer

    from scale_or_reason.data.sft_rows import recipe_examples
    from scale_or_reason.training.students import build_student, student_config

    pairs = Dataset.from_list(
        [
            {
                "id": "general_oe-train-00000",
                "family": "general_oe",
                "prompt": "Sort from smallest to largest: 3, 1. Put the final answer in \\boxed{}.",
                "ift": "\\boxed{1, 3}",
                "reasoning": "<think>\nx\n</think>\n\n\\boxed{1, 3}",
            }
        ]
    )
    model = build_student(student_config(smoke_study.students.scales["tiny"], small_tokenizer, 256), 0)
    for recipe in ("ift", "reasoning"):
        trainer = SFTTrainer(
            model=model,
            args=train.sft_config(smoke_study, "tiny", recipe, smoke_study_tmp(smoke_study), 1),
            train_dataset=recipe_examples(pairs, recipe),
            processing_class=small_tokenizer,
        )
        row = trainer.train_dataset[0]
        trained_text = small_tokenizer.decode(
            [t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label != IGNORED_LABEL]
        )
        assert trained_text == pairs[0][recipe] + "<|im_end|>\n"


def smoke_study_tmp(study):
    return units.study_dir(study) / "trainer-test"


def test_a_sequence_longer_than_max_length_refuses_to_train():
    dataset = Dataset.from_list(
        [{"id": "row-0", "input_ids": [1, 2, 3, 4, 9], "labels": [IGNORED_LABEL, IGNORED_LABEL, 3, 4, 9]}]
    )
    lengths, completions = token_counts(dataset, eos_id=9, max_length=None)
    assert lengths.tolist() == [5] and completions.tolist() == [3]
    too_long = r"training row row-0: 5 tokens, more than training\.max_length=4"
    with pytest.raises(TruncationError, match=too_long):
        token_counts(dataset, eos_id=9, max_length=4)
    cut = Dataset.from_list(
        [{"id": "row-0", "input_ids": [1, 2, 3, 4], "labels": [IGNORED_LABEL, IGNORED_LABEL, 3, 4]}]
    )
    with pytest.raises(TruncationError, match="lost its end-of-turn token"):
        token_counts(cut, eos_id=9, max_length=None)


def test_a_curriculum_student_trains_on_its_split_in_its_order(smoke_study):
    generation.generate_data(smoke_study)
    metrics = train.train_student(smoke_study, "tiny", "sequential-50")
    assert metrics["rows"] == metrics["samples"] == 160
    assert metrics["reasoning_rows"] == 80
    log = (units.train_dir(smoke_study, "tiny", "sequential-50") / "train_log.csv").read_text()
    assert "loss" in log.splitlines()[0]
