"""Students: Qwen-architecture causal LMs built from a config, no download.

The embedded tier trains them from scratch at the sizes of `parameters/*.yaml` (`students.scales`).
They use the Qwen2 architecture of the paper's Qwen2.5 students (grouped-query attention, gated
MLP, RMSNorm, rotary positions), with tied input and output embeddings as in the small Qwen2.5
models.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedTokenizerBase, Qwen2Config, Qwen2ForCausalLM


def student_config(scale, tokenizer: PreTrainedTokenizerBase, max_positions: int) -> Qwen2Config:
    """The HF config of one scale (`params.StudentScale`) for this tokenizer."""
    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=scale.hidden_size,
        intermediate_size=scale.intermediate_size,
        num_hidden_layers=scale.num_layers,
        num_attention_heads=scale.num_heads,
        num_key_value_heads=scale.num_kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )


def build_student(config: Qwen2Config, seed: int) -> Qwen2ForCausalLM:
    """A freshly initialised student; the same seed gives the same weights."""
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    return model


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters: a tied output layer shares the embedding matrix and counts once."""
    return sum(p.numel() for p in model.parameters())
