"""Files a run writes: atomically (a killed run never leaves half a file), and JSONL that keeps
strings strings.

Every artifact is written to a temporary name beside its place and renamed into place, so a
reader sees the old file or the new one, never a mix. JSONL is read and written here only, with
the standard `json` module: a reader that infers types (`pandas.read_json`) would turn an answer
such as "007" or "511" into a number.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

# Data files the toolkit reads pairs and prompts from: suffix → the `datasets` loader that reads it.
DATA_FILE_TYPES = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Let `write` fill a temporary file or folder beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(path)
    remove(temporary)
    try:
        write(temporary)
    except BaseException:
        remove(temporary)
        raise
    if path.is_dir():
        shutil.rmtree(path)
    os.replace(temporary, path)
    return path


def write_text(path: Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: object) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_csv(path: Path, table: pd.DataFrame) -> Path:
    return write_atomic(path, lambda tmp: table.to_csv(tmp, index=False))


def _plain(value):
    return value.item()  # a numpy scalar left in a record by pandas


def write_jsonl(path: Path, rows: Iterable[dict]) -> Path:
    """One compact JSON object per line, non-ASCII text kept as it is."""
    lines = (json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=_plain) for row in rows)
    return write_text(path, "".join(line + "\n" for line in lines))


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def read_jsonl_table(path: Path) -> pd.DataFrame:
    return pd.DataFrame.from_records(read_jsonl(path))


def committed_text(path: Path) -> str | None:
    """The text of `path` as git's last commit holds it (None outside a repository or for a file
    git does not track): what a rerun is compared with before it overwrites the file."""
    path = Path(path).resolve()
    result = subprocess.run(
        ["git", "-C", str(path.parent), "show", f"HEAD:./{path.name}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None
