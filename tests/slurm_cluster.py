"""A one-node Slurm cluster on this machine, for tests/test_slurm.py.

    SOR_REQUIRE_SLURM=1 .venv/bin/python -m pytest tests/test_slurm.py -m slow

Debian's `slurm-wlm` and `munge` (installed with apt-get when missing, which needs root) run with
every file under one temporary folder: a generated munge key and a private munge socket, a
slurm.conf for this host (2 CPUs, proctrack/linuxproc and task/none so that no cgroup is needed,
no accounting), state, spool, pid and log files. `start` returns once `sinfo` shows the node idle;
`stop` ends the daemons it started, by their pid files.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")
CPUS = 2
START_SECONDS = 60
LOG_TAIL_LINES = 40


class ClusterUnavailable(RuntimeError):
    """Slurm cannot be started here; the message says why."""


@dataclass
class Cluster:
    folder: Path
    conf: Path

    def pid_file(self, daemon: str) -> Path:
        return self.folder / f"{daemon}.pid"

    def log_file(self, daemon: str) -> Path:
        return self.folder / f"{daemon}.log"

    def log_tails(self) -> str:
        parts = []
        for daemon in DAEMONS:
            log = self.log_file(daemon)
            if log.is_file():
                lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
                parts.append(f"--- last lines of {log} ---\n" + "\n".join(lines))
        return "\n".join(parts)


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)


def install() -> None:
    """apt-get the Debian packages whose programs are missing (root only)."""
    if all(shutil.which(d) for d in DAEMONS) and shutil.which("sbatch"):
        return
    if os.geteuid() != 0:
        raise ClusterUnavailable("slurm-wlm/munge are not installed and installing them needs root")
    if shutil.which("apt-get") is None:
        raise ClusterUnavailable("slurm-wlm/munge are not installed and there is no apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    command = ["apt-get", "install", "--yes", "--no-install-recommends", *PACKAGES]
    installed = _run(command, env=env)
    if installed.returncode != 0:  # stale package lists: refresh once and try again
        _run(["apt-get", "update"], env=env)
        installed = _run(command, env=env)
    if installed.returncode != 0:
        raise ClusterUnavailable(f"`{' '.join(command)}` failed:\n{installed.stderr[-2000:]}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_conf(folder: Path) -> Path:
    """slurm.conf for one node named after this host, reached on 127.0.0.1, on free ports."""
    host = socket.gethostname().split(".")[0]
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    lines = {
        "ClusterName": "sortest",
        "SlurmctldHost": f"{host}(127.0.0.1)",
        "SlurmctldPort": _free_port(),
        "SlurmdPort": _free_port(),
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        "AuthInfo": f"socket={folder / 'munge.socket'}",
        "StateSaveLocation": folder / "state",
        "SlurmdSpoolDir": folder / "spool",
        "SlurmctldPidFile": folder / "slurmctld.pid",
        "SlurmdPidFile": folder / "slurmd.pid",
        "SlurmctldLogFile": folder / "slurmctld.log",
        "SlurmdLogFile": folder / "slurmd.log",
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_CPU",
        "SchedulerType": "sched/backfill",
        "AccountingStorageType": "accounting_storage/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "JobCompType": "jobcomp/none",
        "MpiDefault": "none",
        "ReturnToService": 2,
        # The node declares 2 CPUs whatever the machine has, so it is never drained for it.
        "SlurmdParameters": "config_overrides",
        "NodeName": f"{host} NodeAddr=127.0.0.1 CPUs={CPUS} State=UNKNOWN",
        "PartitionName": f"debug Nodes={host} Default=YES MaxTime=INFINITE State=UP",
    }
    conf = folder / "slurm.conf"
    conf.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
    return conf


def _start_munge(folder: Path) -> None:
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    command = [
        "munged",
        "--force",
        f"--key-file={key}",
        f"--socket={folder / 'munge.socket'}",
        f"--pid-file={folder / 'munged.pid'}",
        f"--log-file={folder / 'munged.log'}",
        f"--seed-file={folder / 'munged.seed'}",
    ]
    _daemon(command)


def _daemon(command: list[str], env: dict | None = None) -> None:
    """The daemons fork into the background; a non-zero exit means they did not start."""
    started = _run(command, env=env)
    if started.returncode != 0:
        said = (started.stderr or started.stdout).strip()
        raise ClusterUnavailable(f"`{' '.join(map(str, command))}` failed: {said}")


def _wait_idle(cluster: Cluster, env: dict) -> None:
    deadline = time.monotonic() + START_SECONDS
    answer = ""
    while time.monotonic() < deadline:
        shown = _run(["sinfo", "--noheader", "--Node", "--format=%N %T"], env=env)
        answer = (shown.stdout + shown.stderr).strip()
        if shown.returncode == 0 and "idle" in shown.stdout:
            return
        time.sleep(0.5)
    raise ClusterUnavailable(
        f"the node did not become idle within {START_SECONDS} s (sinfo: {answer!r})\n{cluster.log_tails()}"
    )


def start(folder: Path) -> Cluster:
    """Install if needed, configure and start munged, slurmctld and slurmd; stop them on failure."""
    install()
    folder.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(folder, write_conf(folder))
    env = dict(os.environ, SLURM_CONF=str(cluster.conf))
    try:
        _start_munge(folder)
        _daemon(["slurmctld", "-f", str(cluster.conf)], env)
        _daemon(["slurmd", "-f", str(cluster.conf)], env)
        _wait_idle(cluster, env)
    except BaseException:
        stop(cluster)
        raise
    return cluster


def _pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may never reap the daemons)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop(cluster: Cluster) -> None:
    """SIGTERM each daemon we started (newest first), SIGKILL it if it lingers."""
    for daemon in reversed(DAEMONS):
        pid = _pid(cluster.pid_file(daemon))
        if pid is None:
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 10
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _running(pid):
            os.kill(pid, signal.SIGKILL)
