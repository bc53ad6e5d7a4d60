"""Shared core: the think block and final answers, files written atomically and JSONL, FLOPs,
the machine's peak, model configs and hub loading. Imports only `config`."""
