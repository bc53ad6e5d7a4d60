"""Packed batches: the padded batch's rows and loss, without its padding."""

import itertools

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from scale_or_reason.training.packing import IGNORED_LABEL, PackedBatchCollator, first_fit_bins


def rows(lengths: list[int], prompt: int = 2) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    examples = []
    for length in lengths:
        ids = torch.randint(3, 50, (length,), generator=generator).tolist()
        examples.append({"input_ids": ids, "labels": [IGNORED_LABEL] * prompt + ids[prompt:]})
    return examples


def test_rows_go_longest_first_into_the_first_bin_with_room():
    assert first_fit_bins([5, 3, 2, 4]) == [[0], [3], [1, 2]]
    assert first_fit_bins([4, 4, 4]) == [[0], [1], [2]]
    assert first_fit_bins([6, 1, 2, 3]) == [[0], [3, 2, 1]]


def test_every_row_is_packed_once_with_its_positions_restarting():
    examples = rows([9, 3, 5, 2, 7])
    batch = PackedBatchCollator(pad_token_id=0)(examples)
    assert batch["input_ids"].shape == (3, 9) and "attention_mask" not in batch and not batch["use_cache"]
    packed = []
    for ids, positions in zip(batch["input_ids"].tolist(), batch["position_ids"].tolist(), strict=True):
        starts = [i for i, p in enumerate(positions) if p == 0] + [len(positions)]
        packed += [ids[a:b] for a, b in itertools.pairwise(starts) if b - a > 1 or ids[a] != 0]
    assert sorted(packed) == sorted(example["input_ids"] for example in examples)
    assert (batch["labels"][batch["position_ids"] == 0] == IGNORED_LABEL).all()


def test_a_packed_batch_has_the_padded_batch_loss_and_gradients():
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32,
    )  # fmt: skip
    model = Qwen2ForCausalLM(config).eval()
    examples = rows([12, 5, 7, 3, 9, 4])
    padded = DataCollatorForLanguageModeling(pad_token_id=0)(examples)
    packed = PackedBatchCollator(pad_token_id=0)(examples)
    assert packed["input_ids"].numel() < padded["input_ids"].numel()
    losses, grads = [], []
    for batch in (padded, packed):
        model.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        losses.append(loss.item())
        grads.append(model.model.embed_tokens.weight.grad.clone())
    assert abs(losses[0] - losses[1]) < 1e-5
    assert torch.allclose(grads[0], grads[1], atol=1e-5)
