"""Model shapes without weights: the paper's configs shipped with the package, any config.json,
or a hub id's config alone; and the architecture of a study's student, for FLOPs and the plan.

The packaged configs (`model_configs/`) are copied from the models' hub repositories, so the
paper's FLOPs and the dry-run plan need no download.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from ..config import paths
from ..config.params import StudyParams
from . import flops
from .flops import ConfigError

PACKAGED_CONFIGS = {
    "Qwen/Qwen2.5-0.5B": "qwen2.5-0.5b.json",
    "Qwen/Qwen2.5-1.5B": "qwen2.5-1.5b.json",
    "Qwen/Qwen2.5-3B": "qwen2.5-3b.json",
    "Qwen/Qwen2.5-7B": "qwen2.5-7b.json",
    "Qwen/Qwen2.5-14B": "qwen2.5-14b.json",
    "Qwen/Qwen3-235B-A22B": "qwen3-235b-a22b.json",
}


def load_config(source: str):
    """A model config from a config.json, a folder holding one, or a hub id (network permitting).

    A local file that transformers cannot parse as a config (an unknown model type, say) is read as
    plain JSON, so that any decoder with the usual fields can still be counted.
    """
    # transformers (and torch under it) load here, not with the module: the plan, the dry run and
    # `sor check` count packaged and from-config students without them.
    from huggingface_hub.errors import StrictDataclassError
    from transformers import AutoConfig

    path = Path(source)
    if path.is_dir():
        path = path / "config.json"
    if path.suffix == ".json" or path.exists() or source.startswith((".", "/")):
        if not path.is_file():
            raise ConfigError(f"no model config at {path}")
        try:
            return AutoConfig.from_pretrained(str(path), trust_remote_code=False)
        except (ValueError, OSError, TypeError, StrictDataclassError):
            try:
                return SimpleNamespace(**json.loads(path.read_text()))
            except (json.JSONDecodeError, TypeError, UnicodeDecodeError):
                raise ConfigError(f"{path}: not a JSON model config") from None
    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=False)
    except (ValueError, OSError) as error:
        raise ConfigError(
            f"cannot load config {source!r} from the hub: {str(error).splitlines()[0]}"
        ) from None


def model_config(name: str):
    """A model's config without its weights: packaged, from a local folder, or from the hub."""
    if name in PACKAGED_CONFIGS:
        return SimpleNamespace(**json.loads((paths.MODEL_CONFIGS_DIR / PACKAGED_CONFIGS[name]).read_text()))
    return load_config(name)


def pretrained_config(name: str):
    """A transformers config of a pretrained model, to build it with random weights: the packaged
    one for the paper's models (no download), else `load_config`."""
    if name in PACKAGED_CONFIGS:
        return load_config(str(paths.MODEL_CONFIGS_DIR / PACKAGED_CONFIGS[name]))
    return load_config(name)


def student_architecture(study: StudyParams, scale: str) -> flops.Architecture:
    params = study.students.scales[scale]
    if not params.from_config:
        return flops.architecture(model_config(params.model))
    config = SimpleNamespace(
        hidden_size=params.hidden_size,
        intermediate_size=params.intermediate_size,
        num_attention_heads=params.num_heads,
        num_key_value_heads=params.num_kv_heads,
        num_hidden_layers=params.num_layers,
        vocab_size=study.tokenizer.vocab_size,
        tie_word_embeddings=True,
        model_type="qwen2",
    )
    return flops.architecture(config)
