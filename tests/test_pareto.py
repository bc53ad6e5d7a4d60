import numpy as np
import pytest

from scale_or_reason.pareto import frontier_steps, pareto_mask


def brute_force(costs, scores):
    n = len(costs)
    keep = []
    for i in range(n):
        dominated = any(
            costs[j] <= costs[i] and scores[j] >= scores[i] and (costs[j] < costs[i] or scores[j] > scores[i])
            for j in range(n)
        )
        keep.append(not dominated)
    return np.array(keep)


@pytest.mark.parametrize("seed", range(20))
def test_matches_brute_force_on_random_points_with_ties(seed):
    rng = np.random.default_rng(seed)
    costs = rng.integers(1, 8, size=25).astype(float)
    scores = rng.integers(0, 5, size=25) / 4
    np.testing.assert_array_equal(pareto_mask(costs, scores), brute_force(costs, scores))


def test_known_frontier():
    costs = [1, 2, 3, 4, 2]
    scores = [0.1, 0.5, 0.4, 0.9, 0.5]
    assert pareto_mask(costs, scores).tolist() == [True, True, False, True, True]
    xs, ys = frontier_steps(costs, scores)
    assert xs.tolist() == [1, 2, 2, 4] and ys.tolist() == [0.1, 0.5, 0.5, 0.9]


def test_shapes_must_agree():
    with pytest.raises(ValueError):
        pareto_mask([1, 2], [1])


# --- the saturating fit ----------------------------------------------------------------------

from scale_or_reason.pareto import SaturatingFit, fit_power_law, fit_saturating  # noqa: E402

KNOWN = [
    SaturatingFit(0.05, 0.80, 3e-9, 0.7),
    SaturatingFit(0.20, 0.70, 1e-12, 1.0),
    SaturatingFit(0.10, 0.50, 1e-6, 0.45),
]


@pytest.mark.parametrize("true", KNOWN)
def test_the_fit_recovers_known_parameters_from_exact_points(true):
    flops = np.logspace(11, 14, 8)
    fit = fit_saturating(flops, true(flops))
    np.testing.assert_allclose(fit(flops), true(flops), atol=2e-3)
    assert fit.alpha == pytest.approx(true.alpha, abs=0.02)
    assert fit.alpha + fit.beta == pytest.approx(true.alpha + true.beta, abs=0.02)
    assert fit.delta == pytest.approx(true.delta, abs=0.05)


@pytest.mark.parametrize("seed", range(5))
def test_the_fit_keeps_the_constraints_on_noisy_points(seed):
    rng = np.random.default_rng(seed)
    flops = np.sort(rng.uniform(1e10, 1e13, 6))
    accuracy = np.clip(KNOWN[0](flops) + rng.normal(0, 0.08, 6), 0, 1)
    fit = fit_saturating(flops, accuracy, ceiling=0.9)
    assert fit.alpha > 0 and fit.beta > 0 and fit.gamma > 0 and 0 < fit.delta <= 1
    assert fit.alpha + fit.beta <= 0.9 + 1e-9
    residual = np.abs(fit(flops) - accuracy).mean()
    assert residual <= np.abs(accuracy - np.median(accuracy)).mean() + 1e-9, "no worse than a constant"


def test_flops_for_inverts_the_curve():
    fit = KNOWN[0]
    for accuracy in (0.2, 0.5, 0.8):
        assert fit(fit.flops_for(accuracy)) == pytest.approx(accuracy)
    assert fit.flops_for(0.01) == 0.0 and fit.flops_for(0.9) == float("inf")


def test_power_law_fit():
    x = np.array([1e4, 1e5, 1e6])
    a, b = fit_power_law(x, 3.0 * x**0.8)
    assert a == pytest.approx(3.0) and b == pytest.approx(0.8)


def test_the_fit_refuses_bad_input():
    with pytest.raises(ValueError, match="positive"):
        fit_saturating([0, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="same length"):
        fit_saturating([1, 2, 3], [0.1, 0.2])
