"""Warm kernels: a unit's notebook runs in a kernel forked from a server that has already imported
the heavy libraries, or in an ordinary kernel when no server matches; nothing outlives its owner."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from scale_or_reason.orchestration import warm_kernels
from scale_or_reason.orchestration.warm_kernels import KernelPool


def notebook(path: Path, *sources: str) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path


def printed(executed: Path) -> str:
    cells = nbformat.read(executed, as_version=4).cells
    return "".join(out.get("text", "") for cell in cells for out in cell.outputs)


def run_papermill(source: Path, executed: Path, environment: dict, **popen):
    arguments = [str(source), str(executed), "-k", "python3", "--no-progress-bar"]
    return subprocess.run(warm_kernels.command("papermill", arguments), env=environment, **popen)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pid)


PROBE = "import os, sys\nprint('torch' in sys.modules, os.getppid(), os.environ['PROBE'])"


@pytest.mark.slow
def test_a_unit_kernel_is_forked_warm_and_an_unmatched_environment_gets_an_ordinary_one(tmp_path):
    source = notebook(tmp_path / "probe.ipynb", PROBE)
    with KernelPool() as pool:
        warm = pool.environment({**os.environ, "PROBE": "warm"})
        (server,) = pool.servers.values()
        assert run_papermill(source, tmp_path / "warm.ipynb", warm).returncode == 0
        # Another environment than the server's (its own thread budget here) is never forked from it.
        other = {**warm, "PROBE": "cold"}
        assert run_papermill(source, tmp_path / "cold.ipynb", other).returncode == 0
        cold = subprocess.run(
            [sys.executable, "-m", "papermill", source, tmp_path / "plain.ipynb", "-k", "python3"],
            env={**os.environ, "PROBE": "plain"},
        )
        assert cold.returncode == 0
    assert printed(tmp_path / "warm.ipynb").split() == ["True", str(server.pid), "warm"]
    assert printed(tmp_path / "cold.ipynb").split()[::2] == ["False", "cold"]
    executed = [nbformat.read(tmp_path / f"{name}.ipynb", as_version=4) for name in ("warm", "plain")]
    for record in ("kernelspec", "language_info"):  # the executed notebook records the same kernel
        assert executed[0].metadata.get(record) == executed[1].metadata.get(record)
    assert not pool.folder.exists() and server.poll() is not None


@pytest.mark.slow
def test_a_killed_unit_takes_its_forked_papermill_and_kernel_along(tmp_path):
    pid_file = tmp_path / "kernel.pid"
    source = notebook(
        tmp_path / "sleeps.ipynb",
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))",
        "time.sleep(120)",
    )
    with KernelPool() as pool:
        environment = pool.environment(dict(os.environ))
        unit = subprocess.Popen(
            warm_kernels.command("papermill", [str(source), str(tmp_path / "out.ipynb"), "-k", "python3"]),
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not pid_file.is_file() or not pid_file.read_text():
            assert time.monotonic() < deadline and unit.poll() is None
            time.sleep(0.1)
        kernel = int(pid_file.read_text())
        unit.kill()  # as a SIGKILL of the runner's process group does
        unit.wait()
        assert gone_within(kernel, 10)


@pytest.mark.slow
def test_the_servers_end_with_the_runner_that_started_them(tmp_path):
    runner = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os\nfrom scale_or_reason.orchestration.warm_kernels import KernelPool\n"
            "pool = KernelPool().__enter__()\npool.environment(dict(os.environ))\n"
            "print(pool.folder, *(server.pid for server in pool.servers.values()), flush=True)\n"
            "os._exit(0)",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    folder, server = runner.stdout.split()
    assert gone_within(int(server), 10)
    assert not Path(folder).exists()  # nor does its temporary folder outlive it
