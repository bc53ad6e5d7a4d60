"""Parameters and FLOPs of a Qwen-family model, two ways: the paper's formula and an exact count.

Everything here is a small pure function of an `Architecture`, read from a Hugging Face config
(Qwen2, Qwen3 and Qwen3-MoE). Token counts are real (unpadded) lengths; nothing uses the trainer's
`total_flos`, which counts padding and ignores attention.

**The paper's formula** (arXiv 2509.22193, appendix; Chinchilla-style). For a sequence of l
tokens, width d, feed-forward width d_ff, h heads, L layers and V vocabulary entries:

    forward(l) = 2lVd                                   input embedding (counted as a matmul)
               + L(6ld² + 2l²d + 3l²h + 2l²d + 2ld²)    QKV, scores, softmax, mixing, output
               + L·4ld·d_ff                             feed-forward (two matrices, as written)
               + 2ldV                                   output logits

Training costs 3 × forward per sample at its own length. Inference is a prefill of the prompt
(logits for its last position only) plus one cached decode step per generated token, the step of
generated token i attending over c = prompt + i positions. The formula is the paper's and
reproduces its axes; it knows nothing of grouped-query attention, gated MLPs or tied embeddings.

**The exact count** is what the model computes, in matmul FLOPs (2 per multiply-add): query and
key/value projections at their own widths (grouped-query attention, explicit head width), the
three matrices of the gated MLP (or the router and the active experts of a MoE layer), the
attention score and mixing products over the full l × l square that dense kernels compute (a
causal flash kernel skips about half of it), and output logits where they are computed: every
position in training, the last one in a prefill (transformers' `generate` asks for
`logits_to_keep=1`). An embedding lookup is a gather, not a matmul, and costs nothing here, tied
or not. Backward costs twice the forward matmuls (one product for the input gradient, one for the
weight gradient), so a training step is 3 × forward. A generation of g tokens is a prefill, which
yields the first token, and g − 1 decode steps.

Neither count includes the element-wise work (softmax, RMSNorm, SiLU, rotary embeddings,
residual additions, biases): `torch.utils.flop_counter.FlopCounterMode`, against which the
tests check the exact count, does not see it either. It is O(l·d + l²·h) per layer, well under
1% of the matmuls from a few hundred thousand parameters up; the paper's 3l²h softmax term is its
only trace in either count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

REQUIRED_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_hidden_layers",
    "vocab_size",
)


@dataclass(frozen=True)
class Architecture:
    width: int
    ff_width: int
    heads: int
    kv_heads: int
    head_width: int
    layers: int
    vocab: int
    tied_embeddings: bool
    qkv_bias: bool = False
    output_bias: bool = False
    qk_norm: bool = False  # a norm on each head's queries and keys (Qwen3, Gemma 3)
    qk_norm_full: bool = False  # one norm over all queries and one over all keys (OLMo 2)
    mlp_bias: bool = False
    layer_norms: int = 2  # norm vectors of `width` per layer (Gemma 2 and 3: four)
    experts: int = 0
    experts_per_token: int = 0
    expert_ff_width: int = 0
    moe_layers: int = 0

    @property
    def query_width(self) -> int:
        return self.heads * self.head_width

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_width

    @property
    def dense_layers(self) -> int:
        return self.layers - self.moe_layers


class ConfigError(ValueError):
    """A model config that lacks what the counts need."""


def _moe_layer_count(config, layers: int) -> int:
    experts = getattr(config, "num_experts", 0) or 0
    if not experts:
        return 0
    step = getattr(config, "decoder_sparse_step", 1) or 1
    dense_only = set(getattr(config, "mlp_only_layers", None) or [])
    return sum(1 for i in range(layers) if i not in dense_only and (i + 1) % step == 0)


# Model types whose layers hold four norms (around attention and around the MLP), not two.
FOUR_NORM_TYPES = ("gemma2", "gemma3", "gemma3_text")
HEAD_QK_NORM_TYPES = ("qwen3", "gemma3")  # by prefix: qwen3, qwen3_moe, gemma3_text …
FULL_QK_NORM_TYPES = ("olmo2",)


def architecture(config) -> Architecture:
    """The shape of a decoder-only model from its Hugging Face config: Qwen2, Qwen3 (and MoE), and
    the Llama-like families (Llama, Mistral, SmolLM, Granite, Phi-3, Gemma 1–3, OLMo 2), whose
    parameters differ only in biases and norms; matmul FLOPs follow from the shape alone."""
    missing = [f for f in REQUIRED_FIELDS if getattr(config, f, None) is None]
    if missing:
        raise ConfigError(f"config has no {', '.join(missing)}: not a decoder-only transformer config")
    heads = config.num_attention_heads
    model_type = getattr(config, "model_type", "")
    layers = config.num_hidden_layers
    moe_layers = _moe_layer_count(config, layers)
    attention_bias = bool(getattr(config, "attention_bias", False))
    return Architecture(
        width=config.hidden_size,
        ff_width=config.intermediate_size,
        heads=heads,
        kv_heads=getattr(config, "num_key_value_heads", None) or heads,
        head_width=getattr(config, "head_dim", None) or config.hidden_size // heads,
        layers=layers,
        vocab=config.vocab_size,
        tied_embeddings=bool(getattr(config, "tie_word_embeddings", False)),
        # Qwen2 always biases q, k and v (not o); Qwen3 biases all four or none.
        qkv_bias=model_type == "qwen2" or attention_bias,
        output_bias=model_type != "qwen2" and attention_bias,
        qk_norm=model_type.startswith(HEAD_QK_NORM_TYPES),
        qk_norm_full=model_type.startswith(FULL_QK_NORM_TYPES),
        mlp_bias=bool(getattr(config, "mlp_bias", False)),
        layer_norms=4 if model_type in FOUR_NORM_TYPES else 2,
        experts=getattr(config, "num_experts", 0) if moe_layers else 0,
        experts_per_token=getattr(config, "num_experts_per_tok", 0) if moe_layers else 0,
        expert_ff_width=getattr(config, "moe_intermediate_size", 0) if moe_layers else 0,
        moe_layers=moe_layers,
    )


# --- parameters ------------------------------------------------------------------------------


def embedding_parameters(arch: Architecture) -> int:
    """The input embedding, plus the output layer when it is not tied to it."""
    return arch.vocab * arch.width * (1 if arch.tied_embeddings else 2)


def attention_parameters(arch: Architecture) -> int:
    d = arch.width
    weights = d * arch.query_width + 2 * d * arch.kv_width + arch.query_width * d
    biases = (arch.query_width + 2 * arch.kv_width) * arch.qkv_bias + d * arch.output_bias
    qk_norms = 2 * arch.head_width * arch.qk_norm + (arch.query_width + arch.kv_width) * arch.qk_norm_full
    return weights + biases + qk_norms


def mlp_parameters(arch: Architecture, moe: bool, active_only: bool = False) -> int:
    if not moe:
        return 3 * arch.width * arch.ff_width + (2 * arch.ff_width + arch.width) * arch.mlp_bias
    experts = arch.experts_per_token if active_only else arch.experts
    return arch.experts * arch.width + experts * 3 * arch.width * arch.expert_ff_width


def parameter_counts(arch: Architecture) -> dict[str, int]:
    """Total, non-embedding and active (per token; equal to total for dense models) parameters."""
    norms = arch.layer_norms * arch.width  # before attention and before the MLP (and after, in Gemma 2/3)
    dense_layer = attention_parameters(arch) + mlp_parameters(arch, moe=False) + norms
    moe_layer = attention_parameters(arch) + mlp_parameters(arch, moe=True) + norms
    active_moe_layer = attention_parameters(arch) + mlp_parameters(arch, moe=True, active_only=True) + norms
    body = arch.dense_layers * dense_layer + arch.width  # the final norm
    total = body + arch.moe_layers * moe_layer + embedding_parameters(arch)
    active = body + arch.moe_layers * active_moe_layer + embedding_parameters(arch)
    return {"total": total, "non_embedding": total - embedding_parameters(arch), "active": active}


# --- the paper's formula ---------------------------------------------------------------------


def _paper_layer(arch: Architecture, queries: int, keys: int) -> int:
    """One layer for `queries` new positions attending over `keys` positions."""
    d, h = arch.width, arch.heads
    attention = 6 * queries * d**2 + 2 * queries * keys * d + 3 * queries * keys * h
    attention += 2 * queries * keys * d + 2 * queries * d**2
    return attention + 4 * queries * d * arch.ff_width


def forward_flops(arch: Architecture, length: int) -> int:
    embedding = logits = 2 * length * arch.vocab * arch.width
    return embedding + arch.layers * _paper_layer(arch, length, length) + logits


def training_flops(arch: Architecture, lengths: Iterable[int]) -> int:
    """Σ over samples of 3 × forward at each sample's real (unpadded) length."""
    return sum(3 * forward_flops(arch, length) for length in lengths)


def prefill_flops(arch: Architecture, prompt_length: int) -> int:
    """forward(prompt) with the logits of the last position only."""
    unused_logits = 2 * (prompt_length - 1) * arch.width * arch.vocab
    return forward_flops(arch, prompt_length) - unused_logits


def decode_step_flops(arch: Architecture, context: int) -> int:
    """One new token attending over `context` cached positions (itself included)."""
    embedding = logits = 2 * arch.width * arch.vocab
    return embedding + arch.layers * _paper_layer(arch, 1, context) + logits


def decoding_flops(
    step: Callable[[Architecture, int], int], arch: Architecture, first: int, steps: int
) -> int:
    """Σ step(arch, first + i) for i in 0 … steps − 1: a step's count is affine in its context
    (attention over one more cached position each step), so the sum has a closed form, exact in
    integers: a unit's thousands of generations are counted at once."""
    if steps <= 0:
        return 0
    slope = step(arch, first + 1) - step(arch, first)
    return steps * step(arch, first) + slope * (steps * (steps - 1) // 2)


def inference_flops(arch: Architecture, prompt_length: int, generated: int) -> int:
    decoding = decoding_flops(decode_step_flops, arch, prompt_length + 1, generated)
    return prefill_flops(arch, prompt_length) + decoding


# --- the exact count -------------------------------------------------------------------------


def exact_layers(arch: Architecture, queries: int, keys: int) -> int:
    """Matmul FLOPs of every layer for `queries` positions attending over `keys` positions."""
    d = arch.width
    projections = 2 * queries * d * (2 * arch.query_width + 2 * arch.kv_width)  # q, k, v, o
    attention = 2 * 2 * arch.heads * queries * keys * arch.head_width  # scores, then mixing
    per_layer = projections + attention
    dense_mlp = 2 * queries * 3 * d * arch.ff_width
    router = 2 * queries * d * arch.experts
    experts = 2 * queries * arch.experts_per_token * 3 * d * arch.expert_ff_width
    return arch.layers * per_layer + arch.dense_layers * dense_mlp + arch.moe_layers * (router + experts)


def exact_forward_flops(arch: Architecture, length: int, logit_positions: int | None = None) -> int:
    """A forward pass over `length` tokens, logits at `logit_positions` of them (all by default)."""
    positions = length if logit_positions is None else logit_positions
    return exact_layers(arch, length, length) + 2 * positions * arch.width * arch.vocab


def exact_training_flops(arch: Architecture, lengths: Iterable[int]) -> int:
    return sum(3 * exact_forward_flops(arch, length) for length in lengths)


def corpus_training_flops(arch: Architecture, samples: int, length: int) -> tuple[int, int]:
    """Training FLOPs (the paper's formula, the exact count) for `samples` sequences all `length`
    tokens long: the estimate for a corpus known only by its size and mean length (it undercounts
    the quadratic attention terms of a spread of lengths)."""
    return samples * training_flops(arch, [length]), samples * exact_training_flops(arch, [length])


def exact_prefill_flops(arch: Architecture, prompt_length: int) -> int:
    return exact_forward_flops(arch, prompt_length, logit_positions=1)


def exact_decode_step_flops(arch: Architecture, context: int) -> int:
    return exact_layers(arch, 1, context) + 2 * arch.width * arch.vocab


def exact_inference_flops(arch: Architecture, prompt_length: int, generated: int) -> int:
    """Prefill (which yields the first token), then one decode step per further token."""
    steps = decoding_flops(exact_decode_step_flops, arch, prompt_length + 1, generated - 1)
    return exact_prefill_flops(arch, prompt_length) + steps


# --- one summary -----------------------------------------------------------------------------


def summary(arch: Architecture, samples: int, prompt: int, completion: int, generated: int) -> dict[str, int]:
    """Parameters, training FLOPs for `samples` sequences of `prompt` + `completion` tokens, and
    inference FLOPs for one generation of `generated` tokens after a `prompt`-token prompt."""
    if min(samples, prompt, completion, generated) < 0:
        raise ValueError("token and sample counts must not be negative")
    counts = parameter_counts(arch)
    lengths = [prompt + completion] * samples if prompt + completion else []
    generating = generated > 0 and prompt > 0
    return {
        "params_total": counts["total"],
        "params_non_embedding": counts["non_embedding"],
        "params_active": counts["active"],
        "train_flops_paper": training_flops(arch, lengths),
        "train_flops_exact": exact_training_flops(arch, lengths),
        "inference_flops_paper": inference_flops(arch, prompt, generated) if generating else 0,
        "inference_flops_exact": exact_inference_flops(arch, prompt, generated) if generating else 0,
    }
