"""LLM teacher backends and the two-mode teacher, on CPU with tiny local stand-ins.

The stand-in teacher is a random Qwen3-architecture model (hidden width 16, one layer) whose
tokenizer carries the real Qwen3 chat template shipped by TRL; its output is noise, so through the
real backend almost every pair is rejected, and a scripted backend checks the well-formed path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from huggingface_hub.errors import LocalEntryNotFoundError
from transformers import Qwen3Config, Qwen3ForCausalLM

from scale_or_reason.core.hub import HubUnreachableError, is_unreachable, load_tokenizer
from scale_or_reason.core.thinking import EMPTY_THINK_BLOCK, split_reasoning
from scale_or_reason.data.backends import (
    Decoding,
    Generation,
    TransformersBackend,
    load_backend,
    transformers_sampling,
    trim_at_eos,
    vllm_sampling_kwargs,
)
from scale_or_reason.data.llm_teacher import (
    NON_THINKING_DECODING,
    THINKING_DECODING,
    NoThinkingSwitch,
    check_thinking_switch,
    render_prompts,
    teach,
)
from scale_or_reason.data.teachers import PAIR_COLUMNS, prompt_key
from scale_or_reason.data.tokenizer import build_tokenizer

# TRL ships the real Qwen3 templates; found without importing TRL (slow to import).
TEMPLATES = Path(importlib.util.find_spec("trl").origin).parent / "chat_templates"
QWEN3_TEMPLATE = (TEMPLATES / "qwen3.jinja").read_text()
INSTRUCT_2507_TEMPLATE = (TEMPLATES / "qwen3_instruct_2507.jinja").read_text()
# Thinking-2507's template is Instruct-2507's with the think block opened in the generation prompt.
THINKING_2507_TEMPLATE = INSTRUCT_2507_TEMPLATE.replace(
    "{{- '<|im_start|>assistant\\n' }}\n{%- endif %}",
    "{{- '<|im_start|>assistant\\n<think>\\n' }}\n{%- endif %}",
)
PROMPTS = [
    "What is 17 + 25? Put the final answer in \\boxed{}.",
    "Name the capital of France.",
    "Sort the list 3, 1, 2.",
    "Which is larger, 9 or 12? Answer with the letter: (A) 9 (B) 12",
    "Spell cat backwards.",
    "What day follows Monday?",
]


def tiny_tokenizer(template: str):
    corpus = [
        f"<|im_start|>user\n{p}<|im_end|>\n<|im_start|>assistant\n<think>\nstep\n</think>\n\n"
        for p in PROMPTS
    ]
    tokenizer = build_tokenizer(corpus * 4, 300)
    tokenizer.chat_template = template
    return tokenizer


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory) -> Path:
    """A random Qwen3-architecture model with a Qwen3-shaped tokenizer, saved as a local folder."""
    folder = tmp_path_factory.mktemp("tiny-qwen3")
    tokenizer = tiny_tokenizer(QWEN3_TEMPLATE)
    for token in ("<|im_start|>", "<|im_end|>", "<think>", "</think>"):
        assert tokenizer.convert_tokens_to_ids(token) != tokenizer.unk_token_id, token
    end_of_turn, end_of_text = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        eos_token_id=end_of_turn,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config)
    # As Qwen3's generation config: either end token stops a turn.
    model.generation_config.eos_token_id = [end_of_turn, end_of_text]
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_backend(tiny_qwen3) -> TransformersBackend:
    return load_backend("transformers", str(tiny_qwen3))


class ScriptedBackend:
    """The Backend protocol with fixed answers per (user prompt, thinking), recording each call."""

    def __init__(self, tokenizer, script: dict[tuple[str, bool], Generation]):
        self.tokenizer, self.script, self.calls = tokenizer, script, []

    def generate(self, prompts: list[str], decoding: Decoding, seed: int = 0) -> list[Generation]:
        self.calls.append((prompts, decoding, seed))
        answers = []
        for rendered in prompts:
            user = rendered.split("<|im_start|>user\n")[1].split("<|im_end|>")[0]
            answers.append(self.script[(user, not rendered.endswith(EMPTY_THINK_BLOCK))])
        return answers


# --- prompts and the thinking switch ---


def test_rendered_prompts_carry_an_empty_think_block_only_with_thinking_off():
    tokenizer = tiny_tokenizer(QWEN3_TEMPLATE)
    off = render_prompts(tokenizer, PROMPTS[:2], thinking=False)
    on = render_prompts(tokenizer, PROMPTS[:2], thinking=True)
    assert (
        off[0] == f"<|im_start|>user\n{PROMPTS[0]}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    assert on[0] == f"<|im_start|>user\n{PROMPTS[0]}<|im_end|>\n<|im_start|>assistant\n"
    assert all("<think>" not in text for text in on) and all(text.endswith(EMPTY_THINK_BLOCK) for text in off)


def test_a_hybrid_qwen3_template_passes_the_switch_check():
    check_thinking_switch(tiny_tokenizer(QWEN3_TEMPLATE), "tiny-qwen3")


@pytest.mark.parametrize(
    ("template", "says"),
    [(INSTRUCT_2507_TEMPLATE, "never thinks"), (THINKING_2507_TEMPLATE, "always thinks")],
    ids=["instruct-2507", "thinking-2507"],
)
def test_2507_templates_are_refused(template, says):
    assert template != QWEN3_TEMPLATE
    with pytest.raises(NoThinkingSwitch, match=says) as refusal:
        check_thinking_switch(tiny_tokenizer(template), "Qwen/Qwen3-235B-A22B-2507")
    assert "enable_thinking" in str(refusal.value) and "Qwen/Qwen3-235B-A22B-2507" in str(refusal.value)


def test_teach_refuses_a_2507_teacher_before_generating():
    backend = ScriptedBackend(tiny_tokenizer(INSTRUCT_2507_TEMPLATE), {})
    with pytest.raises(NoThinkingSwitch):
        teach(backend, PROMPTS[:1], seed=0)
    assert backend.calls == []


# --- splitting a thinking answer ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>\nAdd.\n</think>\n\n\\boxed{4}", ("Add.", "\\boxed{4}", True)),
        ("Add.\n</think>\n\n\\boxed{4}", ("Add.", "\\boxed{4}", True)),  # opening tag in the prompt
        ("<think>a</think>b<think>c</think>\nd", ("a</think>b<think>c", "d", True)),  # last close wins
        ("<think>\nstill going", ("still going", "", False)),
        ("\\boxed{4}", ("\\boxed{4}", "", False)),
        ("<think>a</think>b<think>c", ("a</think>b<think>c", "", False)),  # reopened after the close
        ("<think>\nAdd.\n</think>\n\n", ("Add.", "", True)),
    ],
    ids=["closed", "no-opening-tag", "multiple", "unclosed", "no-block", "reopened", "no-answer"],
)
def test_split_reasoning(text, expected):
    assert split_reasoning(text) == expected


# --- backends ---


def test_decoding_defaults_follow_the_qwen3_model_card():
    assert (THINKING_DECODING.temperature, THINKING_DECODING.top_p, THINKING_DECODING.top_k) == (
        0.6,
        0.95,
        20,
    )
    assert (NON_THINKING_DECODING.temperature, NON_THINKING_DECODING.top_p, NON_THINKING_DECODING.top_k) == (
        0.7,
        0.8,
        20,
    )


def test_vllm_sampling_params_keywords():
    assert vllm_sampling_kwargs(
        Decoding(temperature=0.6, top_p=0.95, top_k=20, max_new_tokens=512), seed=7
    ) == {
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": 20,
        "max_tokens": 512,
        "seed": 7,
    }
    assert (
        vllm_sampling_kwargs(Decoding(temperature=0.0, top_p=1.0, top_k=0, max_new_tokens=64), seed=0)[
            "top_k"
        ]
        == -1
    ), "vLLM's 'no top-k' is -1"


def test_transformers_sampling_is_greedy_at_temperature_zero():
    assert transformers_sampling(Decoding(temperature=0.0, top_p=0.9, top_k=20, max_new_tokens=32)) == {
        "do_sample": False,
        "max_new_tokens": 32,
    }
    sampled = transformers_sampling(Decoding(temperature=0.7, top_p=0.8, top_k=20, max_new_tokens=32))
    assert sampled == {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "max_new_tokens": 32}


def test_a_missing_vllm_says_how_to_install_it(monkeypatch, tiny_qwen3):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail even where it is installed
    with pytest.raises(ImportError, match="pip install vllm"):
        load_backend("vllm", str(tiny_qwen3), tensor_parallel_size=2)


def test_an_unreachable_hub_id_names_the_offline_alternative(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read once, at import
    with pytest.raises(HubUnreachableError) as unreachable:
        load_backend("transformers", "Scale-or-Reason-tests/absent-teacher")
    message = str(unreachable.value)
    assert "Scale-or-Reason-tests/absent-teacher" in message and "HF_HUB_OFFLINE" in message
    assert "local folder" in message


def test_a_missing_local_folder_is_not_blamed_on_the_hub(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OSError) as missing:
        load_backend("transformers", str(tmp_path / "no" / "such" / "model"))
    assert not isinstance(missing.value, HubUnreachableError)


def test_unreachable_is_read_from_the_cause_chain(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    try:
        try:
            raise LocalEntryNotFoundError("not cached and no connection")
        except LocalEntryNotFoundError as cause:
            raise OSError("We couldn't connect to 'https://huggingface.co'") from cause
    except OSError as error:
        assert is_unreachable(error)
    assert not is_unreachable(OSError("gpt-x is not a valid model identifier"))
    assert not is_unreachable(ValueError("bad config"))


def test_trim_at_eos_counts_real_tokens_only():
    end, pad = 2, 0
    assert trim_at_eos([5, 7, end, pad, pad], {end, pad}) == ([5, 7], 3, True)
    assert trim_at_eos([5, 7, 9], {end}) == ([5, 7, 9], 3, False)
    assert trim_at_eos([end, pad], {end}) == ([], 1, True)


def test_left_padded_batches_generate_what_single_prompts_do(tiny_backend):
    rendered = render_prompts(tiny_backend.tokenizer, PROMPTS, thinking=True)
    greedy = Decoding(temperature=0.0, top_p=1.0, top_k=0, max_new_tokens=6)
    batched = tiny_backend.generate(rendered, greedy)
    alone = [tiny_backend.generate([prompt], greedy)[0] for prompt in rendered]
    assert batched == alone
    for generation in batched:
        assert 1 <= generation.tokens <= 6
        assert generation.finished or generation.tokens == 6


def test_a_model_that_ends_its_turn_at_once_is_finished(tiny_qwen3):
    backend = load_backend("transformers", str(tiny_qwen3))
    with torch.no_grad():
        backend.model.model.norm.weight.zero_()  # every logit 0: greedy picks id 0, an end token
    assert backend.tokenizer.convert_ids_to_tokens(0) == "<|endoftext|>" and 0 in backend.eos_ids
    greedy = Decoding(temperature=0.0, top_p=1.0, top_k=0, max_new_tokens=6)
    rendered = render_prompts(backend.tokenizer, PROMPTS, thinking=True)
    assert backend.generate(rendered, greedy) == [Generation(text="", tokens=1, finished=True)] * len(PROMPTS)
    pairs, report = teach(backend, PROMPTS, thinking_decoding=greedy, non_thinking_decoding=greedy)
    assert len(pairs) == 0 and report["rejected"] == len(PROMPTS)
    assert {reason: count for reason, count in report["reasons"].items() if count} == {
        "reasoning_unclosed": len(PROMPTS),
        "ift_empty": len(PROMPTS),
    }


def test_sampling_is_seeded(tiny_backend):
    rendered = render_prompts(tiny_backend.tokenizer, PROMPTS[:3], thinking=False)
    sampling = Decoding(temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=8)
    first = tiny_backend.generate(rendered, sampling, seed=3)
    assert tiny_backend.generate(rendered, sampling, seed=3) == first
    assert tiny_backend.generate(rendered, sampling, seed=4) != first


def test_transformers_backend_refuses_tensor_parallelism(tiny_qwen3):
    with pytest.raises(ValueError, match="vllm"):
        load_backend("transformers", str(tiny_qwen3), tensor_parallel_size=2)
    with pytest.raises(ValueError, match="unknown backend"):
        load_backend("sglang", str(tiny_qwen3))


# --- the two-mode teacher ---


def test_teach_counts_and_rejects_the_noise_of_a_random_model(tiny_backend):
    limit = 8
    pairs, report = teach(
        tiny_backend,
        PROMPTS,
        corpus="general",
        thinking_decoding=Decoding(temperature=0.6, top_p=0.95, top_k=20, max_new_tokens=limit),
        non_thinking_decoding=Decoding(temperature=0.7, top_p=0.8, top_k=20, max_new_tokens=limit),
        seed=0,
    )
    rejected = report["rejected_rows"]
    assert report["prompts"] == len(PROMPTS) and report["kept"] == len(pairs) == 0
    assert report["rejected"] == len(rejected) == len(PROMPTS)
    for row in rejected:
        assert ("reasoning_truncated" in row["reasons"]) == (not row["reasoning_finished"])
        assert ("ift_truncated" in row["reasons"]) == (not row["ift_finished"])
        assert ("reasoning_unclosed" in row["reasons"]) == (
            split_reasoning(row["reasoning_output"])[2] is False
        )
        assert row["reasoning_finished"] or row["reasoning_tokens"] == limit
    for reason, count in report["reasons"].items():
        assert count == sum(reason in row["reasons"] for row in rejected), reason
    assert report["reasons"]["reasoning_unclosed"] > 0 and report["reasons"]["reasoning_truncated"] > 0


SCRIPT_PROMPTS = {
    "good": "What is 2 + 2?",
    "opening-in-prompt": "Half of one?",
    "no-box": "Capital of France?",
    "unclosed-cut": "Count to a million.",
    "ift-cut": "Write an essay.",
    "answer-cut": "Long answer?",
    "ift-thinks": "Think anyway?",
}


def scripted(kind: str, thinking: bool) -> Generation:
    answers = {
        "good": ("<think>\nAdd 2 and 2.\n</think>\n\nThe answer is \\boxed{4}.", "\\boxed{4}"),
        "opening-in-prompt": (
            "One over two.\n</think>\n\n\\boxed{\\frac{1}{2}}",
            "<think>\n\n</think>\n\nIt is \\boxed{\\frac{1}{2}}",
        ),
        "no-box": ("<think>\nFrance.\n</think>\n\nParis.", "Paris."),
        "unclosed-cut": ("<think>\n1, 2, 3", "\\boxed{1000000}"),
        "ift-cut": ("<think>\nPlan.\n</think>\n\nAn essay.", "Once upon"),
        "answer-cut": ("<think>\nx\n</think>\n\nThe ans", "\\boxed{x}"),
        "ift-thinks": ("<think>\ny\n</think>\n\n\\boxed{1}", "<think>\nhmm\n</think>\n\n\\boxed{1}"),
    }
    text = answers[kind][0 if thinking else 1]
    cut = {"unclosed-cut": thinking, "ift-cut": not thinking, "answer-cut": thinking}.get(kind, False)
    return Generation(text=text, tokens=100 if cut else len(text) // 2, finished=not cut)


def test_teach_builds_well_formed_pairs_and_rejects_the_rest(tiny_qwen3):
    script = {
        (prompt, thinking): scripted(kind, thinking)
        for kind, prompt in SCRIPT_PROMPTS.items()
        for thinking in (True, False)
    }
    backend = ScriptedBackend(load_tokenizer(str(tiny_qwen3)), script)
    thinking, direct = (
        Decoding(temperature=0.6, top_p=0.95, top_k=20, max_new_tokens=100),
        Decoding(temperature=0.7, top_p=0.8, top_k=20, max_new_tokens=100),
    )
    prompts = list(SCRIPT_PROMPTS.values())
    pairs, report = teach(
        backend, prompts, corpus="math", thinking_decoding=thinking, non_thinking_decoding=direct, seed=11
    )

    (on_prompts, on_decoding, on_seed), (off_prompts, off_decoding, off_seed) = backend.calls
    assert on_decoding == thinking and off_decoding == direct and on_seed == off_seed == 11
    assert on_prompts == render_prompts(backend.tokenizer, prompts, True)
    assert off_prompts == render_prompts(backend.tokenizer, prompts, False)

    assert pairs.column_names == [*PAIR_COLUMNS, "ift_tokens", "reasoning_tokens"]
    rows = {row["prompt"]: row for row in pairs}
    assert sorted(rows) == sorted(SCRIPT_PROMPTS[k] for k in ("good", "opening-in-prompt", "no-box"))
    good = rows["What is 2 + 2?"]
    assert good["reasoning"] == "<think>\nAdd 2 and 2.\n</think>\n\nThe answer is \\boxed{4}."
    assert good["ift"] == "\\boxed{4}" and good["answer"] == "4"
    assert good["id"] == "math-train-00000" and good["key"] == prompt_key("What is 2 + 2?")
    assert (good["family"], good["domain"], good["task"], good["question_format"], good["variant"]) == (
        "math",
        "math",
        "math",
        "mixed",
        "train",
    )
    expected_tokens = scripted("good", True).tokens, scripted("good", False).tokens
    assert (good["reasoning_tokens"], good["ift_tokens"]) == expected_tokens
    half = rows["Half of one?"]
    assert half["reasoning"] == "<think>\nOne over two.\n</think>\n\n\\boxed{\\frac{1}{2}}"
    assert half["ift"] == "It is \\boxed{\\frac{1}{2}}" and half["answer"] == "\\frac{1}{2}"
    assert rows["Capital of France?"]["answer"] == ""

    rejected = {row["prompt"]: row["reasons"] for row in report["rejected_rows"]}
    assert rejected == {
        "Count to a million.": ["reasoning_unclosed", "reasoning_truncated"],
        "Write an essay.": ["ift_truncated"],
        "Long answer?": ["reasoning_truncated"],
        "Think anyway?": ["ift_thinks"],
    }
    assert (report["prompts"], report["kept"], report["rejected"]) == (7, 3, 4)
    assert report["reasons"] == {
        "reasoning_unclosed": 1,
        "reasoning_truncated": 2,
        "reasoning_no_answer": 0,
        "ift_truncated": 1,
        "ift_empty": 0,
        "ift_thinks": 1,
    }
