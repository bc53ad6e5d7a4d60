"""A tokenizer built locally with `tokenizers`, in the shape of Qwen's: byte-level BPE with Qwen2's
pre-tokenizer (every digit its own token), ChatML turns, and a chat template with an
`enable_thinking` switch.

Choices that the rest of the chain depends on:
- `<think>` and `</think>` are added tokens but *not* special: lm-eval decodes generations with
  `skip_special_tokens=True`, which would otherwise erase them and the answer could not be split
  from the trace.
- Qwen2's pre-tokenizer keeps runs of newlines together whatever follows them, so no merge
  straddles the end of the rendered prompt: the prompt's tokens are a prefix of prompt +
  completion, and TRL masks exactly the prompt (a test checks it).
- with `enable_thinking=False` the generation prompt ends with an empty think block
  (`<think>\\n\\n</think>\\n\\n`), as Qwen3's template does, so the block sits in the prompt and is
  never trained on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import Qwen2Tokenizer
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX as QWEN2_PRETOKENIZE_REGEX

from ..core.thinking import EMPTY_THINK_BLOCK, THINK_CLOSE, THINK_OPEN

PAD_TOKEN, TURN_START, TURN_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"

CHAT_TEMPLATE = (
    "{%- set thinking_off = enable_thinking is defined and enable_thinking is false -%}"
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['role'] == 'assistant' and thinking_off"
    " and not message['content'].startswith('<think>') -%}"
    "{{- '<think>\\n\\n</think>\\n\\n' -}}"
    "{%- endif -%}"
    "{{- message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- if thinking_off -%}{{- '<think>\\n\\n</think>\\n\\n' -}}{%- endif -%}"
    "{%- endif -%}"
)


def build_tokenizer(corpus: Iterable[str], vocab_size: int) -> Qwen2Tokenizer:
    """Train a byte-level BPE of `vocab_size` entries on `corpus` with Qwen2's own normaliser and
    pre-tokenizer, and wrap it in `Qwen2Tokenizer`.

    Using Qwen2's pipeline is not only for likeness: transformers 5 loads a checkpoint's tokenizer
    by its model type, and rebuilds Qwen2's pipeline around the saved vocabulary; any other
    pipeline would tokenize differently once the student is saved and loaded for evaluation.
    """
    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD_TOKEN, TURN_START, TURN_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(corpus, trainer)
    model = json.loads(backend.to_str())["model"]
    tokenizer = Qwen2Tokenizer(
        vocab=model["vocab"],
        merges=[tuple(merge) for merge in model["merges"]],
        eos_token=TURN_END,
        pad_token=PAD_TOKEN,
        unk_token=None,
        chat_template=CHAT_TEMPLATE,
        padding_side="right",
        model_max_length=4096,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": [TURN_START, TURN_END]})
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in (THINK_OPEN, THINK_CLOSE)])
    return tokenizer


def tokenizer_corpus(rows: Iterable[dict]) -> Iterable[str]:
    """Everything the tokenizer will see: prompts and both answers, rendered as chat turns."""
    for row in rows:
        yield f"{TURN_START}user\n{row['prompt']}{TURN_END}\n"
        yield f"{TURN_START}assistant\n{EMPTY_THINK_BLOCK}{row['ift']}{TURN_END}\n"
        yield f"{TURN_START}assistant\n{row['reasoning']}{TURN_END}\n"


def count_tokens(tokenizer, texts: list[str]) -> list[int]:
    """Each text's length in tokens, special tokens not added; one batch call (a fast tokenizer's
    batch gives each text the tokens it gives alone)."""
    if not texts:
        return []
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
