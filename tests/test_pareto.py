import numpy as np
import pytest

from scale_or_reason.pareto import frontier_probability, frontier_steps, pareto_mask


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


# --- the probability of being on the frontier -------------------------------------------------


def test_a_point_dominated_in_every_replicate_has_probability_zero_and_a_dominant_one_one():
    rng = np.random.default_rng(0)
    scores = np.column_stack([rng.uniform(0.6, 0.9, 500), rng.uniform(0.1, 0.5, 500), rng.uniform(0, 1, 500)])
    costs = [1.0, 2.0, 0.5]  # point 0 is cheaper and better than point 1 in every replicate
    probability = frontier_probability(costs, scores)
    assert probability[1] == 0.0
    assert probability[0] > 0
    best = np.column_stack([np.ones(500), scores[:, 1]])  # cheapest and most accurate: always there
    assert frontier_probability([0.1, 2.0], best).tolist() == [1.0, 0.0]


def test_two_exchangeable_points_are_each_on_it_half_the_time():
    rng = np.random.default_rng(1)
    scores = rng.normal(0.5, 0.1, size=(20_000, 2))
    probability = frontier_probability([1.0, 1.0], scores)  # same cost: the better one of each draw
    np.testing.assert_allclose(probability, [0.5, 0.5], atol=0.015)


def test_resampled_costs_count_per_replicate():
    scores = np.array([[0.5, 0.5], [0.5, 0.5]])
    costs = np.array([[1.0, 2.0], [3.0, 2.0]])  # point 0 cheaper in the first replicate only
    assert frontier_probability(costs, scores).tolist() == [0.5, 0.5]


@pytest.mark.parametrize("seed", range(5))
def test_frontier_probability_matches_a_brute_force_loop(seed):
    rng = np.random.default_rng(seed)
    replicates, points = 40, 12
    costs = rng.integers(1, 6, size=(replicates, points)).astype(float)
    scores = rng.integers(0, 4, size=(replicates, points)) / 3
    expected = np.mean([brute_force(costs[r], scores[r]) for r in range(replicates)], axis=0)
    np.testing.assert_allclose(frontier_probability(costs, scores), expected)
    fixed = costs[0]
    expected_fixed = np.mean([brute_force(fixed, scores[r]) for r in range(replicates)], axis=0)
    np.testing.assert_allclose(frontier_probability(fixed, scores), expected_fixed)


def test_frontier_probability_needs_replicates_by_points():
    with pytest.raises(ValueError):
        frontier_probability([1.0, 2.0], [0.5, 0.6])


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


def test_a_warm_start_finds_the_same_fit_and_a_band_holds_the_curve():
    from scale_or_reason.pareto import fit_band

    truth = KNOWN[0]
    flops = np.logspace(11, 14, 7)
    fit = fit_saturating(flops, truth(flops))
    again = fit_saturating(flops, truth(flops), start=fit)
    grid = np.logspace(11, 14, 20)
    np.testing.assert_allclose(again(grid), fit(grid), atol=1e-6)
    same = np.tile(truth(flops), (5, 1))  # replicates without noise: the band is the curve itself
    low, high = fit_band(flops, same, fit, grid)
    np.testing.assert_allclose(low, fit(grid), atol=1e-4)
    np.testing.assert_allclose(high, fit(grid), atol=1e-4)
    rng = np.random.default_rng(0)
    noisy = np.clip(truth(flops) + rng.normal(0, 0.05, size=(60, 7)), 0, 1)
    low, high = fit_band(flops, noisy, fit, grid)
    assert (low <= fit(grid) + 1e-9).mean() > 0.9 and (high >= fit(grid) - 1e-9).mean() > 0.9
    assert (high - low).min() > 0
