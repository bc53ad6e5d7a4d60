"""The study's grid: task families, benchmark variants, and the family of each of the paper's
benchmarks. Names only; what a benchmark asks and how it is scored lives in `evaluation`.

The embedded tier's families mirror the paper's 2×2 grid (math / general × open-ended /
multiple-choice). A benchmark is `test` (in distribution: its family's panel in every figure and
verdict) or a transfer set (`rephrased`, `harder`, `related`). The paper's 18 benchmarks belong to
the same four families plus its two "extra" groups.
"""

from __future__ import annotations

import difflib
from typing import Literal, get_args

Family = Literal["math_oe", "math_mc", "general_oe", "general_mc"]
FAMILIES: tuple[str, ...] = get_args(Family)

IN_DISTRIBUTION = "test"
Variant = Literal["test", "rephrased", "harder", "related"]
BENCHMARK_VARIANTS: tuple[str, ...] = get_args(Variant)

PAPER_GROUPS = ("general_mc", "general_oe", "math_mc", "math_oe", "extra_mc", "extra_oe")
PAPER_BENCHMARK_GROUPS = {
    "winogrande": "general_mc",
    "openbookqa": "general_mc",
    "mmlu_miscellaneous": "general_mc",
    "squad": "general_oe",
    "coqa": "general_oe",
    "ifeval": "general_oe",
    "aqua_rat": "math_mc",
    "mmlu_math": "math_mc",
    "mmlu_pro_math": "math_mc",
    "gsm8k": "math_oe",
    "math_500": "math_oe",
    "aime": "math_oe",
    "mmlu_pro_law": "extra_mc",
    "mmlu_pro_code": "extra_mc",
    "mmlu_pro_physics": "extra_mc",
    "consumer_qa": "extra_oe",
    "c_code_summarization": "extra_oe",
    "scibench": "extra_oe",
}


class UnknownBenchmark(ValueError):
    def __init__(self, name: str):
        close = difflib.get_close_matches(name, PAPER_BENCHMARK_GROUPS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        known = ", ".join(sorted(PAPER_BENCHMARK_GROUPS))
        super().__init__(f"Unknown benchmark '{name}'.{hint} Known benchmarks: {known}.")


def check_paper_benchmarks(names: list[str]) -> None:
    """Raise `UnknownBenchmark` for the first name that is not one of the paper's benchmarks."""
    for name in names:
        if name not in PAPER_BENCHMARK_GROUPS:
            raise UnknownBenchmark(name)


def in_distribution_benchmarks(variants: dict[str, tuple[str, str]]) -> dict[str, str]:
    """family → its first benchmark of variant `test`, from benchmark → (family, variant): the
    benchmark every in-distribution table, verdict and figure panel of the family uses."""
    home: dict[str, str] = {}
    for benchmark, (family, variant) in variants.items():
        if variant == IN_DISTRIBUTION:
            home.setdefault(family, benchmark)
    return home
