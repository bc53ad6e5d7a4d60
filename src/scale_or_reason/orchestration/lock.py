"""One runner per study: an OS file lock on `runs/<study>/.lock` while `sor study` runs it."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import units
from ..config.params import StudyParams


class StudyLocked(RuntimeError):
    """Another `sor study` is running the same study."""


def _holder(lock_file: Path) -> str:
    try:
        facts = json.loads(lock_file.read_text())
    except (OSError, json.JSONDecodeError):
        return "another process"
    return f"pid {facts['pid']} on {facts['host']} since {facts['since']} ({facts['command']})"


@contextmanager
def study_lock(study: StudyParams, wait: bool = False) -> Iterator[None]:
    """Hold the study's lock while its units run, so two runners never do the same work twice.

    An OS file lock, released by the kernel when its holder exits in any way (a SIGKILL included),
    so a killed study never leaves a stale lock behind. Without `wait` a second runner stops at
    once, naming the holder; with it, it waits its turn.
    """
    lock_file = units.study_dir(study) / ".lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(lock_file)
            if not wait:
                raise StudyLocked(
                    f"study {study.study!r} is already being run by {holder}; "
                    "let it finish, stop it, or pass --wait to run after it"
                ) from None
            print(f"waiting for {holder} to finish study {study.study!r}", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        facts = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join(sys.argv),
        }
        handle.write(json.dumps(facts))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
