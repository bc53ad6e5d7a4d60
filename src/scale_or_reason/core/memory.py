"""Memory a student needs per device, from its shape alone: what `sor doctor` sets against a machine.

Training holds, per device: the weights, their gradients and AdamW's two moments in the weights'
precision (the project loads bf16 students in bf16, so 8 bytes a parameter; fp32: 16), divided
over the processes when FSDP or ZeRO-3 shards them, plus one gathered decoder layer when sharded;
and the activations of one micro-batch. Per token and decoder layer, a Qwen2 layer keeps for its
backward pass about 7 hidden-width tensors (norm inputs and outputs, queries, attention output,
residuals), 3 key/value-width ones and 4 MLP-width ones (gate, up, their activation and product),
with attention computed by SDPA/flash kernels that never store the score matrix. Activation
checkpointing keeps only each layer's input and recomputes one layer at a time. The logits cost
nothing extra with TRL's chunked LM head (pretrained students); the small-vocabulary trainer of
students built from config materialises them, with their float32 copy and gradient.

Evaluation holds the weights and the KV cache: two tensors of key/value width per layer and token,
for every sequence of a batch at its prompt plus the generation cap. These are estimates, meant to
tell 40 GiB from 140 GiB before a job is queued, not to predict an allocator to the megabyte.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .flops import Architecture, attention_parameters, mlp_parameters, parameter_counts

GIB = 2**30
ADAMW_MOMENTS = 2
FLOAT32_BYTES = 4
HIDDEN_TENSORS_PER_LAYER = 7
KV_TENSORS_PER_LAYER = 3
MLP_TENSORS_PER_LAYER = 4


def dtype_bytes(bf16: bool) -> int:
    return 2 if bf16 else FLOAT32_BYTES


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes per device, by what holds them."""

    weights: float
    gradients: float
    optimizer: float
    gathered_layer: float
    activations: float
    logits: float

    @property
    def total(self) -> float:
        return sum(asdict(self).values())

    def parts(self) -> dict[str, float]:
        return {name: value for name, value in asdict(self).items() if value}


def layer_activation_bytes(arch: Architecture, tokens: int, bf16: bool) -> float:
    """What one decoder layer keeps for its backward pass over `tokens` tokens."""
    per_token = (
        HIDDEN_TENSORS_PER_LAYER * arch.width
        + KV_TENSORS_PER_LAYER * arch.kv_width
        + MLP_TENSORS_PER_LAYER * arch.ff_width
    )
    return float(tokens * per_token * dtype_bytes(bf16))


def activation_bytes(arch: Architecture, tokens: int, bf16: bool, checkpointing: bool) -> float:
    """Every layer's activations; with checkpointing, each layer's input and one layer recomputed."""
    layer = layer_activation_bytes(arch, tokens, bf16)
    if not checkpointing:
        return arch.layers * layer
    return arch.layers * tokens * arch.width * dtype_bytes(bf16) + layer


def logits_bytes(arch: Architecture, tokens: int, bf16: bool, fused_head: bool) -> float:
    """Full logits in the model's precision, their float32 copy for the loss and its gradient;
    none with a chunked (fused) LM head."""
    if fused_head:
        return 0.0
    return float(tokens * arch.vocab * (dtype_bytes(bf16) + 2 * FLOAT32_BYTES))


def training_memory(
    arch: Architecture,
    *,
    bf16: bool,
    batch_size: int,
    sequence: int,
    checkpointing: bool,
    shards: int = 1,
    fused_head: bool = True,
) -> TrainingMemory:
    """Per-device training memory of one micro-batch of `batch_size` rows of `sequence` tokens, the
    model's state divided over `shards` processes (1: unsharded, as under DDP or one device)."""
    params = parameter_counts(arch)["total"]
    weight_bytes = params * dtype_bytes(bf16)
    layer_params = attention_parameters(arch) + mlp_parameters(arch, moe=arch.moe_layers > 0)
    tokens = batch_size * sequence
    return TrainingMemory(
        weights=weight_bytes / shards,
        gradients=weight_bytes / shards,
        optimizer=ADAMW_MOMENTS * weight_bytes / shards,
        gathered_layer=2 * layer_params * dtype_bytes(bf16) if shards > 1 else 0.0,
        activations=activation_bytes(arch, tokens, bf16, checkpointing),
        logits=logits_bytes(arch, tokens, bf16, fused_head),
    )


def kv_cache_bytes(arch: Architecture, sequences: int, context: int, bf16: bool) -> float:
    """Keys and values of every layer for `sequences` sequences of `context` tokens."""
    return float(2 * arch.layers * arch.kv_width * context * sequences * dtype_bytes(bf16))


def inference_memory(
    arch: Architecture, *, bf16: bool, sequences: int, context: int, shards: int = 1
) -> dict[str, float]:
    """Weights and KV cache per device, split over `shards` tensor-parallel devices."""
    weights = parameter_counts(arch)["total"] * dtype_bytes(bf16)
    return {
        "weights": weights / shards,
        "kv_cache": kv_cache_bytes(arch, sequences, context, bf16) / shards,
    }


def gib(count: float) -> str:
    return f"{count / GIB:,.1f} GiB"
