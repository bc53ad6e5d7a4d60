"""Pareto frontiers: which runs no other run beats on both cost and accuracy."""

from __future__ import annotations

import numpy as np


def pareto_mask(costs, scores) -> np.ndarray:
    """True for every point that no other point dominates.

    A point is dominated when another costs no more and scores no less, and is strictly better in
    at least one of the two. Ties on both count as non-dominated together.
    """
    costs, scores = np.asarray(costs, dtype=float), np.asarray(scores, dtype=float)
    if costs.shape != scores.shape or costs.ndim != 1:
        raise ValueError("costs and scores must be 1-D arrays of the same length")
    no_worse = (costs[None, :] <= costs[:, None]) & (scores[None, :] >= scores[:, None])
    strictly_better = (costs[None, :] < costs[:, None]) | (scores[None, :] > scores[:, None])
    return ~(no_worse & strictly_better).any(axis=1)


def frontier_steps(costs, scores) -> tuple[np.ndarray, np.ndarray]:
    """The frontier as a staircase to draw: sorted by cost, accuracy held until the next point."""
    mask = pareto_mask(costs, scores)
    order = np.argsort(np.asarray(costs, dtype=float)[mask])
    return np.asarray(costs, dtype=float)[mask][order], np.asarray(scores, dtype=float)[mask][order]
