"""What this machine can do: a measured matmul peak, for model FLOPs utilisation (MFU).

The peak is measured once per (host, torch build, device, dtype, threads) with a short square
matmul benchmark and cached under the runs folder, so every training unit reports its MFU against
the same figure: MFU = exact training FLOPs / (training seconds × peak).
"""

from __future__ import annotations

import platform
import time

import torch

from ..config import paths
from . import files

BENCHMARK_SIZE = 1024
BENCHMARK_SECONDS = 0.5


def _cache_key(device: str, dtype: torch.dtype, threads: int) -> str:
    return f"{platform.node()}|torch {torch.__version__}|{device}|{dtype}|{threads} threads"


def _cache_file():
    return paths.runs_dir() / ".cache" / "machine_peak.json"


def benchmark_matmul(
    device: str = "cpu", dtype: torch.dtype = torch.float32, size: int = BENCHMARK_SIZE
) -> float:
    """FLOP/s of the fastest of three timed bursts of `size`² matmuls (after a warm-up)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)

    def burst() -> float:
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < BENCHMARK_SECONDS / 4:
            torch.mm(a, b)
            count += 1
        if device != "cpu":
            torch.cuda.synchronize()
        return count * 2 * size**3 / (time.perf_counter() - start)

    rates = [burst() for _ in range(4)]
    return max(rates[1:])  # the first burst warms caches and thread pools


def peak_flops(device: str = "cpu", dtype: torch.dtype = torch.float32, threads: int | None = None) -> float:
    """The machine's measured matmul peak with `threads` threads, from the cache when known."""
    threads = threads or torch.get_num_threads()
    key = _cache_key(device, dtype, threads)
    cache_file = _cache_file()
    cache = files.read_json(cache_file) if cache_file.is_file() else {}
    if key not in cache:
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            cache[key] = benchmark_matmul(device, dtype)
        finally:
            torch.set_num_threads(previous)
        files.write_json(cache_file, cache)
    return cache[key]


def model_flops_utilisation(flops: float, seconds: float, peak: float) -> float:
    return flops / (seconds * peak)
