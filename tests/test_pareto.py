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
