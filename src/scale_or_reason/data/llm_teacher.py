"""LLM teacher: one hybrid-thinking model answers every prompt twice, thinking off and on.

- thinking off (`enable_thinking=False`): Qwen3's template puts an empty think block in the
  generation prompt, the model answers directly: the IFT target;
- thinking on: the model writes `<think>trace</think>` then its answer: the reasoning target.

A pair is kept only when both answers are whole: the trace closed, neither answer cut at the token
limit. Every other prompt goes to a `rejected` table with its reasons and is counted in the report,
never kept or dropped silently (a cut trace has lost its answer; keeping it would teach the student
to stop mid-thought, dropping it unseen would bias the corpus toward easy prompts).

Teachers whose template ignores `enable_thinking` are refused (the Qwen3 2507 releases: Instruct
never thinks, Thinking always does), since they cannot answer one prompt both ways.
"""

from __future__ import annotations

import logging
from collections import Counter

from datasets import Dataset, Features, List, Value
from transformers import PreTrainedTokenizerBase

from ..config.params import TeacherDecoding
from ..core.thinking import THINK_CLOSE, THINK_OPEN, format_reasoning, split_reasoning, strip_empty_think
from .backends import Backend, Decoding, Generation
from .teachers import PAIR_COLUMNS, corpus_pair, prompt_key

logger = logging.getLogger(__name__)

# Qwen3 model card, "Best Practices": sampling settings per mode and an output budget of 32,768
# tokens (greedy decoding makes thinking mode repeat itself endlessly).
# The defaults live in one place, the parameters (`teacher.decoding`): the Qwen3 model card's.
THINKING_DECODING = TeacherDecoding().thinking
NON_THINKING_DECODING = TeacherDecoding().non_thinking

PROBE_PROMPT = "What is 2 + 3? Put the final answer in \\boxed{}."
REJECT_REASONS = (
    "reasoning_unclosed",  # no closed think block: no answer after the trace
    "reasoning_truncated",  # thinking answer cut at max_new_tokens
    "reasoning_no_answer",  # trace closed, nothing after it
    "ift_truncated",  # IFT answer cut at max_new_tokens
    "ift_empty",  # IFT answer empty once the empty think block is removed
    "ift_thinks",  # IFT answer holds a think block: it would leak a trace into the IFT format
)

PAIR_FEATURES = Features(
    {
        **{column: Value("string") for column in PAIR_COLUMNS},
        "ift_tokens": Value("int64"),
        "reasoning_tokens": Value("int64"),
    }
)
REJECTED_FEATURES = Features(
    {
        "id": Value("string"),
        "key": Value("string"),
        "prompt": Value("string"),
        "reasons": List(Value("string")),
        "reasoning_output": Value("string"),
        "ift_output": Value("string"),
        "reasoning_tokens": Value("int64"),
        "ift_tokens": Value("int64"),
        "reasoning_finished": Value("bool"),
        "ift_finished": Value("bool"),
    }
)


class NoThinkingSwitch(ValueError):
    """The teacher's chat template cannot switch thinking off and on."""


def render_prompts(tokenizer: PreTrainedTokenizerBase, prompts: list[str], thinking: bool) -> list[str]:
    """Each prompt as one user turn and an open assistant turn, thinking on or off."""
    return [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=thinking,
        )
        for prompt in prompts
    ]


def check_thinking_switch(tokenizer: PreTrainedTokenizerBase, model_name: str) -> None:
    """Raise `NoThinkingSwitch` unless the template renders a probe prompt differently with
    thinking on and off."""
    if not tokenizer.chat_template:
        raise NoThinkingSwitch(f"{model_name} has no chat template, so no enable_thinking switch")
    on, off = (render_prompts(tokenizer, [PROBE_PROMPT], thinking)[0] for thinking in (True, False))
    if on != off:
        return
    mode = (
        "always thinks (its generation prompt opens a think block)"
        if on.rstrip().endswith(THINK_OPEN)
        else "never thinks"
    )
    raise NoThinkingSwitch(
        f"{model_name}'s chat template ignores enable_thinking (the same prompt with thinking on and off); "
        f"it {mode}, so it cannot answer one prompt both ways. The Qwen3 2507 releases split the modes into "
        "two models (Instruct-2507 never thinks, Thinking-2507 always does): use a hybrid-thinking release "
        "such as Qwen/Qwen3-235B-A22B."
    )


def reject_reasons(thinking: Generation, ift: Generation) -> list[str]:
    _, answer, closed = split_reasoning(thinking.text)
    ift_text = strip_empty_think(ift.text)
    failed = {
        "reasoning_unclosed": not closed,
        "reasoning_truncated": not thinking.finished,
        "reasoning_no_answer": closed and not answer,
        "ift_truncated": not ift.finished,
        "ift_empty": not ift_text,
        "ift_thinks": THINK_OPEN in ift_text or THINK_CLOSE in ift_text,
    }
    return [reason for reason in REJECT_REASONS if failed[reason]]


def pair_from_answers(index: int, prompt: str, corpus: str, thinking: Generation, ift: Generation) -> dict:
    trace, answer, _ = split_reasoning(thinking.text)
    pair = corpus_pair(
        f"{corpus}-train-{index:05d}",
        prompt,
        strip_empty_think(ift.text),
        format_reasoning(trace, answer),
        corpus,
    )
    return {**pair, "ift_tokens": ift.tokens, "reasoning_tokens": thinking.tokens}


def rejected_row(
    index: int, prompt: str, corpus: str, reasons: list[str], thinking: Generation, ift: Generation
) -> dict:
    return {
        "id": f"{corpus}-train-{index:05d}",
        "key": prompt_key(prompt),
        "prompt": prompt,
        "reasons": reasons,
        "reasoning_output": thinking.text,
        "ift_output": ift.text,
        "reasoning_tokens": thinking.tokens,
        "ift_tokens": ift.tokens,
        "reasoning_finished": thinking.finished,
        "ift_finished": ift.finished,
    }


def _table(rows: list[dict], features: Features) -> Dataset:
    # Built column-wise with explicit features so that an empty table keeps its schema.
    return Dataset.from_dict({name: [row[name] for row in rows] for name in features}, features=features)


def teach(
    backend: Backend,
    prompts: list[str],
    *,
    corpus: str = "general",
    thinking_decoding: Decoding = THINKING_DECODING,
    non_thinking_decoding: Decoding = NON_THINKING_DECODING,
    seed: int = 0,
) -> tuple[Dataset, dict]:
    """Answer every prompt both ways; returns (pairs, report).

    `pairs` has the pair schema (`teachers.PAIR_COLUMNS`) plus `ift_tokens` and `reasoning_tokens`
    (generated tokens). The report counts prompts, kept and rejected rows and each reject reason
    (a row may have several), and holds the rejected rows as a dataset under `rejected_rows`.
    """
    check_thinking_switch(backend.tokenizer, getattr(backend, "model_name", type(backend).__name__))
    thinking = backend.generate(render_prompts(backend.tokenizer, prompts, True), thinking_decoding, seed)
    direct = backend.generate(render_prompts(backend.tokenizer, prompts, False), non_thinking_decoding, seed)
    if not len(thinking) == len(direct) == len(prompts):
        raise RuntimeError(
            f"the backend returned {len(thinking)} and {len(direct)} answers for {len(prompts)} prompts"
        )
    kept, rejected, counts = [], [], Counter({reason: 0 for reason in REJECT_REASONS})
    for index, (prompt, reasoning, ift) in enumerate(zip(prompts, thinking, direct, strict=True)):
        reasons = reject_reasons(reasoning, ift)
        counts.update(reasons)
        if reasons:
            rejected.append(rejected_row(index, prompt, corpus, reasons, reasoning, ift))
        else:
            kept.append(pair_from_answers(index, prompt, corpus, reasoning, ift))
    if rejected:
        summary = ", ".join(f"{reason} {count}" for reason, count in counts.items() if count)
        logger.warning("teacher: %d of %d prompts rejected (%s)", len(rejected), len(prompts), summary)
    report = {
        "prompts": len(prompts),
        "kept": len(kept),
        "rejected": len(rejected),
        "reasons": dict(counts),
        "rejected_rows": _table(rejected, REJECTED_FEATURES),
    }
    return _table(kept, PAIR_FEATURES), report
