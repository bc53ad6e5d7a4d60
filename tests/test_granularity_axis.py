"""Granularity as a study axis: coarser-trace recipes, their rows, and the smallest sufficient trace."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml
from datasets import Dataset

from conftest import PARAMETERS
from scale_or_reason import units
from scale_or_reason.analysis import plots
from scale_or_reason.analysis.granularity import granularity_table, smallest_sufficient
from scale_or_reason.config.params import ParametersError, parse_study
from scale_or_reason.config.recipes import parse_recipe
from scale_or_reason.data.sft_rows import recipe_rows
from scale_or_reason.data.tasks import FAMILIES
from scale_or_reason.data.teachers import synthetic_pairs


@pytest.mark.parametrize("level", ["key", "answer"])
def test_a_coarser_recipe_trains_every_prompt_on_the_teachers_coarser_trace(level):
    recipe = parse_recipe(f"reasoning-{level}")
    assert (recipe.kind, recipe.reasoning_share, recipe.granularity) == (level, 1.0, level)
    full = [row for family in FAMILIES for row in synthetic_pairs(family, "train", 12, 3)]
    coarse = {
        row["id"]: row["reasoning"]
        for family in FAMILIES
        for row in synthetic_pairs(family, "train", 12, 3, granularity=level)
    }
    rows = recipe_rows(Dataset.from_list(full), f"reasoning-{level}", seed=0)
    assert set(rows["format"]) == {"reasoning"}
    for row in rows:
        assert row["completion"][0]["content"] == coarse[row["id"]]
        assert row["chat_template_kwargs"] == {"enable_thinking": True}
    assert parse_recipe("reasoning").granularity == "full"


def test_the_granularity_axis_trains_at_its_scales_only():
    data = yaml.safe_load((PARAMETERS / "smoke.yaml").read_text())
    data["granularity"] = {"levels": ["key", "answer"], "scales": ["small"]}
    study = parse_study(data)
    students = units.students(study)
    assert ("small", "reasoning-key") in students and ("small", "reasoning-answer") in students
    assert ("tiny", "reasoning-key") not in students
    data["granularity"]["scales"] = ["huge"]
    with pytest.raises(ParametersError, match=r"granularity\.scales names 'huge'"):
        parse_study(data)


def _results(accuracies: dict[str, float], transfer: dict[str, float]) -> pd.DataFrame:
    rows = []
    for recipe, flops in (("reasoning", 300.0), ("reasoning-key", 200.0), ("reasoning-answer", 100.0)):
        rows.append(
            {
                "scale": "m",
                "params": 10,
                "recipe": recipe,
                "benchmark": "home",
                "accuracy": accuracies[recipe],
                "train_flops": flops,
                "gen_tokens_mean": 5.0,
            }
        )
        rows.append(
            {
                "scale": "m",
                "params": 10,
                "recipe": recipe,
                "benchmark": "away",
                "accuracy": transfer[recipe],
                "train_flops": flops,
                "gen_tokens_mean": 5.0,
            }
        )
    return pd.DataFrame(rows)


VARIANTS = {"home": ("math_oe", "test"), "away": ("math_oe", "rephrased")}


@pytest.mark.parametrize(
    ("accuracies", "expected"),
    [
        ({"reasoning": 0.80, "reasoning-key": 0.79, "reasoning-answer": 0.10}, "key"),  # within 2 points
        ({"reasoning": 0.80, "reasoning-key": 0.77, "reasoning-answer": 0.10}, "full"),  # 3 points short
        (
            {"reasoning": 0.50, "reasoning-key": 0.60, "reasoning-answer": 0.59},
            "answer",
        ),  # the best need not be full
    ],
)
def test_the_smallest_sufficient_granularity_is_the_coarsest_within_two_points(accuracies, expected):
    table = granularity_table(_results(accuracies, {r: 0.0 for r in accuracies}), VARIANTS, ["m"])
    assert list(table["granularity"]) == ["answer", "key", "full"]
    chosen = smallest_sufficient(table).iloc[0]
    assert chosen["smallest_sufficient"] == expected
    assert chosen["best_accuracy"] == max(accuracies.values())
    flops = {"full": 300.0, "key": 200.0, "answer": 100.0}[expected]
    assert chosen["share_of_full_train_flops"] == pytest.approx(flops / 300.0)


def test_transfer_accuracy_is_the_mean_over_the_familys_transfer_sets():
    accuracies = {"reasoning": 0.8, "reasoning-key": 0.7, "reasoning-answer": 0.1}
    table = granularity_table(
        _results(accuracies, {"reasoning": 0.4, "reasoning-key": 0.3, "reasoning-answer": 0.0}),
        VARIANTS,
        ["m"],
    )
    assert table.set_index("granularity")["transfer_accuracy"].to_dict() == {
        "answer": 0.0,
        "key": 0.3,
        "full": 0.4,
    }


def test_the_legend_marks_each_scale_as_the_points_do_when_only_some_scales_are_drawn():
    """Scales m and l of five: the legend's marker for each is the one its points use (it once
    took the index among the scales shown, so m got xs's circle)."""
    table = pd.DataFrame(
        {
            "family": "math_oe",
            "granularity": ["full", "key", "full", "key"],
            "scale": ["m", "m", "l", "l"],
            "train_flops": [1e12, 8e11, 3e12, 2.5e12],
            "accuracy": [0.6, 0.5, 0.8, 0.7],
            "transfer_accuracy": [0.2, float("nan"), 0.3, 0.2],
        }
    )
    scales = ["xs", "s", "m", "l", "xl"]
    figure = plots.granularity_vs_flops(table, scales)
    texts = [text.get_text() for text in figure.legends[0].texts]
    legend = dict(zip(texts, figure.legends[0].legend_handles, strict=True))
    plt.close(figure)
    assert [name for name in legend if name in scales] == ["m", "l"]
    assert legend["m"].get_marker() == plots.marker("m", scales) == "D"
    assert legend["l"].get_marker() == plots.marker("l", scales) == "^"
