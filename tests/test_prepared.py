"""Rows prepared in batches are the rows TRL's own per-row preparation builds."""

from datasets import Dataset
from transformers import Qwen2Config, Qwen2ForCausalLM
from trl import SFTConfig, SFTTrainer

from scale_or_reason.config.families import FAMILIES
from scale_or_reason.data.prepared import prepared_rows, with_format_tokens, write_format_tokens
from scale_or_reason.data.sft_rows import recipe_rows
from scale_or_reason.data.teachers import synthetic_pairs


def trl_prepared(rows: Dataset, tokenizer, tmp_path) -> Dataset:
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=8, intermediate_size=16, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
    )  # fmt: skip
    args = SFTConfig(output_dir=str(tmp_path), max_length=None, use_cpu=True, report_to=[])
    trainer = SFTTrainer(Qwen2ForCausalLM(config), args=args, train_dataset=rows, processing_class=tokenizer)
    return trainer.train_dataset


def test_batched_preparation_gives_trls_tokens_and_labels_for_every_form(small_tokenizer, tmp_path):
    pairs = Dataset.from_list([row for family in FAMILIES for row in synthetic_pairs(family, "train", 12, 0)])
    for recipe in ("ift", "reasoning", "mixed-50"):
        rows = recipe_rows(pairs, recipe)
        ours, theirs = prepared_rows(rows, small_tokenizer), trl_prepared(rows, small_tokenizer, tmp_path)
        assert ours.column_names == theirs.column_names
        assert ours.features == theirs.features
        assert ours["input_ids"] == theirs["input_ids"], recipe
        assert ours["labels"] == theirs["labels"], recipe
    prompt_tokens = [label for label in ours["labels"][0] if label == -100]
    assert 0 < len(prompt_tokens) < len(ours["labels"][0])  # the prompt masked, the completion kept


def test_a_dataset_already_prepared_is_trained_on_as_it_is(small_tokenizer, tmp_path):
    pairs = Dataset.from_list(synthetic_pairs("math_oe", "train", 6, 0))
    prepared = prepared_rows(recipe_rows(pairs, "reasoning"), small_tokenizer)
    marked = prepared.map(lambda row: {"labels": [-100] * (len(row["labels"]) - 1) + row["labels"][-1:]})
    assert trl_prepared(marked, small_tokenizer, tmp_path)["labels"] == marked["labels"]
    assert prepared_rows(marked, small_tokenizer) is marked  # tokenized rows (the smoke) pass through


def test_tokens_prepared_once_by_the_data_unit_are_those_a_training_unit_prepares(small_tokenizer, tmp_path):
    pairs = Dataset.from_list([row for family in FAMILIES for row in synthetic_pairs(family, "train", 8, 0)])
    assert (
        with_format_tokens(recipe_rows(pairs, "ift"), tmp_path).column_names
        == recipe_rows(pairs, "ift").column_names
    )  # a data folder written before it prepared tokens: the rows are prepared as before
    write_format_tokens(tmp_path, pairs, small_tokenizer)
    for recipe in ("ift", "reasoning", "mixed-50"):
        rows = recipe_rows(pairs, recipe, seed=3)
        read, prepared = with_format_tokens(rows, tmp_path), prepared_rows(rows, small_tokenizer)
        assert read.features == prepared.features
        assert read[:] == prepared[:], recipe
        assert prepared_rows(read, small_tokenizer) is read
    fewer = Dataset.from_list(pairs.to_list()[:-1])
    write_format_tokens(tmp_path, fewer, small_tokenizer)  # a row the tables lack: prepared as before
    assert "input_ids" not in with_format_tokens(recipe_rows(pairs, "ift"), tmp_path).column_names
