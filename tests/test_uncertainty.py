"""The bootstrap over seeds and items, on tables whose answers are known."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import PARAMETERS
from scale_or_reason.analysis import uncertainty
from scale_or_reason.analysis.summary import curriculum_scale_headline
from scale_or_reason.analysis.uncertainty import WITHIN_NOISE, accuracy_table, bootstrap, format_differences
from scale_or_reason.config.params import load_study


def outcomes(runs: dict[tuple[str, str, int], list[float]], benchmark="math_oe", flops=None) -> pd.DataFrame:
    """One row per (scale, recipe, seed) and item from lists of per-item scores."""
    rows = []
    for (scale, recipe, seed), scores in runs.items():
        for item, score in enumerate(scores):
            cost = (flops or {}).get((scale, recipe), 1.0) * (1 + item % 3)
            rows.append(
                {
                    "scale": scale,
                    "recipe": recipe,
                    "seed": seed,
                    "benchmark": benchmark,
                    "id": f"q{item:03d}",
                    "correct": score,
                    "inference_flops": cost,
                }
            )
    return pd.DataFrame(rows)


def test_a_student_right_on_every_item_has_a_point_interval():
    reps = bootstrap(outcomes({("s", "ift", 0): [1.0] * 40}), replicates=200)
    low, high = reps.interval()
    assert reps.accuracy.tolist() == [1.0] and low.tolist() == [1.0] and high.tolist() == [1.0]
    assert np.isnan(reps.seed_sd[0]) and reps.seeds.tolist() == [1] and reps.items == 40


def test_item_noise_matches_the_binomial_standard_error():
    rng = np.random.default_rng(3)
    scores = (rng.random(400) < 0.5).astype(float)
    reps = bootstrap(outcomes({("s", "ift", 0): list(scores)}), replicates=4000)
    p = scores.mean()
    assert reps.accuracy_samples[:, 0].std() == pytest.approx(np.sqrt(p * (1 - p) / 400), rel=0.08)
    low, high = reps.interval()
    assert low[0] < p < high[0] and high[0] - low[0] == pytest.approx(
        2 * 1.96 * np.sqrt(p * (1 - p) / 400), rel=0.1
    )


def test_items_are_resampled_together_so_identical_students_never_differ():
    rng = np.random.default_rng(4)
    scores = list((rng.random(100) < 0.6).astype(float))
    table = outcomes({("s", "ift", 0): scores, ("s", "reasoning", 0): scores})
    reps = bootstrap(table, replicates=500)
    assert np.array_equal(reps.accuracy_samples[:, 0], reps.accuracy_samples[:, 1])
    differences = format_differences({"math_oe": reps}, {"math_oe": "math_oe"})
    assert differences[["difference", "low", "high"]].iloc[0].tolist() == [0.0, 0.0, 0.0]
    assert differences["verdict"].iloc[0] == WITHIN_NOISE


def graded(per_seed: list[float], items: int = 50, base=None) -> dict[tuple[str, str, int], list[float]]:
    """Seeds that differ by a pure shift (graded scores): no item-by-seed noise at all."""
    base = np.full(items, 0.5) if base is None else np.asarray(base)
    return {("s", "ift", k): list(base + shift) for k, shift in enumerate(per_seed)}


def test_the_seed_term_is_a_t_draw_with_k_minus_one_degrees_of_freedom():
    # Three seeds 0.1 apart on items that are all alike: the replicates are the seed term alone,
    # the mean ± t(2)·s/√3, 4.30 where a normal would say 1.96.
    reps = bootstrap(outcomes(graded([-0.1, 0.0, 0.1])), replicates=40000)
    assert reps.seeds.tolist() == [3] and reps.seed_sd[0] == pytest.approx(0.1)
    low, high = reps.interval()
    half = stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3)
    assert (low[0], high[0]) == pytest.approx((0.5 - half, 0.5 + half), abs=0.01)
    # Resampling three seeds could never reach past the lowest or the highest seed (0.4 and 0.6).
    assert low[0] < 0.4 and high[0] > 0.6


def test_seed_noise_that_the_items_already_count_is_not_counted_twice():
    # Every seed right on a random half of the items, the same chance on every item: the seed
    # means differ by item-by-seed noise alone, which the item resampling holds.
    rng = np.random.default_rng(11)
    runs = {("s", "ift", k): list((rng.random(400) < 0.5).astype(float)) for k in range(3)}
    one_seed = {key: value for key, value in runs.items() if key[2] == 0}
    widths = []
    for table in (runs, one_seed):
        low, high = bootstrap(outcomes(table), replicates=4000).interval()
        widths.append(high[0] - low[0])
    pooled_binomial = 2 * 1.96 * np.sqrt(0.25 / 1200)  # 1,200 answers of chance 1/2
    # Three seeds say more than one: counted twice, their noise made the interval wider than one
    # seed's (the t draw's tails on top of the items' own).
    assert pooled_binomial < widths[0] < widths[1]


def test_item_churn_of_two_seeds_is_half_the_variance_of_their_item_differences():
    rng = np.random.default_rng(5)
    scores = (rng.random((2, 500)) < [[0.3], [0.6]]).astype(float)
    difference = scores[0] - scores[1]
    expected = np.sqrt(difference.var(ddof=1) / 2 / 500)  # MS_residual = var(d)/2, over n items
    assert uncertainty.item_churn_sd(scores) == pytest.approx(expected)


@pytest.mark.parametrize("skill_sd", [0.0, 0.4])
def test_item_churn_splits_a_seed_spread_into_luck_on_items_and_skill(skill_sd):
    # Known truth: item difficulties on the logit scale, three seeds each shifted by a skill effect
    # (`skill_sd` on the logit scale), each answering items independently given both.
    rng = np.random.default_rng(8)
    churn_ratio, beyond, skill = [], [], []
    for _ in range(400):
        logits = rng.normal(0, 1.5, size=500) + rng.normal(0, skill_sd, size=(3, 1))
        chance = 1 / (1 + np.exp(-logits))
        scores = (rng.random(chance.shape) < chance).astype(float)
        churn = uncertainty.item_churn_sd(scores)
        churn_ratio.append(churn / np.sqrt((chance * (1 - chance)).mean() / 500))
        beyond.append(scores.mean(axis=1).var(ddof=1) - churn**2)
        skill.append(chance.mean(axis=1).var(ddof=1))  # the seeds' true accuracies' spread
    # The churn is the binomial SD of a seed's mean, whatever the skill spread; what the seed means
    # spread beyond it is the skill's, on average (within three Monte Carlo standard errors; without
    # a skill spread those are a sixth of the churn's own variance, so counting the churn once too
    # few or too many times fails).
    assert np.mean(churn_ratio) == pytest.approx(1.0, abs=0.03)
    error = np.subtract(beyond, skill)
    assert abs(error.mean()) < 3 * error.std(ddof=1) / np.sqrt(len(error))


def test_a_students_cost_and_accuracy_move_with_one_seed_draw():
    # The seed that answers more also writes more: each replicate keeps them together.
    table = outcomes(graded([-0.1, 0.0, 0.1]))
    table["inference_flops"] = 1e6 * (1 + table["correct"])
    reps = bootstrap(table, replicates=3000)
    correlation = stats.spearmanr(reps.accuracy_samples[:, 0], reps.inference_flops_samples[:, 0])[0]
    assert correlation > 0.99


def test_a_missing_score_or_cost_is_refused_with_the_student_named():
    table = outcomes({("s", "ift", 0): [1.0] * 10, ("m", "reasoning", 1): [0.0] * 10})
    table.loc[(table["scale"] == "m") & (table["id"] == "q003"), "inference_flops"] = np.nan
    with pytest.raises(ValueError, match=r"math_oe: m-reasoning seed 1 has no inference_flops .*q003"):
        bootstrap(table, 10)
    reps = uncertainty.bootstrap_study(
        outcomes({("s", "ift", 0): [1.0] * 10, ("m", "ift", 0): [0.0] * 10}), 10
    )
    train = pd.DataFrame({"scale": ["s"], "recipe": ["ift"], "train_flops": [1.0]})
    with pytest.raises(ValueError, match="math_oe: m-ift has no train_flops"):
        uncertainty.frontier_table(reps, train)


def test_the_rerun_prediction_interval_is_t_scaled_without_an_item_term():
    low, high = uncertainty.prediction_interval([0.5, 0.5, 0.2], [0.1, 0.1, np.nan], [3, 3, 1], [3, 6, 1])
    half = stats.t.ppf(0.975, 2) * 0.1
    assert low[:2] == pytest.approx([0.5 - half * np.sqrt(2 / 3), 0.5 - half * np.sqrt(1 / 3 + 1 / 6)])
    assert high[0] == pytest.approx(0.5 + half * np.sqrt(2 / 3))
    assert np.isnan(low[2]) and np.isnan(high[2])  # one seed: nothing says how far a rerun moves
    committed = pd.DataFrame(
        {
            "scale": ["s", "m"],
            "recipe": "ift",
            "benchmark": "b",
            "mean": [0.5, 0.5],
            "low": [0.45, 0.45],
            "high": [0.55, 0.55],
            "sd_seeds": [0.1, 0.01],
            "seeds": [3, 3],
        }
    )
    rerun = committed.assign(mean=[0.75, 0.6], seeds=[3, 3])
    agreement = uncertainty.rerun_agreement(committed, rerun)
    # 0.75 is outside the confidence interval but inside the prediction interval (±0.35);
    # 0.6 is far outside m's (±0.035).
    assert agreement["inside"].tolist() == [True, False]
    assert agreement.loc[0, "rerun_high"] == pytest.approx(0.5 + half * np.sqrt(2 / 3))


def test_a_clear_gain_is_called_and_a_clear_loss_too():
    better = [1.0] * 45 + [0.0] * 5
    worse = [1.0] * 5 + [0.0] * 45
    table = outcomes(
        {
            ("s", "ift", 0): worse,
            ("s", "reasoning", 0): better,
            ("m", "ift", 0): better,
            ("m", "reasoning", 0): worse,
        }
    )
    table = pd.concat([table, outcomes({("m", "ift", 0): better}, "other")], ignore_index=True)
    differences = format_differences(
        uncertainty.bootstrap_study(table, 500), {"math_oe": "math_oe", "x": "absent"}
    )
    by_scale = differences.set_index("scale")
    assert by_scale.loc["s", "verdict"] == "reasoning" and by_scale.loc["s", "low"] > 0
    assert by_scale.loc["m", "verdict"] == "ift" and by_scale.loc["m", "high"] < 0
    assert by_scale.loc["s", "difference"] == pytest.approx(0.8)


def test_the_accuracy_table_and_determinism():
    rng = np.random.default_rng(5)
    runs = {
        ("s", r, k): list((rng.random(60) < 0.5).astype(float))
        for r in ("ift", "reasoning")
        for k in (0, 1, 2)
    }
    table = outcomes(runs)
    first, again = (accuracy_table(uncertainty.bootstrap_study(table, 300, seed=1)) for _ in range(2))
    pd.testing.assert_frame_equal(first, again)
    assert list(first.columns) == [
        "scale",
        "recipe",
        "benchmark",
        "mean",
        "low",
        "high",
        "sd_seeds",
        "seeds",
        "n",
        "interval",
        "rerun_low",
        "rerun_high",
    ]
    assert (first["low"] <= first["mean"]).all() and (first["mean"] <= first["high"]).all()
    assert first["seeds"].tolist() == [3, 3] and first["n"].tolist() == [60, 60]
    other = accuracy_table(uncertainty.bootstrap_study(table, 300, seed=2))
    assert not first[["low", "high"]].equals(other[["low", "high"]])


def test_inference_flops_are_resampled_with_the_items_and_feed_the_frontier():
    scores = [1.0] * 30
    flops = {("s", "ift"): 1.0, ("s", "reasoning"): 10.0}
    table = outcomes({("s", "ift", 0): scores, ("s", "reasoning", 0): [0.0] * 30}, flops=flops)
    reps = uncertainty.bootstrap_study(table, 300)
    assert reps["math_oe"].inference_flops.tolist() == pytest.approx(
        [2.0, 20.0]
    )  # items cost 1, 2, 3, 1, ...
    assert reps["math_oe"].inference_flops_samples.std(axis=0).min() > 0
    train = pd.DataFrame({"scale": ["s", "s"], "recipe": ["ift", "reasoning"], "train_flops": [1.0, 2.0]})
    frontier = uncertainty.frontier_table(reps, train)
    assert frontier["p_train_frontier"].tolist() == [1.0, 0.0]
    assert frontier["p_inference_frontier"].tolist() == [1.0, 0.0]


def test_runs_must_answer_the_same_items():
    table = outcomes({("s", "ift", 0): [1.0] * 10, ("s", "reasoning", 0): [1.0] * 9})
    with pytest.raises(ValueError, match="same 10 items"):
        bootstrap(table, 10)


def test_students_with_fewer_seeds_draw_only_their_own():
    table = outcomes(
        {("s", "ift", 0): [1.0] * 10, ("s", "ift", 1): [0.0] * 10, ("s", "probe", 0): [1.0] * 10}
    )
    reps = bootstrap(table, replicates=300)
    assert reps.seeds.tolist() == [2, 1] and reps.accuracy.tolist() == [0.5, 1.0]
    assert set(reps.accuracy_samples[:, 1]) == {1.0}  # never a padded, missing seed
    assert reps.accuracy_samples[:, 0].min() == 0.0 and reps.accuracy_samples[:, 0].max() == 1.0
    table = accuracy_table({"math_oe": reps})
    assert table["interval"].tolist() == [uncertainty.SEEDS_AND_ITEMS, uncertainty.ITEMS_ONLY]
    assert table["rerun_low"].isna().tolist() == [False, True]


def test_the_headlines_count_only_what_the_intervals_allow():
    from scale_or_reason.analysis.summary import format_headline, frontier_headlines

    differences = pd.DataFrame(
        {
            "family": ["a", "a", "b", "b"],
            "scale": ["s", "m", "s", "m"],
            "difference": [0.3, 0.02, -0.2, 0.01],
            "low": [0.1, -0.05, -0.3, -0.04],
            "high": [0.5, 0.09, -0.1, 0.06],
            "verdict": ["reasoning", WITHIN_NOISE, "ift", WITHIN_NOISE],
        }
    )
    assert uncertainty.verdict_counts(differences) == {"reasoning": 1, "ift": 1, WITHIN_NOISE: 2}
    text = format_headline(differences, (3, 4))
    assert "reasoning beats IFT in 1 of 4" in text and "IFT beats reasoning in 1" in text
    assert "in the other 2 the difference is within noise" in text and "reasoning is higher in 3 of 4" in text
    frontier = pd.DataFrame(
        {
            "scale": ["s", "m", "s"],
            "recipe": ["ift", "reasoning", "ift"],
            "benchmark": ["home_a", "home_a", "away"],
            "p_train_frontier": [0.95, 0.91, 1.0],
            "p_inference_frontier": [0.5, 0.2, 1.0],
        }
    )
    panels = {"a": "home_a", "b": "home_b"}
    likely = uncertainty.likely_on_frontier(frontier, panels, "p_train_frontier")
    assert likely.to_dict("records") == [
        {"family": "a", "scale": "s", "recipe": "ift", "probability": 0.95},
        {"family": "a", "scale": "m", "recipe": "reasoning", "probability": 0.91},
    ]
    train, inference = frontier_headlines(frontier, panels)
    assert train.endswith("a: s ift (0.95), m reasoning (0.91).")
    assert inference.endswith("no student in any family.")  # the transfer set's 1.0 does not count


def test_the_verdict_table_gains_the_difference_and_the_frontier_probabilities():
    verdicts = pd.DataFrame({"family": ["a", "a"], "scale": ["s", "m"], "accuracy": [0.5, 0.7]})
    differences = pd.DataFrame(
        {
            "family": ["a"],
            "scale": ["s"],
            "difference": [0.2],
            "low": [0.1],
            "high": [0.3],
            "verdict": ["reasoning"],
        }
    )
    frontier = pd.DataFrame(
        {
            "scale": ["s", "s", "m"],
            "recipe": ["ift", "reasoning", "reasoning"],
            "benchmark": ["home_a"] * 3,
            "p_train_frontier": [0.1, 0.8, 0.6],
            "p_inference_frontier": [0.2, 0.3, 0.4],
        }
    )
    table = uncertainty.with_uncertainty(verdicts, differences, frontier, {"a": "home_a"})
    row = table.set_index("scale").loc["s"]
    assert (row["difference"], row["difference_low"], row["difference_high"]) == (0.2, 0.1, 0.3)
    assert (row["p_train_frontier"], row["p_inference_frontier"]) == (0.8, 0.3)
    assert pd.isna(table.set_index("scale").loc["m", "difference"])  # no IFT student at m
    assert table.set_index("scale").loc["m", "p_train_frontier"] == 0.6


def test_the_figure_shows_intervals_bands_and_frontier_probabilities():
    import matplotlib

    matplotlib.use("Agg")
    from scale_or_reason.analysis import plots
    from scale_or_reason.pareto import fit_saturating

    rows = [
        ("xs", "ift", 1e12, 0.2, 0.95),
        ("s", "ift", 2e12, 0.4, 0.6),
        ("m", "ift", 4e12, 0.35, 0.1),
    ]
    students = pd.DataFrame(
        [
            {
                "scale": s,
                "recipe": r,
                "order": r,
                "benchmark": "b",
                "train_flops": x,
                "accuracy": a,
                "low": a - 0.05,
                "high": a + 0.05,
                "p_train_frontier": p,
            }
            for s, r, x, a, p in rows
        ]
    )
    fit = fit_saturating(students["train_flops"], students["accuracy"])
    grid = uncertainty.fit_grid(students["train_flops"])
    bands = pd.DataFrame(
        {"family": "f", "recipe": "ift", "flops": "train_flops", "x": grid, "low": 0.1, "high": 0.5}
    )
    figure = plots.accuracy_vs_flops(
        students, {"f": "b"}, "train_flops", ["xs", "s", "m"], fits={("f", "ift"): fit}, bands=bands
    )
    ax = figure.axes[0]
    markers = [line for line in ax.lines if line.get_marker() not in ("None", None, "")]
    assert [line.get_fillstyle() for line in markers] == ["full", "left", "none"]
    assert len(ax.collections) >= 1  # the band (fill_between) and the error bars
    errorbars = [c for c in ax.collections if c.__class__.__name__ == "LineCollection"]
    assert len(errorbars) == 3


def test_curriculum_gains_carry_the_interval_of_the_paired_difference():
    rng = np.random.default_rng(7)
    ift = (rng.random(200) < 0.3).astype(float)
    same = ift.copy()
    better = np.maximum(ift, (rng.random(200) < 0.6).astype(float))
    table = outcomes(
        {
            ("m", "ift", 0): list(ift),
            ("m", "mixed-50", 0): list(same),
            ("m", "sequential-50", 0): list(better),
        }
    )
    reps = {"math_oe": bootstrap(table, replicates=500)}
    panels = {"math_oe": "math_oe"}
    gains = uncertainty.gains_over_ift(reps, panels).set_index("recipe")
    assert gains.loc["mixed-50", ["gain", "gain_low", "gain_high"]].tolist() == [0.0, 0.0, 0.0]
    assert gains.loc["sequential-50", "gain_low"] > 0 and gains.loc["ift", "gain"] == 0
    assert gains.loc["sequential-50", "gain"] == pytest.approx(better.mean() - ift.mean())
    curricula = pd.DataFrame({"family": "math_oe", "scale": "m", "recipe": ["mixed-50", "sequential-50"]})
    merged = uncertainty.with_gain_intervals(curricula, gains.reset_index(), accuracy_table(reps), panels)
    assert (
        merged.set_index("recipe").loc["sequential-50", "gain_low"] == gains.loc["sequential-50", "gain_low"]
    )
    assert (merged["low"] <= merged["high"]).all() and merged["low"].notna().all()


def test_the_summary_names_the_scale_of_the_largest_gain_beside_the_curricula():
    embedded = load_study(PARAMETERS / "embedded.yaml")
    study = embedded.model_copy(update={"curricula": embedded.curricula.model_copy(update={"scales": ["m"]})})
    differences = pd.DataFrame(
        {"family": ["a", "b", "a", "b"], "scale": ["s", "s", "m", "m"], "difference": [0.1, 0.3, 0.5, -0.1]}
    )
    (line,) = curriculum_scale_headline(differences, study)
    assert line.startswith(
        "Pure reasoning gains most over IFT at s (+0.20 mean over families; s +0.20, m +0.20"
    )
    differences.loc[2, "difference"] = 0.6
    (line,) = curriculum_scale_headline(differences, study)
    assert "at m (+0.25" in line and line.endswith("the curricula are trained at the same scale.")
    no_curricula = study.model_copy(update={"curricula": study.curricula.model_copy(update={"recipes": []})})
    assert curriculum_scale_headline(differences, no_curricula) == []


def test_means_equal_but_for_summation_order_tie_on_the_frontier():
    from scale_or_reason.analysis.pareto import frontier_probability, pareto_mask, settled

    first, second = (0.1 + 0.2 + 0.3) / 3, (0.3 + 0.2 + 0.1) / 3
    assert first != second and settled(first) == settled(second)
    # Equal cost, equal accuracy: neither dominates the other, whatever the last bit says.
    assert pareto_mask([1e12, 1e12], [first, second]).tolist() == [True, True]
    assert frontier_probability([1e12, 1e12 * (1 + 1e-15)], np.array([[first, second]])).tolist() == [
        1.0,
        1.0,
    ]
    with pytest.raises(ValueError, match="without a cost"):
        frontier_probability([1.0, np.nan], np.array([[0.5, 0.6]]))


def test_the_probability_of_improvement_comes_from_the_same_replicates():
    rng = np.random.default_rng(12)
    ift = [list((rng.random(300) < 0.4).astype(float)) for _ in range(3)]
    reasoning = [list((rng.random(300) < 0.55).astype(float)) for _ in range(3)]
    runs = {("s", "ift", k): ift[k] for k in range(3)} | {
        ("s", "reasoning", k): reasoning[k] for k in range(3)
    }
    reps = bootstrap(outcomes(runs), replicates=2000)
    differences = format_differences({"math_oe": reps}, {"math_oe": "math_oe"})
    row = differences.iloc[0]
    samples = reps.difference(reps.column("s", "reasoning"), reps.column("s", "ift"))
    assert row["p_improvement"] == pytest.approx(np.mean(samples > 0))
    assert row["p_improvement"] > 0.95 and row["interval"] == uncertainty.SEEDS_AND_ITEMS
    assert uncertainty.probability_of_improvement(np.array([1.0, 0.0, -1.0, 0.0])) == 0.5


def test_the_seed_spread_sign_test_drops_ties_and_counts_lower_cells():
    result = uncertainty.seed_spread_sign_test([0.1, 0.2, 0.0, 0.3], [0.05, 0.25, 0.0, 0.1])
    assert result == {"cells": 3, "variant_lower": 2, "p_value": pytest.approx(1.0)}
    assert uncertainty.seed_spread_sign_test([0.0], [0.0])["p_value"] == 1.0


@pytest.mark.parametrize(
    ("sd_ratio", "rejections"), [(1.0, (0.0, 0.05)), (0.5, (0.5, 1.0)), (0.25, (0.9, 1.0))]
)
def test_the_seed_spread_sign_test_holds_its_level_and_sees_a_halved_spread(sd_ratio, rejections):
    # Known truth: 16 cells whose seed SDs spread from 0.01 to 0.3, three seeds each (as the
    # search's runs), and a variant whose true SDs are `sd_ratio` of the base's. Without a change
    # it calls one at most 5% of the time; it sees a halved spread at least half the time.
    rng = np.random.default_rng(11)
    true_sd = np.geomspace(0.01, 0.3, 16)
    called = []
    for _ in range(1000):
        base = rng.normal(0.5, true_sd[:, None], size=(16, 3)).std(axis=1, ddof=1)
        variant = rng.normal(0.5, sd_ratio * true_sd[:, None], size=(16, 3)).std(axis=1, ddof=1)
        result = uncertainty.seed_spread_sign_test(base, variant)
        called.append(result["p_value"] < 0.05 and result["variant_lower"] > result["cells"] / 2)
    assert rejections[0] <= np.mean(called) <= rejections[1]
