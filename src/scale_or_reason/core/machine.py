"""What this machine can do: a measured matmul peak, for model FLOPs utilisation (MFU).

The peak is measured once per (host, torch build, device, dtype, threads) with a short square
matmul benchmark and cached under the runs folder, so every training unit reports its MFU against
the same figure: MFU = exact training FLOPs / (training seconds × peak).

It also lists the devices (`local_devices`: CUDA GPUs, or the CPU) with their memory and data-sheet
bf16 peak, and keeps the latest `sor doctor --smoke` result per device name, which the dry-run's
GPU-hours use in place of an assumed MFU.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from ..config import paths
from . import files

if TYPE_CHECKING:
    import torch

BENCHMARK_SIZE = 1024
BENCHMARK_SECONDS = 0.5


def _cache_key(device: str, dtype: torch.dtype, threads: int) -> str:
    import torch

    return f"{platform.node()}|torch {torch.__version__}|{device}|{dtype}|{threads} threads"


def _cache_file():
    return paths.runs_dir() / ".cache" / "machine_peak.json"


def benchmark_matmul(
    device: str = "cpu", dtype: torch.dtype | None = None, size: int = BENCHMARK_SIZE
) -> float:
    """FLOP/s of the fastest of three timed bursts of `size`² matmuls (after a warm-up); float32
    unless `dtype` says otherwise."""
    import torch

    dtype = dtype or torch.float32
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


def peak_flops(device: str = "cpu", dtype: torch.dtype | None = None, threads: int | None = None) -> float:
    """The machine's measured matmul peak with `threads` threads (float32 unless `dtype` says
    otherwise), from the cache when known."""
    import torch

    dtype = dtype or torch.float32
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


# Dense bf16 tensor-core peaks from the vendors' data sheets (no sparsity), by a fragment of the
# name torch reports; the first fragment found in a name wins, so the more specific come first.
SPEC_BF16_PEAKS = (
    ("GH200", 989e12),
    ("H200", 989e12),
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),
    ("H800", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10G", 70e12),
    ("RTX 4090", 165e12),
)
# Memory bandwidth in bytes/s from the same data sheets (decoding reads the weights and the KV cache
# once per step): the bound on generation speed.
SPEC_MEMORY_BANDWIDTHS = (
    ("GH200", 4.0e12),
    ("H200", 4.8e12),
    ("H100 PCIe", 2.0e12),
    ("H100 NVL", 3.9e12),
    ("H100", 3.35e12),
    ("H800", 3.35e12),
    ("B200", 8.0e12),
    ("A100-SXM4-40GB", 1.555e12),
    ("A100 PCIe 40GB", 1.555e12),
    ("A100", 2.0e12),
    ("A800", 2.0e12),
    ("L40S", 0.864e12),
    ("L4", 0.3e12),
    ("A10G", 0.6e12),
    ("RTX 4090", 1.008e12),
)
SMOKE_RECORDS = "smoke_records.json"


@dataclass(frozen=True)
class Device:
    """One device that can run the study: a CUDA GPU, or the CPU when there is none."""

    kind: str  # cuda, cpu
    name: str
    memory: int  # bytes
    free: int  # bytes free now
    bf16: bool

    @property
    def spec_peak(self) -> float | None:
        return spec_bf16_peak(self.name) if self.kind == "cuda" else None


def spec_bf16_peak(name: str) -> float | None:
    """The data sheet's dense bf16 FLOP/s of a GPU by its name; None for a device not listed."""
    return next((peak for fragment, peak in SPEC_BF16_PEAKS if fragment in name), None)


def spec_memory_bandwidth(name: str) -> float | None:
    """The data sheet's memory bandwidth (bytes/s) of a GPU by its name; None for one not listed."""
    return next((bandwidth for fragment, bandwidth in SPEC_MEMORY_BANDWIDTHS if fragment in name), None)


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return "CPU " + line.split(":", 1)[1].strip()
    return f"CPU {platform.processor() or platform.machine()}"


def local_devices() -> list[Device]:
    """Every CUDA device with its memory (querying them initialises CUDA, loads no weights), or
    the CPU and this machine's memory when there is no GPU."""
    import torch

    if torch.cuda.is_available():
        devices = []
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            name = torch.cuda.get_device_name(index)
            bf16 = torch.cuda.get_device_capability(index) >= (8, 0)
            devices.append(Device("cuda", name, total, free, bf16))
        return devices
    memory = psutil.virtual_memory()
    return [Device("cpu", cpu_name(), memory.total, memory.available, bf16=False)]


def device_name() -> str:
    """The name of this machine's first device, as `local_devices` and smoke records give it."""
    if _cuda_driver_loaded():
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    return cpu_name()


def _cuda_driver_loaded() -> bool:
    """False where torch can see no GPU (Linux without the NVIDIA driver, WSL's GPU or ROCm's), so
    that naming this machine's device loads no torch; elsewhere torch is asked."""
    if platform.system() != "Linux":
        return True
    return any(Path(p).exists() for p in ("/proc/driver/nvidia/version", "/dev/dxg", "/dev/kfd"))


def _records_file() -> Path:
    return paths.runs_dir() / ".cache" / SMOKE_RECORDS


def record_smoke(record: dict) -> Path:
    """Keep a `sor doctor --smoke` result as the latest one of its device (`record["device"]`)."""
    records_file = _records_file()
    records = files.read_json(records_file) if records_file.is_file() else {}
    records[record["device"]] = record
    files.write_json(records_file, records)
    return records_file


def smoke_record(device: str) -> dict | None:
    """The latest `sor doctor --smoke` result of a device of this name, if one was recorded."""
    records_file = _records_file()
    if not records_file.is_file():
        return None
    return files.read_json(records_file).get(device)
