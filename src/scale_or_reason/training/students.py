"""Students: Qwen-architecture causal LMs built from a config, no download.

The embedded tier trains them from scratch at the sizes of `parameters/*.yaml` (`students.scales`).
They use the Qwen2 architecture of the paper's Qwen2.5 students (grouped-query attention, gated
MLP, RMSNorm, rotary positions), with tied input and output embeddings as in the small Qwen2.5
models.

The paper tier starts from pretrained *base* models (`model:` a hub id or a local folder), loaded
from safetensors only and never with remote code unless the parameters allow it. A base model's
tokenizer gets the project's chat template (ChatML with an `enable_thinking` switch; the think block
travels inside the assistant's content) and the end-of-turn token as its EOS, or generation would
never stop.
"""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase, Qwen2Config, Qwen2ForCausalLM

from ..core.hub import load_from_hub_or_folder, load_tokenizer
from ..data.tokenizer import CHAT_TEMPLATE, TURN_END


class ModelUnavailable(ValueError):
    """A pretrained model that cannot serve as a chat student (no end-of-turn or padding token)."""


def student_config(
    scale, tokenizer: PreTrainedTokenizerBase, max_positions: int, init_std: float | None = None
) -> Qwen2Config:
    """The HF config of one scale (`params.StudentScale`) for this tokenizer; `init_std` the
    standard deviation of its initial weights (transformers' 0.02 when None)."""
    extra = {} if init_std is None else {"initializer_range": init_std}
    return Qwen2Config(
        **extra,
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


def random_student(config, seed: int, bf16: bool):
    """A pretrained student's architecture with random weights (no download), in its training
    precision: what `sor doctor --smoke` trains."""
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16 if bf16 else torch.float32)


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters: a tied output layer shares the embedding matrix and counts once."""
    return sum(p.numel() for p in model.parameters())


def prepare_for_chat(model, tokenizer: PreTrainedTokenizerBase) -> None:
    """Give a base model the project's chat template and stop generation at the end of a turn."""
    end_of_turn = tokenizer.convert_tokens_to_ids(TURN_END)
    if end_of_turn is None or end_of_turn == tokenizer.unk_token_id:
        raise ModelUnavailable(f"the tokenizer of {model.name_or_path} has no {TURN_END} token to end a turn")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.eos_token = TURN_END
    if tokenizer.pad_token is None or tokenizer.pad_token_id == end_of_turn:
        raise ModelUnavailable(
            f"the tokenizer of {model.name_or_path} needs a padding token other than {TURN_END}"
        )
    model.config.eos_token_id = end_of_turn
    model.generation_config.eos_token_id = end_of_turn
    model.generation_config.pad_token_id = tokenizer.pad_token_id


def load_pretrained(name: str, *, bf16: bool, trust_remote_code: bool = False):
    """A pretrained base student and its tokenizer, ready for chat-formatted fine-tuning; an
    unreachable hub id raises `core.hub.HubUnreachableError`, which names the offline alternative."""
    tokenizer = load_tokenizer(name, trust_remote_code=trust_remote_code)
    model = load_from_hub_or_folder(
        AutoModelForCausalLM,
        name,
        dtype=torch.bfloat16 if bf16 else torch.float32,
        use_safetensors=True,
        trust_remote_code=trust_remote_code,
    )
    prepare_for_chat(model, tokenizer)
    return model, tokenizer
