"""Verdicts, curriculum shares and headline counts on a small hand-made results table."""

import numpy as np
import pandas as pd
import pytest

from scale_or_reason.analysis import verdicts
from scale_or_reason.analysis.answer_lengths import truncate

PANELS = {"math_oe": "math_oe"}


def row(scale, recipe, order, share, accuracy, train_flops, inference_flops, params, gen_tokens):
    return dict(
        scale=scale,
        recipe=recipe,
        order=order,
        reasoning_share=share,
        family="math_oe",
        benchmark="math_oe",
        accuracy=accuracy,
        train_flops=train_flops,
        inference_flops=inference_flops,
        params=params,
        gen_tokens_mean=gen_tokens,
    )


@pytest.fixture
def results():
    return pd.DataFrame(
        [
            row("s", "ift", "ift", 0.0, 0.10, 1.0, 1.0, 10, 5),
            row("s", "reasoning", "reasoning", 1.0, 0.40, 2.0, 8.0, 10, 50),
            row("m", "ift", "ift", 0.0, 0.30, 3.0, 3.0, 30, 5),
            row("m", "reasoning", "reasoning", 1.0, 0.60, 6.0, 24.0, 30, 45),
            row("l", "ift", "ift", 0.0, 0.50, 9.0, 9.0, 90, 6),
            row("l", "reasoning", "reasoning", 1.0, 0.55, 18.0, 72.0, 90, 40),
            row("m", "sequential-50", "sequential", 0.5, 0.50, 4.5, 14.0, 30, 30),
        ]
    )


def test_verdicts_name_the_matching_ift_student_and_the_flops_multiple(results):
    fits = verdicts.format_fits(results, PANELS, "train_flops", 1.0)
    table = verdicts.verdict_table(results, PANELS, fits).set_index("scale")
    # reasoning-s (0.40) is matched by IFT-l (0.50), the cheapest IFT at or above it
    assert table.loc["s", "matching_ift"] == "l"
    assert table.loc["s", "ift_train_flops_multiple"] == pytest.approx(9.0 / 2.0)
    assert table.loc["s", "ift_inference_flops_multiple"] == pytest.approx(9.0 / 8.0)
    # nothing IFT reaches 0.60
    assert pd.isna(table.loc["m", "matching_ift"]) and np.isnan(table.loc["m", "ift_train_flops_multiple"])
    # frontier over all runs: reasoning-s and reasoning-m are on the training frontier, reasoning-l is not
    assert table.loc["s", "on_train_frontier"] and table.loc["m", "on_train_frontier"]
    assert not table.loc["l", "on_train_frontier"]


def test_headline_counts(results):
    assert verdicts.cells_won_by_reasoning(results, PANELS) == (3, 3)
    # training frontier: ift-s (1, .1), reasoning-s (2, .4), sequential-m (4.5, .5), reasoning-m (6, .6)
    assert verdicts.cells_on_frontier(results, PANELS, "ift", "on_train_frontier") == (1, 3)
    assert verdicts.cells_on_frontier(results, PANELS, "reasoning", "on_train_frontier") == (2, 3)
    ratios = verdicts.length_ratios(results)
    assert ratios.loc[("math_oe", "s")] == pytest.approx(10.0)


def test_curriculum_shares(results):
    table = verdicts.curriculum_table(results, PANELS).set_index(["scale", "recipe"])
    curriculum = table.loc[("m", "sequential-50")]
    assert curriculum["gain_over_ift"] == pytest.approx(0.20)
    assert curriculum["share_of_reasoning_gain"] == pytest.approx(0.20 / 0.30)
    assert curriculum["share_of_reasoning_train_flops"] == pytest.approx(4.5 / 6.0)
    assert table.loc[("m", "reasoning"), "share_of_reasoning_gain"] == pytest.approx(1.0)


def test_fits_need_three_points(results):
    fits = verdicts.format_fits(results, PANELS, "train_flops", 1.0)
    assert set(fits["recipe"]) == {"ift", "reasoning"}
    assert verdicts.fit_of(fits, "math_oe", "ift", "train_flops").alpha > 0
    two_points = results[results["scale"] != "l"]
    assert verdicts.format_fits(two_points, PANELS, "train_flops", 1.0).empty
    assert (
        verdicts.fit_of(
            verdicts.format_fits(two_points, PANELS, "train_flops", 1.0), "math_oe", "ift", "train_flops"
        )
        is None
    )


def test_truncation_keeps_what_was_written_by_then(small_tokenizer):
    response = "<think>\n4 × 6 = 24\n</think>\n\n\\boxed{24}"
    length = len(small_tokenizer(response, add_special_tokens=False)["input_ids"])
    assert truncate(response, small_tokenizer, length + 1) == response
    cut = truncate(response, small_tokenizer, 4)
    assert response.startswith(cut) and "</think>" not in cut
