"""Generation backends for LLM teachers (and judges): rendered prompts in, texts and token counts out.

Two implementations of one `Backend` protocol:

- `TransformersBackend`: `AutoModelForCausalLM` with batched, left-padded sampling; runs anywhere,
  so the tests drive the paper-scale code on a tiny random model on CPU;
- `VLLMBackend`: vLLM offline batch generation with tensor parallelism, for the paper's teacher
  (`Qwen/Qwen3-235B-A22B`). vLLM is an optional dependency, imported only when asked for.

Prompts arrive already rendered (chat template applied), so both backends see the same strings.
A `Generation` counts its tokens without padding and says whether the model stopped by itself
(`finished`) or was cut at `max_new_tokens`: a cut reasoning trace may have lost its answer.

A hub id that cannot be reached raises `core.hub.HubUnreachableError`, which names the offline
way: download the model elsewhere and pass its local folder instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase

from ..config.params import DecodingParams
from ..core.hub import load_from_hub_or_folder, load_tokenizer

BACKEND_KINDS = ("transformers", "vllm")
Decoding = DecodingParams  # sampling settings: temperature 0 is greedy, top_k 0 no top-k cut


@dataclass(frozen=True)
class Generation:
    text: str
    tokens: int
    finished: bool  # stopped by EOS / end of turn, not by max_new_tokens


class Backend(Protocol):
    tokenizer: PreTrainedTokenizerBase

    def generate(self, prompts: list[str], decoding: Decoding, seed: int = 0) -> list[Generation]: ...


def eos_token_ids(model, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Every id that ends a turn: the generation config's (Qwen3 lists `<|im_end|>` and
    `<|endoftext|>`) and the tokenizer's EOS."""
    configured = model.generation_config.eos_token_id
    ids = [] if configured is None else [configured] if isinstance(configured, int) else list(configured)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    if not ids:
        raise ValueError("the model has no EOS token: generation would never stop by itself")
    return ids


def trim_at_eos(generated: list[int], eos_ids: set[int]) -> tuple[list[int], int, bool]:
    """Tokens before the first EOS, the count of real tokens (EOS included, padding after it
    excluded) and whether an EOS was produced."""
    for position, token in enumerate(generated):
        if token in eos_ids:
            return generated[:position], position + 1, True
    return generated, len(generated), False


def transformers_sampling(decoding: Decoding) -> dict[str, Any]:
    """`generate` keyword arguments: temperature 0 means greedy; top_k <= 0 means no top-k."""
    if decoding.temperature <= 0:
        return {"do_sample": False, "max_new_tokens": decoding.max_new_tokens}
    return {
        "do_sample": True,
        "temperature": decoding.temperature,
        "top_p": decoding.top_p,
        "top_k": max(decoding.top_k, 0),
        "max_new_tokens": decoding.max_new_tokens,
    }


class TransformersBackend:
    """Batched generation with transformers; prompts are sorted by length so batches pad little."""

    def __init__(
        self, model: str, *, dtype: str = "auto", trust_remote_code: bool = False, batch_size: int = 8
    ):
        self.model_name = model
        self.batch_size = batch_size
        self.tokenizer = load_tokenizer(model, trust_remote_code)
        # Left padding: every prompt must end where generation starts.
        self.tokenizer.padding_side = "left"
        placement = {"device_map": "auto"} if torch.cuda.is_available() else {}
        self.model = load_from_hub_or_folder(
            AutoModelForCausalLM,
            model,
            dtype=dtype,
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
            **placement,
        ).eval()
        self.eos_ids = eos_token_ids(self.model, self.tokenizer)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.eos_ids[0]

    def _generate_batch(self, prompts: list[str], decoding: Decoding) -> list[Generation]:
        # The rendered prompt already holds the template's special tokens; add none twice.
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        batch = batch.to(self.model.device)
        with torch.inference_mode():
            output = self.model.generate(
                **batch,
                **transformers_sampling(decoding),
                eos_token_id=self.eos_ids,
                pad_token_id=self.pad_id,
            )
        generated = output[:, batch["input_ids"].shape[1] :].tolist()
        results = []
        for row in generated:
            kept, tokens, finished = trim_at_eos(row, set(self.eos_ids))
            text = self.tokenizer.decode(kept, skip_special_tokens=True)
            results.append(Generation(text=text, tokens=tokens, finished=finished))
        return results

    def generate(self, prompts: list[str], decoding: Decoding, seed: int = 0) -> list[Generation]:
        torch.manual_seed(seed)
        order = sorted(range(len(prompts)), key=lambda index: len(prompts[index]))
        results: list[Generation | None] = [None] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for index, generation in zip(
                chunk, self._generate_batch([prompts[i] for i in chunk], decoding), strict=True
            ):
                results[index] = generation
        return results


def vllm_sampling_kwargs(decoding: Decoding, seed: int) -> dict[str, Any]:
    """`vllm.SamplingParams` keyword arguments (vLLM reads temperature 0 as greedy and top_k -1
    as no top-k)."""
    return {
        "temperature": decoding.temperature,
        "top_p": decoding.top_p,
        "top_k": decoding.top_k if decoding.top_k > 0 else -1,
        "max_tokens": decoding.max_new_tokens,
        "seed": seed,
    }


def import_vllm():
    try:
        import vllm
    except ImportError as error:
        raise ImportError(
            "the vllm backend needs vLLM, an optional dependency (GPU only): `pip install vllm` "
            "(a build matching your CUDA and torch), or use kind='transformers'"
        ) from error
    return vllm


class VLLMBackend:
    """vLLM offline batch generation; one engine per teacher, tensor-parallel over GPUs."""

    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        trust_remote_code: bool = False,
        seed: int = 0,
    ):
        self.vllm = import_vllm()
        self.model_name = model
        # The tokenizer first: it fails fast, with the offline fix, when the hub is out of reach.
        self.tokenizer = load_tokenizer(model, trust_remote_code)
        self.engine = self.vllm.LLM(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            trust_remote_code=trust_remote_code,
            seed=seed,
        )

    def generate(self, prompts: list[str], decoding: Decoding, seed: int = 0) -> list[Generation]:
        sampling = self.vllm.SamplingParams(**vllm_sampling_kwargs(decoding, seed))
        outputs = self.engine.generate(prompts, sampling, use_tqdm=False)
        return [
            Generation(
                text=output.outputs[0].text,
                tokens=len(output.outputs[0].token_ids),
                finished=output.outputs[0].finish_reason == "stop",
            )
            for output in outputs
        ]


def load_backend(
    kind: str,
    model: str,
    *,
    tensor_parallel_size: int = 1,
    dtype: str = "auto",
    trust_remote_code: bool = False,
) -> Backend:
    """A backend of `kind` ("transformers" or "vllm") for `model`, a hub id or a local folder."""
    if kind == "vllm":
        return VLLMBackend(
            model, tensor_parallel_size=tensor_parallel_size, dtype=dtype, trust_remote_code=trust_remote_code
        )
    if kind == "transformers":
        if tensor_parallel_size != 1:
            raise ValueError(
                "tensor parallelism needs kind='vllm'; the transformers backend spreads a large model "
                "over the visible GPUs by layers (device_map='auto') with tensor_parallel_size=1"
            )
        return TransformersBackend(model, dtype=dtype, trust_remote_code=trust_remote_code)
    raise ValueError(f"unknown backend kind {kind!r}; expected one of {BACKEND_KINDS}")
