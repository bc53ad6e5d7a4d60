"""A heading of `04_pareto` states a finding only when the study's numbers show it, else it asks."""

import pandas as pd

from scale_or_reason.analysis import headings


def lengths(failed: float, succeeded: float) -> pd.DataFrame:
    rows = [
        {"scale": s, "recipe": "reasoning", "benchmark": "b", "correct": c, "gen_tokens_mean": t}
        for s in ("xs", "s")
        for c, t in ((False, failed), (True, succeeded))
    ]
    return pd.DataFrame(rows)


def test_failed_answers_are_said_to_run_longer_only_when_they_do():
    assert headings.failed_answers(lengths(120, 100)).startswith("Failed answers run longer")
    shorter = headings.failed_answers(lengths(80, 100))
    assert shorter.startswith("Do failed answers run longer") and "Not here: 0.80×" in shorter


def test_the_gain_is_said_to_grow_with_tokens_only_when_it_does():
    factors = [2, 3, 4, 5, 6, 7, 8, 9]
    rising = pd.DataFrame({"token_factor": factors, "gain": [0.01 * f for f in factors]})
    assert headings.gain_with_tokens(rising).startswith("Where reasoning pays, it pays in tokens")
    falling = rising.assign(gain=[-0.01 * f for f in factors])
    assert headings.gain_with_tokens(falling).startswith("Does reasoning's gain grow")
    flat = rising.assign(gain=0.0)  # (no warning from a correlation of a constant)
    assert headings.gain_with_tokens(flat).endswith("do not vary")


def test_inference_cost_and_the_formula_gap_are_stated_from_the_numbers():
    results = pd.DataFrame(
        {
            "scale": ["xs", "xs", "l", "l"],
            "order": ["ift", "reasoning", "ift", "reasoning"],
            "recipe": ["ift", "reasoning", "ift", "reasoning"],
            "inference_flops": [1.0, 5.0, 10.0, 40.0],
            "params": [10, 10, 1000, 1000],
            "train_flops_exact": [0.7, 0.7, 1.0, 1.0],
            "train_flops_paper": [1.0, 1.0, 1.0, 1.0],
        }
    )
    assert headings.inference_cost(results).startswith("Inference cost grows with size, higher for reasoning")
    cheaper = results.assign(inference_flops=[1.0, 5.0, 40.0, 10.0])
    assert headings.inference_cost(cheaper).endswith("not the dearer format at every size here")
    assert headings.formula_gap(results).startswith("The paper's formula and the exact count part ways")
    agreeing = results.assign(train_flops_exact=1.0)
    assert headings.formula_gap(agreeing).endswith("Within 10% here")
