"""The coverage of the analysis's 95% intervals on synthetic studies with a known truth
(`scale_or_reason.analysis.simulation`): accuracy, reasoning minus IFT, and a rerun's seed mean.

    .venv/bin/python benchmarks/coverage.py [--studies 1000] [--seed 0]

Prints, per accuracy and seed SD (on the accuracy scale), the share of simulated studies whose
interval holds the truth; the test (`tests/test_coverage.py`) asserts 92-98% on part of this grid
with fewer studies.
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

from scale_or_reason.analysis import simulation

ACCURACIES = (0.5, 0.15)
SEED_SDS = (0.0, 0.05, 0.1, 0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000, help="simulated studies per setting")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    rows = []
    for accuracy in ACCURACIES:
        for seed_sd in SEED_SDS:
            start = time.perf_counter()
            row = simulation.coverage(seed_sd, accuracy, args.studies, seed=args.seed)
            rows.append({**row, "seconds": time.perf_counter() - start})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
