"""FLOPs by the paper's formula (arXiv 2509.22193, appendix; Chinchilla-style).

For a sequence of l tokens, model width d, feed-forward width d_ff, h heads, L layers and a
vocabulary of V entries, one forward pass costs

    2lVd                                        input embedding (counted as a matmul)
  + L(6ld² + 2l²d + 3l²h + 2l²d + 2ld²)         attention: QKV, scores, softmax, mixing, output
  + L·4ld·d_ff                                  feed-forward (two matrices, as the paper writes it)
  + 2ldV                                        output logits

Training costs 3 × forward (forward + backward) per sample at its own real length. Inference is
a prefill of the prompt (logits for its last position only) plus one cached decode step per
generated token; the step that handles generated token i attends over c = prompt + i positions.

The formula is the paper's and reproduces its axes; it ignores grouped-query attention, the third
matrix of a gated MLP and tied embeddings, which an exact count of the architecture would not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Dimensions:
    width: int
    ff_width: int
    heads: int
    layers: int
    vocab: int


def dimensions(config) -> Dimensions:
    """The five numbers the formula needs, read from a Hugging Face model config."""
    return Dimensions(
        width=config.hidden_size,
        ff_width=config.intermediate_size,
        heads=config.num_attention_heads,
        layers=config.num_hidden_layers,
        vocab=config.vocab_size,
    )


def _layer_flops(dims: Dimensions, queries: int, keys: int) -> int:
    """One layer for `queries` new positions attending over `keys` positions."""
    d, h = dims.width, dims.heads
    attention = 6 * queries * d**2 + 2 * queries * keys * d + 3 * queries * keys * h
    attention += 2 * queries * keys * d + 2 * queries * d**2
    return attention + 4 * queries * d * dims.ff_width


def forward_flops(dims: Dimensions, length: int) -> int:
    embedding = logits = 2 * length * dims.vocab * dims.width
    return embedding + dims.layers * _layer_flops(dims, length, length) + logits


def training_flops(dims: Dimensions, lengths: Iterable[int]) -> int:
    """Σ over samples of 3 × forward at each sample's real (unpadded) length."""
    return sum(3 * forward_flops(dims, length) for length in lengths)


def prefill_flops(dims: Dimensions, prompt_length: int) -> int:
    """forward(prompt) with the logits of the last position only."""
    unused_logits = 2 * (prompt_length - 1) * dims.width * dims.vocab
    return forward_flops(dims, prompt_length) - unused_logits


def decode_step_flops(dims: Dimensions, context: int) -> int:
    """One new token attending over `context` cached positions (itself included)."""
    embedding = logits = 2 * dims.width * dims.vocab
    return embedding + dims.layers * _layer_flops(dims, 1, context) + logits


def inference_flops(dims: Dimensions, prompt_length: int, generated: int) -> int:
    decoding = sum(decode_step_flops(dims, prompt_length + i) for i in range(1, generated + 1))
    return prefill_flops(dims, prompt_length) + decoding
