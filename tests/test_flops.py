"""The paper's FLOPs formula, term by term, on dimensions small enough to check by hand."""

from types import SimpleNamespace

import pytest

from scale_or_reason.core import flops
from scale_or_reason.core.flops import Architecture


def shape(width, ff_width, heads, layers, vocab, kv_heads=None, head_width=None, tied=True) -> Architecture:
    return Architecture(
        width=width,
        ff_width=ff_width,
        heads=heads,
        kv_heads=kv_heads or heads,
        head_width=head_width or width // heads,
        layers=layers,
        vocab=vocab,
        tied_embeddings=tied,
    )


DIMS = shape(width=4, ff_width=8, heads=2, layers=3, vocab=10)


def test_forward_flops_by_hand():
    l, d, d_ff, h, L, V = 5, 4, 8, 2, 3, 10  # noqa: E741 (the paper's symbols)
    expected = 2 * l * V * d + L * (6 * l * d**2 + 2 * l**2 * d + 3 * l**2 * h + 2 * l**2 * d + 2 * l * d**2)
    expected += L * 4 * l * d * d_ff + 2 * l * d * V
    assert expected == 400 + 3 * (480 + 200 + 150 + 200 + 160) + 1920 + 400
    assert flops.forward_flops(DIMS, 5) == expected


def test_training_is_three_forwards_per_sample_at_its_own_length():
    assert flops.training_flops(DIMS, [5, 7]) == 3 * (
        flops.forward_flops(DIMS, 5) + flops.forward_flops(DIMS, 7)
    )
    assert flops.training_flops(DIMS, []) == 0


def test_decode_step_by_hand():
    c, d, d_ff, h, L, V = 6, 4, 8, 2, 3, 10
    expected = (
        2 * d * V
        + L * (6 * d**2 + 2 * c * d + 3 * c * h + 2 * c * d + 2 * d**2)
        + L * 4 * d * d_ff
        + 2 * d * V
    )
    assert flops.decode_step_flops(DIMS, 6) == expected


def test_prefill_computes_logits_for_the_last_position_only():
    assert flops.forward_flops(DIMS, 5) - flops.prefill_flops(DIMS, 5) == 2 * 4 * 4 * 10
    assert flops.prefill_flops(DIMS, 1) == flops.forward_flops(DIMS, 1)


def test_inference_adds_one_decode_step_per_generated_token_at_the_growing_context():
    prompt = 5
    expected = flops.prefill_flops(DIMS, prompt) + sum(
        flops.decode_step_flops(DIMS, prompt + i) for i in (1, 2, 3)
    )
    assert flops.inference_flops(DIMS, prompt, 3) == expected
    assert flops.inference_flops(DIMS, prompt, 0) == flops.prefill_flops(DIMS, prompt)


def test_the_shape_comes_from_a_hugging_face_config():
    config = SimpleNamespace(
        model_type="qwen2",
        hidden_size=896,
        intermediate_size=4864,
        num_attention_heads=14,
        num_key_value_heads=2,
        num_hidden_layers=24,
        vocab_size=151936,
        tie_word_embeddings=True,
    )
    arch = flops.architecture(config)
    assert (arch.width, arch.heads, arch.kv_heads, arch.head_width, arch.query_width, arch.kv_width) == (
        896,
        14,
        2,
        64,
        896,
        128,
    )
    assert arch.qkv_bias and not arch.output_bias and not arch.qk_norm and arch.tied_embeddings


def test_a_config_without_the_needed_fields_is_refused():
    with pytest.raises(flops.ConfigError, match="config has no hidden_size"):
        flops.architecture(
            SimpleNamespace(
                model_type="bert",
                intermediate_size=1,
                num_attention_heads=1,
                num_hidden_layers=1,
                vocab_size=1,
            )
        )


@pytest.mark.parametrize("length", [1, 64, 512])
def test_without_attention_the_forward_is_twice_the_paper_parameter_count_per_token(length):
    """Sanity check against the usual 2N-per-token rule: with the attention terms removed, the
    formula is 2 × (embedding + 8d² per layer for QKVO + 4d·d_ff + unembedding) per token."""
    d, d_ff, L, V = 896, 4864, 24, 151936
    dims = shape(d, d_ff, 14, L, V)
    attention = L * (2 * length**2 * d + 3 * length**2 * 14 + 2 * length**2 * d)
    matmul_parameters = V * d + L * (4 * d * d + 2 * d * d_ff) + d * V
    assert flops.forward_flops(dims, length) - attention == 2 * length * matmul_parameters
