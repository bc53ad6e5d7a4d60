"""Pareto frontiers (which runs no other run beats on both cost and accuracy) and the fitted
curves the paper draws through accuracy against FLOPs.

    from scale_or_reason.pareto import pareto_mask, fit_saturating
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit, logit

__all__ = [
    "SaturatingFit",
    "fit_band",
    "fit_power_law",
    "fit_saturating",
    "frontier_probability",
    "frontier_steps",
    "mark_frontiers",
    "pareto_mask",
    "settled",
]


SIGNIFICANT_DIGITS = 10


def settled(values) -> np.ndarray:
    """`values` rounded to `SIGNIFICANT_DIGITS` significant digits: two means that are equal
    mathematically (three seeds summed in another order) differ in the last bit about a fifth of
    the time, and "at least as accurate" must not depend on that."""
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = SIGNIFICANT_DIGITS - 1 - np.floor(np.log10(np.abs(values)))
    magnitude = 10.0 ** np.where(np.isfinite(digits), digits, 0)
    return np.round(values * magnitude) / magnitude


def pareto_mask(costs, scores) -> np.ndarray:
    """True for every point that no other point dominates.

    A point is dominated when another costs no more and scores no less, and is strictly better in
    at least one of the two. Ties on both count as non-dominated together.
    """
    costs, scores = settled(costs), settled(scores)
    if costs.shape != scores.shape or costs.ndim != 1:
        raise ValueError("costs and scores must be 1-D arrays of the same length")
    no_worse = (costs[None, :] <= costs[:, None]) & (scores[None, :] >= scores[:, None])
    strictly_better = (costs[None, :] < costs[:, None]) | (scores[None, :] > scores[:, None])
    return ~(no_worse & strictly_better).any(axis=1)


def frontier_probability(costs, score_samples) -> np.ndarray:
    """For each point, the share of replicates in which no other point dominates it.

    `score_samples` is replicates × points (bootstrap replicates of each point's accuracy);
    `costs` is one cost per point, or replicates × points when the cost is itself resampled
    (inference FLOPs per item depend on which items a replicate drew). Dominance as in
    `pareto_mask`: another point costs no more and scores no less, strictly better in one, on
    values `settled` to 10 significant digits. A missing cost or score is refused.
    """
    scores = settled(score_samples)
    if scores.ndim != 2:
        raise ValueError("score_samples must be replicates × points")
    if np.isnan(costs).any() or np.isnan(scores).any():
        raise ValueError("a point without a cost or a score has no place on a frontier")
    costs = np.broadcast_to(settled(costs), scores.shape)
    # [r, i, j]: in replicate r, point j dominates point i.
    no_worse = (costs[:, None, :] <= costs[:, :, None]) & (scores[:, None, :] >= scores[:, :, None])
    strictly_better = (costs[:, None, :] < costs[:, :, None]) | (scores[:, None, :] > scores[:, :, None])
    dominated = (no_worse & strictly_better).any(axis=2)
    return 1.0 - dominated.mean(axis=0)


def mark_frontiers(
    table: pd.DataFrame,
    by: str,
    frontiers: dict[str, str],
    score: str = "accuracy",
    among: pd.Series | None = None,
) -> pd.DataFrame:
    """A copy of `table` with a boolean column per frontier (`frontiers`: column → its cost
    column), each group of `by` its own frontier of cost against `score`. Only the rows where
    `among` is true compete; the others are never on the frontier."""
    marked = table.copy()
    competing = marked if among is None else marked[among]
    for column, cost in frontiers.items():
        marked[column] = False
        for _, group in competing.groupby(by):
            marked.loc[group.index, column] = pareto_mask(group[cost], group[score])
    return marked


def frontier_steps(costs, scores) -> tuple[np.ndarray, np.ndarray]:
    """The frontier as a staircase to draw: sorted by cost, accuracy held until the next point."""
    mask = pareto_mask(costs, scores)
    order = np.argsort(np.asarray(costs, dtype=float)[mask])
    return np.asarray(costs, dtype=float)[mask][order], np.asarray(scores, dtype=float)[mask][order]


# --- saturating fits -------------------------------------------------------------------------


class SaturatingFit(NamedTuple):
    """f(x) = α + β(1 − exp(−γ·x^δ)), with x in FLOPs."""

    alpha: float
    beta: float
    gamma: float
    delta: float

    def __call__(self, flops):
        x = np.asarray(flops, dtype=float)
        return self.alpha + self.beta * -np.expm1(-self.gamma * x**self.delta)

    def flops_for(self, accuracy: float) -> float:
        """The FLOPs at which the curve reaches `accuracy`; infinite beyond its ceiling α + β."""
        if accuracy <= self.alpha:
            return 0.0
        if accuracy >= self.alpha + self.beta:
            return math.inf
        return (-math.log1p(-(accuracy - self.alpha) / self.beta) / self.gamma) ** (1 / self.delta)


def fit_saturating(
    flops, accuracy, ceiling: float = 1.0, start: SaturatingFit | None = None
) -> SaturatingFit:
    """Fit f(x) = α + β(1 − exp(−γ·x^δ)) to points (FLOPs, accuracy) by least absolute error.

    Constraints (the paper's): α, β, γ > 0, 0 < δ ≤ 1 and α + β ≤ `ceiling` (the teacher's
    accuracy). They are built into the parametrisation: α = c·σ(a), β = (c − α)·σ(b),
    δ = σ(d), and γ·x^δ = exp(g)·(x / x₀)^δ with x₀ the geometric mean of the FLOPs, which keeps
    the optimisation in log-FLOPs space, where it is well conditioned; γ is reported for raw FLOPs.
    Nelder–Mead from a small deterministic grid of starts, the best one restarted until settled;
    from `start` alone when given (a fit of nearby data: a bootstrap replicate's warm start).
    """
    x, y = np.asarray(flops, dtype=float), np.asarray(accuracy, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError("flops and accuracy must be 1-D arrays of the same length, at least 2 points")
    if (x <= 0).any():
        raise ValueError("FLOPs must be positive")
    scale = float(np.exp(np.log(x).mean()))
    u = x / scale
    eps = 1e-6

    def unpack(theta):
        a, b, g, d = theta
        alpha = ceiling * min(max(expit(a), eps), 1 - eps)
        beta = (ceiling - alpha) * min(max(expit(b), eps), 1 - eps)
        return alpha, beta, math.exp(min(max(g, -50.0), 50.0)), min(max(expit(d), eps), 1.0)

    def loss(theta):
        alpha, beta, rate, delta = unpack(theta)
        return np.abs(alpha + beta * -np.expm1(-rate * u**delta) - y).mean()

    def search(theta):
        return optimize.minimize(
            loss, theta, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000}
        )

    if start is not None:
        best = search(_packed(start, ceiling, scale, eps))
        alpha, beta, rate, delta = unpack(best.x)
        return SaturatingFit(float(alpha), float(beta), float(rate * scale ** (-delta)), float(delta))
    low = max(min(y.min(), ceiling - 2 * eps), eps)
    starts = [
        (logit(min(max(low / ceiling, 0.01), 0.99)), b, g, d)
        for b in (-1.0, 1.0)
        for g in (-2.0, 0.0, 2.0)
        for d in (0.0, 2.0)
    ]
    best = min((search(theta) for theta in starts), key=lambda result: result.fun)
    for _ in range(3):  # restarting from the best point un-sticks a collapsed simplex
        best = min(best, search(best.x), key=lambda result: result.fun)
    alpha, beta, rate, delta = unpack(best.x)
    return SaturatingFit(float(alpha), float(beta), float(rate * scale ** (-delta)), float(delta))


def _packed(fit: SaturatingFit, ceiling: float, scale: float, eps: float) -> tuple[float, ...]:
    """The optimiser's coordinates of `fit` (the inverse of `fit_saturating`'s parametrisation)."""

    def inner(value: float) -> float:
        return float(logit(min(max(value, eps), 1 - eps)))

    alpha = min(fit.alpha, ceiling * (1 - eps))
    rate = max(fit.gamma * scale**fit.delta, 1e-300)
    return (inner(alpha / ceiling), inner(fit.beta / (ceiling - alpha)), math.log(rate), inner(fit.delta))


def fit_band(
    flops, accuracy_samples, fit: SaturatingFit, grid, ceiling: float = 1.0, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """The curve's 95% band on `grid`: the fit repeated on every replicate of the accuracies
    (replicates × points), each warm-started from `fit`, and the percentiles of its values."""
    curves = np.array(
        [fit_saturating(flops, sample, ceiling, start=fit)(grid) for sample in accuracy_samples]
    )
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(curves, [tail, 100 - tail], axis=0)
    return low, high


def fit_power_law(x, y) -> tuple[float, float]:
    """y = a·x^b by least squares in log-log space; returns (a, b)."""
    slope, intercept = np.polyfit(np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float)), 1)
    return float(np.exp(intercept)), float(slope)
