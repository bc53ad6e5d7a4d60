"""`accelerate launch` of one of the package's stages across several processes, in a fresh
subprocess (never forked from a possibly CUDA-initialised kernel), its output streamed here.

Used by training (`training.processes`) and evaluation (`evaluation.processes`); each launched
module reads `WORLD_SIZE` (`world_size`) to know it is one of several."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import deque
from pathlib import Path

import torch

from ..config import paths
from ..config.params import StudyParams

LOG_TAIL = 40  # lines of a failed launch's output repeated in its error


class LaunchFailed(RuntimeError):
    """`accelerate launch` of a unit exited with an error."""


def world_size() -> int:
    """Processes in this run (set by `accelerate launch` / torchrun; 1 otherwise)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def accelerate_command(
    processes: int, module: str, arguments: list[str], config_file: Path | None = None
) -> list[str]:
    """`python -m accelerate.commands.launch` of `module` with `arguments` on `processes` processes,
    under `config_file` (else one GPU a process where CUDA is present)."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes)]
    if config_file is not None:
        command += ["--config_file", str(config_file)]
    elif torch.cuda.is_available():
        command += ["--multi_gpu"]
    return [*command, "-m", module, *arguments]


def unit_command(
    study: StudyParams,
    parameters_file: str,
    scale: str,
    recipe: str,
    seed: int | None,
    module: str,
    processes: int,
    config_file: Path | None = None,
) -> list[str]:
    """`accelerate_command` of a stage `module` for one run of a student (its `main` reads the
    arguments back: `unit_arguments`)."""
    arguments = [str(paths.resolve(parameters_file)), scale, recipe]
    if seed is not None and seed != study.seed:
        arguments = ["--seed", str(seed), *arguments]
    return accelerate_command(processes, module, arguments, config_file)


def unit_arguments(module: str, description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """A launched stage's command line: parameters file, scale, recipe and the run's seed."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("parameters_file")
    parser.add_argument("scale")
    parser.add_argument("recipe")
    parser.add_argument("--seed", type=int, default=None, help="the run's seed (default: the study's)")
    return parser.parse_args(argv)


def run_streamed(command: list[str]) -> None:
    """Run `command` from the project's folder, printing its output as it comes; LaunchFailed
    with the last lines when it exits with an error."""
    print("$", " ".join(command), flush=True)
    tail: deque[str] = deque(maxlen=LOG_TAIL)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=paths.project_dir()
    ) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            tail.append(line)
    if process.returncode != 0:
        raise LaunchFailed(
            f"accelerate launch exited with {process.returncode}; last lines:\n{''.join(tail)}"
        )
