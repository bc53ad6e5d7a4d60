"""Where a unit's time goes outside its training loop, read from a finished study's records.

    .venv/bin/python benchmarks/overhead.py parameters/embedded.yaml

For every finished unit of the study, from what the run left in its folder: the unit's seconds as
the runner timed them (`timings.csv`, start of the papermill process to the unit complete), the
papermill run's own duration and each code cell's (the executed notebook's metadata), and for
training units the loop (`train_seconds` in `train_metrics.json`), for evaluation units the
generation (`generation_seconds` in `complete.json`; an evaluation written before it was recorded
counts its generation as fixed cost). Prints, per stage, the mean
seconds of: the process's start, the kernel's start and saving, the cells before the main one,
the main cell outside the training loop, the loop, the cells after it; then the fixed cost per
unit (everything but the loop) and its share of the stage's slot time. `process_start` is the
papermill process before its clock starts (interpreter, imports); `kernel_and_saving` is
papermill's time outside every cell (the kernel's start, writing the executed notebook). Reads
only; runs nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics

import pandas as pd

from scale_or_reason import units
from scale_or_reason.config import paths
from scale_or_reason.config.params import load_study
from scale_or_reason.core import files


def cell_seconds(notebook: dict) -> list[tuple[str, float]]:
    """(source, seconds) of every code cell papermill ran."""
    return [
        ("".join(cell["source"]), cell["metadata"].get("papermill", {}).get("duration") or 0.0)
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
    ]


def unit_record(unit: units.Unit, unit_seconds: float | None) -> dict | None:
    notebook_file = unit.folder / unit.notebook.name
    if not units.is_complete(unit.folder) or not notebook_file.is_file():
        return None
    notebook = json.loads(notebook_file.read_text())
    cells = cell_seconds(notebook)
    main = max(range(len(cells)), key=lambda index: cells[index][1])  # the cell that does the work
    metrics_file = unit.folder / "train_metrics.json"
    loop = files.read_json(metrics_file)["train_seconds"] if metrics_file.is_file() else 0.0
    # An evaluation unit's loop is its generation (recorded since the evaluation counts it).
    loop = files.read_json(unit.folder / units.COMPLETE).get("generation_seconds", loop)
    papermill = notebook["metadata"]["papermill"]["duration"]
    return {
        "stage": unit.stage,
        "unit": unit.name,
        "unit_seconds": unit_seconds,
        "process_start": None if unit_seconds is None else unit_seconds - papermill,
        "kernel_and_saving": papermill - sum(seconds for _, seconds in cells),
        "cells_before": sum(seconds for _, seconds in cells[:main]),
        "main_outside_loop": cells[main][1] - loop,
        "loop": loop,
        "cells_after": sum(seconds for _, seconds in cells[main + 1 :]),
    }


def overhead_table(parameters: str) -> pd.DataFrame:
    study = load_study(parameters)
    timings_file = units.study_dir(study) / "timings.csv"
    timed = {}
    if timings_file.is_file():
        timings = pd.read_csv(timings_file)
        ran = timings[timings["status"] == "ran"]
        timed = {f"{row.stage}:{row.unit}": row.seconds for row in ran.itertuples()}
    records = [unit_record(unit, timed.get(unit.key)) for unit in units.plan(study, parameters)]
    return pd.DataFrame([record for record in records if record is not None])


def summary(table: pd.DataFrame) -> pd.DataFrame:
    columns = [
        *("process_start", "kernel_and_saving", "cells_before", "main_outside_loop"),
        *("loop", "cells_after", "unit_seconds"),
    ]
    per_stage = table.groupby("stage")[columns].mean()
    per_stage.insert(0, "units", table.groupby("stage").size())
    per_stage["fixed_per_unit"] = per_stage["unit_seconds"] - per_stage["loop"]
    per_stage["fixed_share"] = per_stage["fixed_per_unit"] / per_stage["unit_seconds"]
    return per_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parameters", help="a study's parameters file, e.g. parameters/embedded.yaml")
    args = parser.parse_args()
    paths.use_project_of(args.parameters)
    table = overhead_table(args.parameters)
    if table.empty:
        raise SystemExit(f"no finished unit of {args.parameters} to read: run the study first")
    print(summary(table).round(2).to_string())
    untimed = int(table["unit_seconds"].isna().sum())
    if untimed:
        print(f"{untimed} units were reused, not run, by the last `sor study`: no unit seconds for them")
    fixed = (table["unit_seconds"] - table["loop"]).dropna()
    if fixed.empty:
        raise SystemExit("the last `sor study` reused every unit: run the study in a fresh runs folder")
    print(f"fixed cost per unit, all stages: mean {statistics.fmean(fixed):.1f} s over {len(fixed)} units")


if __name__ == "__main__":
    main()
