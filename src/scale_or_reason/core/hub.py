"""Loading from the Hugging Face hub or a local folder, with an error that names the offline way.

A hub id that cannot be reached (no network, or `HF_HUB_OFFLINE` set and nothing cached) raises
`HubUnreachableError`, whose message says how to get the same model or data onto this machine:
download it elsewhere and pass its local folder or file instead.
"""

from __future__ import annotations

import re
from pathlib import Path

from datasets import load_dataset
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import LocalEntryNotFoundError
from transformers import AutoTokenizer, PreTrainedTokenizerBase

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


class HubUnreachableError(ConnectionError):
    """The Hugging Face hub could not be reached for a hub id that is not cached locally."""


def hub_offline() -> bool:
    # Read at call time: huggingface_hub fixes the flag when imported, tests patch the constant.
    return bool(hub_constants.HF_HUB_OFFLINE)


def _cause_chain(error: BaseException | None):
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _is_connection_failure(error: BaseException) -> bool:
    if isinstance(error, (ConnectionError, TimeoutError, LocalEntryNotFoundError)):
        return True
    # httpx (huggingface_hub's client) has its own ConnectError / *Timeout classes.
    kind = type(error)
    return kind.__module__.startswith("httpx") and kind.__name__.endswith(("ConnectError", "Timeout"))


def is_unreachable(error: BaseException) -> bool:
    """Whether `error` says the hub was out of reach: a connection failure anywhere in its cause
    chain, or, in offline mode, any file-loading error (the files were not in the cache)."""
    if any(_is_connection_failure(link) for link in _cause_chain(error)):
        return True
    return hub_offline() and isinstance(error, OSError)


def unreachable_message(source: str, alternative: str) -> str:
    reason = "HF_HUB_OFFLINE is set" if hub_offline() else "no network or the hub is down"
    return (
        f"cannot reach the Hugging Face hub for {source!r} ({reason}) and it is not in the local cache. "
        f"Offline: {alternative}"
    )


def is_hub_id(model: str) -> bool:
    """`owner/name` (or a bare name) that is not a folder here; anything else is a local path."""
    return not Path(model).exists() and HUB_ID.fullmatch(model) is not None


def load_from_hub_or_folder(loader, model: str, **kwargs):
    """`loader.from_pretrained(model)`, turning an unreachable hub into an error that names the fix."""
    try:
        return loader.from_pretrained(model, **kwargs)
    except Exception as error:
        if not is_hub_id(model) or not is_unreachable(error):
            raise
        alternative = (
            f"download the model on a machine with network (`hf download {model} --local-dir DIR`) "
            "and pass the local folder path DIR instead of the hub id."
        )
        raise HubUnreachableError(unreachable_message(model, alternative)) from error


def load_hub_dataset(source: str, split: str, alternative: str):
    """`datasets.load_dataset(source, split=split)`, turning an unreachable hub into an error that
    says so and names `alternative`, the offline way to the same data."""
    try:
        return load_dataset(source, split=split)
    except Exception as error:
        if not is_unreachable(error):
            raise
        raise HubUnreachableError(unreachable_message(source, alternative)) from error


def load_tokenizer(model: str | Path, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """A tokenizer from a local folder (a study's own, a trained student's) or a hub id."""
    return load_from_hub_or_folder(AutoTokenizer, str(model), trust_remote_code=trust_remote_code)
