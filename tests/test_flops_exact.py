"""The exact count against reality: PyTorch's FLOP counter on real Qwen2 and Qwen3 models, and the
published parameter counts of the Qwen2.5 ladder and of the Qwen3 MoE teacher."""

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, AutoModelForCausalLM

from conftest import REPO
from scale_or_reason.cli import main
from scale_or_reason.config.paths import MODEL_CONFIGS_DIR
from scale_or_reason.core import flops

CONFIGS = MODEL_CONFIGS_DIR  # the packaged configs of the paper's models
TINY = [
    # family, width, layers, heads, kv heads, explicit head width, tied
    ("qwen2", 32, 1, 2, 1, None, True),
    ("qwen2", 64, 3, 4, 2, None, False),
    ("qwen2", 96, 2, 6, 6, None, True),
    ("qwen3", 48, 2, 4, 1, 16, False),
    ("qwen3", 64, 3, 8, 2, 24, True),
    # other families a study may name as its students
    ("llama", 48, 2, 4, 2, None, False),
    ("gemma", 48, 2, 4, 1, 24, True),
    ("phi3", 64, 2, 4, 4, None, False),
]
# Families whose parameters are checked too (their norms and biases differ; FLOPs do not).
MORE_FAMILIES = [
    ("gemma2", 48, 2, 4, 2, 16, True),
    ("gemma3_text", 48, 2, 4, 2, 16, True),
    ("olmo2", 48, 2, 4, 2, None, False),
    ("mistral", 48, 2, 4, 2, None, False),
    ("smollm3", 48, 2, 4, 2, None, True),
]


def tiny_model(family, width, layers, heads, kv_heads, head_width, tied):
    extra = {"head_dim": head_width} if head_width else {}
    config = AutoConfig.for_model(
        family,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        vocab_size=211,
        hidden_size=width,
        intermediate_size=width * 3 - 8,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        tie_word_embeddings=tied,
        max_position_embeddings=256,
        **extra,
    )
    # The CPU SDPA kernel has no FLOP formula: the counter would silently miss attention.
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config)


def counted(run) -> int:
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops()


@pytest.mark.parametrize("shape", TINY + MORE_FAMILIES, ids=lambda s: "-".join(map(str, s)))
def test_parameters_match_the_model(shape):
    model = tiny_model(*shape)
    assert flops.parameter_counts(flops.architecture(model.config))["total"] == sum(
        p.numel() for p in model.parameters()
    )


@pytest.mark.parametrize("shape", TINY, ids=lambda s: "-".join(map(str, s)))
def test_a_training_step_matches_the_flop_counter(shape):
    model = tiny_model(*shape)
    batch = torch.randint(0, 211, (3, 37))

    def step():
        model(input_ids=batch, labels=batch).loss.backward()

    exact = flops.exact_training_flops(flops.architecture(model.config), [37] * 3)
    assert counted(step) == pytest.approx(exact, rel=0.02)


@pytest.mark.parametrize("shape", TINY, ids=lambda s: "-".join(map(str, s)))
def test_a_generation_matches_the_flop_counter(shape):
    model = tiny_model(*shape).eval()
    prompt = torch.randint(0, 211, (1, 23))

    def generate():
        with torch.no_grad():
            model.generate(
                input_ids=prompt, max_new_tokens=9, min_new_tokens=9, do_sample=False, pad_token_id=0
            )

    exact = flops.exact_inference_flops(flops.architecture(model.config), 23, 9)
    assert counted(generate) == pytest.approx(exact, rel=0.02)


def test_the_paper_formula_differs_from_the_counter_where_it_should():
    """GQA and the gated MLP make the paper's count wrong for the model, in a known direction."""
    model = tiny_model("qwen2", 64, 3, 4, 1, None, True)
    arch = flops.architecture(model.config)
    # one query head per four: the paper's 6ld² for QKV overcounts K and V
    assert flops.training_flops(arch, [37]) != flops.exact_training_flops(arch, [37])


# Published totals (Hugging Face model pages, safetensors) and model-card non-embedding counts
# (billions, as printed). The 14B card prints 13.1B non-embedding; total minus both embedding
# matrices is 13.21B, so the card is not asserted there.
QWEN25 = {
    "qwen2.5-0.5b": (494_032_768, 0.36),
    "qwen2.5-1.5b": (1_543_714_304, 1.31),
    "qwen2.5-3b": (3_085_938_688, 2.77),
    "qwen2.5-7b": (7_615_616_512, 6.53),
    "qwen2.5-14b": (14_770_033_664, None),
}


def fixture_architecture(name):
    return flops.architecture(AutoConfig.from_pretrained(str(CONFIGS / f"{name}.json")))


@pytest.mark.parametrize("name", QWEN25)
def test_qwen25_ladder_parameter_counts_match_the_published_totals(name):
    total, non_embedding = QWEN25[name]
    counts = flops.parameter_counts(fixture_architecture(name))
    assert counts["total"] == total
    assert counts["active"] == total
    if non_embedding is not None:
        assert round(counts["non_embedding"] / 1e9, 2) == non_embedding


def test_qwen3_moe_teacher_total_and_active_parameters():
    counts = flops.parameter_counts(fixture_architecture("qwen3-235b-a22b"))
    assert round(counts["total"] / 1e9) == 235
    assert round(counts["active"] / 1e9) == 22
    assert counts["total"] == 235_093_634_560


def test_moe_flops_count_only_the_active_experts():
    arch = fixture_architecture("qwen3-235b-a22b")
    per_token = flops.exact_forward_flops(arch, 1)
    # a forward of one token is about twice the active parameters, not the total
    assert 1.9 < per_token / flops.parameter_counts(arch)["active"] < 2.1


def sor_flops(*args):
    return subprocess.run(
        [sys.executable, "-m", "scale_or_reason.cli", "flops", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={"HF_HUB_OFFLINE": "1", "PATH": ""},
    )


def test_sor_flops_prints_both_counts_as_json(tmp_path):
    finished = sor_flops(
        "--config",
        str(CONFIGS / "qwen2.5-0.5b.json"),
        "--samples",
        "2",
        "--prompt-tokens",
        "100",
        "--completion-tokens",
        "400",
        "--generated-tokens",
        "50",
    )
    assert finished.returncode == 0, finished.stderr
    counts = json.loads(finished.stdout)
    arch = fixture_architecture("qwen2.5-0.5b")
    assert counts["params_total"] == 494_032_768
    assert counts["train_flops_exact"] == flops.exact_training_flops(arch, [500, 500])
    assert counts["train_flops_paper"] == flops.training_flops(arch, [500, 500])
    assert counts["inference_flops_exact"] == flops.exact_inference_flops(arch, 100, 50)
    assert counts["inference_flops_paper"] == flops.inference_flops(arch, 100, 50)
    # a checkpoint folder works the same as its config.json
    (tmp_path / "config.json").write_text((CONFIGS / "qwen2.5-0.5b.json").read_text())
    assert json.loads(sor_flops("--config", str(tmp_path)).stdout)["params_total"] == 494_032_768


@pytest.mark.parametrize(
    "args,message",
    [
        (["--config", "/no/such/config.json"], "no model config at /no/such/config.json"),
        (
            ["--config", str(CONFIGS / "qwen2.5-0.5b.json"), "--samples", "-3"],
            "argument --samples: -3 is negative",
        ),
        (
            ["--config", str(CONFIGS / "qwen2.5-0.5b.json"), "--prompt-tokens", "ten"],
            "'ten' is not a whole number",
        ),
        (["--config", "pyproject.toml"], "pyproject.toml: not a JSON model config"),
    ],
)
def test_sor_flops_bad_input_gets_one_line_and_status_2(args, message):
    finished = sor_flops(*args)
    assert finished.returncode == 2
    assert message in finished.stderr
    assert len(finished.stderr.strip().splitlines()) == 1


def test_sor_flops_refuses_a_config_without_the_needed_fields(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "qwen2", "hidden_size": None, "vocab_size": 10}))
    finished = sor_flops("--config", str(config))
    assert finished.returncode == 2
    assert (
        "config has no hidden_size, intermediate_size, num_attention_heads, num_hidden_layers"
        in finished.stderr
    )
    config.write_text(
        json.dumps(
            {
                "model_type": "my_decoder",
                "hidden_size": 8,
                "intermediate_size": 16,
                "num_attention_heads": 2,
                "num_hidden_layers": 1,
                "vocab_size": 10,
            }
        )
    )
    counted = json.loads(sor_flops("--config", str(config)).stdout)
    assert (
        counted["params_total"]
        == flops.parameter_counts(flops.architecture(SimpleNamespace(**json.loads(config.read_text()))))[
            "total"
        ]
    )


def test_decoding_is_counted_in_closed_form_to_the_same_integer_as_step_by_step():
    for arch in (fixture_architecture("qwen2.5-0.5b"), fixture_architecture("qwen3-235b-a22b")):
        for prompt, generated in ((1, 1), (37, 2), (120, 977), (4000, 31)):
            steps = sum(flops.exact_decode_step_flops(arch, prompt + i) for i in range(1, generated))
            assert (
                flops.exact_inference_flops(arch, prompt, generated)
                == flops.exact_prefill_flops(arch, prompt) + steps
            )
            paper = sum(flops.decode_step_flops(arch, prompt + i) for i in range(1, generated + 1))
            assert flops.inference_flops(arch, prompt, generated) == flops.prefill_flops(arch, prompt) + paper


def test_sor_flops_without_token_counts_says_its_flops_are_zero(capsys):
    assert main(["flops", "--config", str(CONFIGS / "qwen2.5-0.5b.json")]) == 0
    out, err = capsys.readouterr()
    counts = json.loads(out)
    assert counts["params_total"] == 494_032_768 and counts["train_flops_exact"] == 0
    assert "parameter counts only, every FLOPs figure is 0" in err
