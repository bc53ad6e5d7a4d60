"""Cost axes stay readable at any span: at least two labels, none overlapping (the figures are
checked by eye too; this keeps what the eye found from coming back)."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from scale_or_reason.analysis import plots

SPANS = {
    "under a decade (one data-efficiency study)": (1.4e12, 2.1e12),
    "about a decade": (5e11, 4e12),
    "two decades (the embedded study)": (1.2e11, 8e12),
    "parameters, 9k to 334k": (9e3, 3.3e5),
    "six decades": (1e3, 1e9),
}


def drawn_labels(low: float, high: float) -> list:
    students = pd.DataFrame(
        {
            "scale": ["s", "m"],
            "recipe": ["ift", "reasoning"],
            "order": ["ift", "reasoning"],
            "benchmark": "math_oe",
            "train_flops": [low, high],
            "accuracy": [0.3, 0.6],
        }
    )
    plots.set_style()
    figure = plots.accuracy_vs_flops(students, {"math_oe": "math_oe"}, "train_flops", ["s", "m"])
    figure.canvas.draw()
    ax = figure.axes[0]
    left, right = ax.get_xlim()
    renderer = figure.canvas.get_renderer()
    labels = [
        (label.get_text(), label.get_window_extent(renderer))
        for label, tick in zip(ax.get_xticklabels(), ax.get_xticks(), strict=True)
        if left <= tick <= right and label.get_text()
    ]
    plt.close(figure)
    return labels


@pytest.mark.parametrize("span", SPANS.values(), ids=SPANS.keys())
def test_a_cost_axis_shows_two_labels_or_more_and_none_overlap(span):
    labels = drawn_labels(*span)
    assert len(labels) >= 2, [text for text, _ in labels]
    for (first, box), (second, other) in itertools.combinations(labels, 2):
        assert not box.overlaps(other), (first, second)
