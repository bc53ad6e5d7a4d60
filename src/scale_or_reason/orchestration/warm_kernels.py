"""Warm kernels: each unit's notebook runs in a kernel forked from a process that has already
imported torch, transformers, TRL, datasets and lm-eval.

A fresh `ipykernel` spends 5–8 s of a unit importing those before the first training step or
generation, 75 times in the embedded study. Here a study starts one kernel server per kernel
environment (`serve`). The unit's papermill process is a launcher that asks the server for a fork
(`papermill`); papermill still starts its kernel through a kernel spec named `python3`, whose
command is another launcher (`kernel`). A launcher sends the server its arguments, environment,
working folder and standard streams, and stands in for the fork until it exits: signals go on to
it, its exit status comes back, and if either side dies the fork is killed. Every unit still gets
a kernel of its own, started from the same imports, so its results do not change (checkpoints
and samples byte-identical to fresh kernels': `tests/test_slurm.py`).

A launcher that finds no server for its exact environment (a Slurm node, the first seconds of a
study while the server imports, another thread budget) starts an ordinary `ipykernel` instead.

    python -m scale_or_reason.orchestration.warm_kernels serve SOCKET        # the runner starts it
    python -m scale_or_reason.orchestration.warm_kernels papermill ARGS      # the runner's unit
    python -m scale_or_reason.orchestration.warm_kernels kernel -f CONN      # the kernel spec's argv

Only the standard library is imported at module level: the launcher must start in milliseconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

POOL_VARIABLE = "SOR_KERNEL_POOL"  # the folder of servers' sockets, set in each unit's environment
# What a unit's kernel imports anyway (its notebooks' cells, the lazily loaded model class).
PRELOADED = (
    "IPython",
    "ipykernel.kernelapp",
    "numpy",
    "pandas",
    "torch",
    "transformers",
    "transformers.models.qwen2.modeling_qwen2",
    "trl",
    "datasets",
    "lm_eval",
    "lm_eval.models.huggingface",
    "matplotlib.pyplot",
    "papermill.cli",
    "seaborn",
    "scale_or_reason.data.generation",
    "scale_or_reason.training.train",
    "scale_or_reason.evaluation.evaluate",
    "scale_or_reason.analysis.plots",
    "scale_or_reason.analysis.stages",
)
# Set by jupyter_client for each kernel, or by the pool itself: not part of what must match.
VOLATILE_PREFIXES = ("JPY_", "PYDEVD_", "JUPYTER_PATH", POOL_VARIABLE)
KERNEL_SPEC = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "metadata": {"debugger": True},
}
MESSAGE_BYTES = 1 << 20
SERVER_START_SECONDS = 120


def environment_key(environment: dict[str, str]) -> str:
    """Which server may fork a kernel for this environment: the same variables, the same values."""
    kept = sorted((k, v) for k, v in environment.items() if not k.startswith(VOLATILE_PREFIXES))
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()[:16]


def socket_path(pool: Path, environment: dict[str, str]) -> Path:
    return pool / f"{environment_key(environment)}.sock"


class KernelPool:
    """The study runner's kernel servers, one per kernel environment, stopped when it ends; their
    sockets and the kernel spec in a short temporary folder (a socket's path is limited to 107
    bytes)."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="sor-kernels-"))
        self.servers: dict[Path, subprocess.Popen] = {}
        self.starting = threading.Lock()  # the runner's jobs ask from their own threads

    def __enter__(self) -> KernelPool:
        spec_folder = self.folder / "kernels" / "python3"
        spec_folder.mkdir(parents=True, exist_ok=True)
        argv = command("kernel", ["-f", "{connection_file}"])
        (spec_folder / "kernel.json").write_text(json.dumps({"argv": argv, **KERNEL_SPEC}, indent=1))
        return self

    def __exit__(self, *exc) -> None:
        for server in self.servers.values():
            server.terminate()
        for server in self.servers.values():
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def environment(self, environment: dict[str, str]) -> dict[str, str]:
        """`environment` for a unit whose kernel comes from this pool; its server is started the
        first time the environment is seen, and waited for: the units it would serve need its
        imports anyway (a server that fails leaves them to start their own kernels)."""
        warm = {**environment, POOL_VARIABLE: str(self.folder), "JUPYTER_PATH": str(self.folder)}
        path = socket_path(self.folder, warm)
        with self.starting:
            if path not in self.servers:
                self.servers[path] = subprocess.Popen(
                    [sys.executable, "-m", __name__, "serve", str(path)],
                    env=warm,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                )
            deadline = time.monotonic() + SERVER_START_SECONDS
            while not path.exists() and self.servers[path].poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        return warm


# The server ------------------------------------------------------------------------------------


def serve(path: Path) -> None:
    """Import what kernels need, then fork one per request until the runner that started it ends."""
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as `ipykernel_launcher` does: a kernel imports nothing from the working folder
    for module in PRELOADED:
        importlib.import_module(module)
    runner = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    staging = path.with_suffix(f".{os.getpid()}.tmp")
    listener.bind(str(staging))
    listener.listen(16)
    os.replace(staging, path)  # the socket appears only once everything is imported
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    kernels: dict[socket.socket, int] = {}
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    try:
        while os.getppid() == runner:
            for key, _ in selector.select(timeout=0.1):
                if key.fileobj is listener:
                    _accept(listener, selector, kernels)
                else:
                    _relay(key.fileobj, selector, kernels)
            _reap(selector, kernels)
    finally:
        for pid in kernels.values():
            _kill(pid, signal.SIGKILL)
        path.unlink(missing_ok=True)
        if os.getppid() != runner:  # the runner died without its clean-up: the pool's folder goes too
            shutil.rmtree(path.parent, ignore_errors=True)


def _accept(listener: socket.socket, selector, kernels: dict) -> None:
    connection, _ = listener.accept()
    message, streams, _, _ = socket.recv_fds(connection, MESSAGE_BYTES, 3)
    request = json.loads(message)
    pid = os.fork()
    if pid == 0:
        _become(request, streams, [listener, connection, *kernels])
    for stream in streams:
        os.close(stream)
    connection.send(f"pid {pid}".encode())
    kernels[connection] = pid
    selector.register(connection, selectors.EVENT_READ)


def _relay(connection: socket.socket, selector, kernels: dict) -> None:
    """A signal from the launcher goes on to its kernel; a launcher gone takes its kernel along."""
    message = connection.recv(64).decode()
    if message.startswith("signal "):
        _kill(kernels[connection], int(message.split()[1]))
        return
    _kill(kernels.pop(connection), signal.SIGKILL)
    selector.unregister(connection)
    connection.close()


def _reap(selector, kernels: dict) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        for connection, kernel in list(kernels.items()):
            if kernel == pid:
                connection.send(f"exit {os.waitstatus_to_exitcode(status)}".encode())
                selector.unregister(connection)
                connection.close()
                del kernels[connection]


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _become(request: dict, streams: list[int], inherited: list[socket.socket]) -> None:
    """In the forked child: the launcher's streams, environment and folder, then its program."""
    code = 1
    try:
        for held in inherited:
            held.close()
        for target, stream in enumerate(streams):
            os.dup2(stream, target)
            os.close(stream)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        threading.Thread(target=_follow, args=(request["launcher"],), daemon=True).start()
        PROGRAMS[request["program"]](request["argv"])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _kernel(argv: list[str]) -> None:
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = [sys.executable, "-m", "ipykernel_launcher", *argv]
    IPKernelApp.launch_instance(argv=argv)


def _papermill(argv: list[str]) -> None:
    from papermill.cli import papermill

    sys.argv = [sys.executable, "-m", "papermill", *argv]
    papermill.main(args=argv, prog_name="papermill")


PROGRAMS = {"kernel": _kernel, "papermill": _papermill}
COLD = {"kernel": "ipykernel_launcher", "papermill": "papermill"}  # the module each runs without a server


def _follow(launcher: int) -> None:
    """The kernel ends with its launcher, however that ends (a SIGKILL included)."""
    while True:
        time.sleep(1)
        try:
            os.kill(launcher, 0)
        except ProcessLookupError:
            os._exit(1)


# The launcher ----------------------------------------------------------------------------------


def launch(program: str, argv: list[str]) -> None:
    """`program` (`kernel`: what the kernel spec runs; `papermill`: what the runner runs) forked
    from the server that matches this environment, or started afresh if none does."""
    pool = os.environ.get(POOL_VARIABLE)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        if not pool:
            raise FileNotFoundError(POOL_VARIABLE)
        connection.connect(str(socket_path(Path(pool), dict(os.environ))))
    except OSError:
        connection.close()
        os.execv(sys.executable, [sys.executable, "-m", COLD[program], *argv])
    request = {
        "program": program,
        "argv": argv,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "launcher": os.getpid(),
    }
    socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
    child = int(connection.recv(64).decode().split()[1])
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, lambda received, _: connection.send(f"signal {received}".encode()))
    sys.exit(_wait(connection, child, os.getppid()))


def _wait(connection: socket.socket, child: int, parent: int) -> int:
    """The child's exit status; the child is killed if the server dies or if this launcher's own
    parent does (papermill, for a kernel: what ipykernel's parent poller does for a cold kernel)."""
    connection.settimeout(0.5)
    while True:
        try:
            reply = connection.recv(64).decode()
        except TimeoutError:
            if os.getppid() == parent:
                continue
            reply = ""
        if reply.startswith("exit "):
            return int(reply.split()[1])
        if not reply:
            _kill(child, signal.SIGKILL)
            return 1


def command(program: str, argv: list[str]) -> list[str]:
    """The command line that runs `program` with `argv` through a pool's server."""
    return [sys.executable, "-m", __name__, program, *argv]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        serve(Path(argv[1]))
    elif argv[:1] and argv[0] in PROGRAMS:
        launch(argv[0], argv[1:])
    else:
        sys.exit(f"usage: python -m {__name__} serve SOCKET | kernel -f CONNECTION_FILE | papermill ARGS")


if __name__ == "__main__":
    main()
