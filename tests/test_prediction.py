"""`analysis.predict`: the large students predicted from the small ones, scored where they exist.

The rule that makes it a prediction (nothing a predicted student measured enters it), the scores on
cases with a known answer, the intervals' coverage on simulated ladders with a known truth, the
parameters' errors and the plan's savings line."""

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import PARAMETERS
from scale_or_reason import units
from scale_or_reason.analysis import prediction, stages
from scale_or_reason.analysis.uncertainty import WITHIN_NOISE
from scale_or_reason.config.params import ParametersError, parse_study
from scale_or_reason.orchestration import estimates

FIT, PREDICT = ["a", "b", "c"], ["d", "e"]
PARAMS = dict(zip(FIT + PREDICT, [1e6, 3e6, 1e7, 3e7, 1e8], strict=True))
FAMILIES = ["math_oe", "math_mc", "general_oe", "general_mc"]
CEILINGS = dict.fromkeys(FAMILIES, 1.0)


def ladder_from(accuracy) -> pd.DataFrame:
    """A ladder with `accuracy(family, recipe, scale, params)` at every student."""
    rows = [
        {
            "family": family,
            "recipe": recipe,
            "scale": scale,
            "params": params,
            "train_flops": params * (3e4 if recipe == "reasoning" else 1e4),
            "accuracy": accuracy(family, recipe, scale, params),
        }
        for family in FAMILIES
        for recipe in ("ift", "reasoning")
        for scale, params in PARAMS.items()
    ]
    return pd.DataFrame(rows)


def logit_trend(family: str, recipe: str, params: float) -> float:
    """A known truth: logit(accuracy) linear in log parameters, reasoning steeper than IFT."""
    slope = 0.9 if recipe == "reasoning" else 0.5
    start = -2.0 + 0.3 * FAMILIES.index(family)
    return start + slope * np.log(params / 1e6)


def noisy_ladder(rng, noise: float) -> pd.DataFrame:
    def accuracy(family, recipe, scale, params):
        return float(prediction.from_logit(logit_trend(family, recipe, params) + noise * rng.normal(), 1.0))

    return ladder_from(accuracy)


def run(ladder, samples=None, methods=("log-linear", "logit-linear"), seed=0):
    return prediction.predict(
        ladder, FIT, PREDICT, CEILINGS, ["family"], samples=samples, seed=seed, methods=methods
    )


# --- the rule: fitted on the fit scales only --------------------------------------------------------


@pytest.mark.parametrize("with_samples", [False, True])
def test_a_predicted_students_result_changes_no_prediction(monkeypatch, with_samples):
    monkeypatch.setitem(prediction.REPLICATES, "saturating", 5)
    rng = np.random.default_rng(1)
    ladder = noisy_ladder(rng, 0.3)
    samples = ladder["accuracy"].to_numpy() + 0.02 * rng.standard_normal((1000, len(ladder)))
    samples = samples.clip(0, 1) if with_samples else None
    methods = prediction.METHODS if not with_samples else ("log-linear", "logit-linear")
    before = run(ladder, samples, methods)["predictions"]

    changed = ladder.copy()
    predicted_rows = changed["scale"].isin(PREDICT)
    changed.loc[predicted_rows, "accuracy"] = 1 - changed.loc[predicted_rows, "accuracy"]
    changed_samples = None if samples is None else samples.copy()
    if changed_samples is not None:
        changed_samples[:, predicted_rows.to_numpy()] = 0.5
    after = run(changed, changed_samples, methods)["predictions"]
    for column in ("predicted", "low", "high"):
        np.testing.assert_array_equal(before[column], after[column])
    assert not np.array_equal(before["actual"], after["actual"])  # the truth it is scored on did move

    moved_fit = ladder.copy()
    moved_fit.loc[(moved_fit["scale"] == "c") & (moved_fit["recipe"] == "ift"), "accuracy"] *= 0.5
    moved = run(moved_fit, samples, methods)["predictions"]
    assert not np.allclose(before["predicted"], moved["predicted"])  # a fit point does move it


def test_logit_linear_recovers_a_noise_free_logit_trend_exactly():
    ladder = ladder_from(lambda f, r, s, p: float(prediction.from_logit(logit_trend(f, r, p), 1.0)))
    found = run(ladder, methods=("logit-linear",))
    table = found["predictions"]
    np.testing.assert_allclose(table["predicted"], table["actual"], atol=1e-9)
    assert found["scores"]["sigma_logit"].iloc[0] == pytest.approx(0, abs=1e-9)
    assert found["scores"]["noise_freedom"].iloc[0] == 8 * 1  # 4 families × 2 formats, 3 points − 2
    log_linear = run(ladder, methods=("log-linear",))["predictions"]
    assert (log_linear["predicted"] - log_linear["actual"]).abs().max() > 0.01  # the wrong shape misses


# --- scores on cases with a known answer ------------------------------------------------------------


def test_scores_count_errors_coverage_and_within_noise_as_an_answer_of_its_own():
    predictions = pd.DataFrame(
        {
            "family": ["math_oe"] * 4,
            "recipe": ["ift", "reasoning", "ift", "reasoning"],
            "scale": ["d", "d", "e", "e"],
            "method": "m",
            "predicted": [0.50, 0.60, 0.55, 0.70],
            "low": [0.40, 0.55, 0.50, 0.65],
            "high": [0.60, 0.65, 0.60, 0.75],
            "actual": [0.52, 0.70, 0.55, 0.66],  # errors 2, 10, 0, 4 points; covered: yes, no, yes, yes
            "on_predicted_frontier": [False, True, False, True],
            "on_actual_frontier": [False, True, True, True],
        }
    )
    predictions["covered"] = (predictions["low"] <= predictions["actual"]) & (
        predictions["actual"] <= predictions["high"]
    )
    verdicts = pd.DataFrame(
        {
            "family": ["math_oe"] * 3,
            "scale": ["d", "e", "f"],
            "method": "m",
            "verdict": [WITHIN_NOISE, "reasoning", WITHIN_NOISE],
            "actual_difference": [0.18, 0.11, np.nan],
        }
    )
    actual = pd.DataFrame(
        {"family": ["math_oe"] * 3, "scale": ["d", "e", "f"], "verdict": [WITHIN_NOISE, "reasoning", None]}
    )
    scored_verdicts = prediction.with_actual_verdicts(verdicts, ["family"], actual)
    assert scored_verdicts["right"].tolist()[:2] == [True, True]  # within noise, both times: right
    assert np.isnan(scored_verdicts["right"].iloc[2])  # no truth, not scored

    score = prediction.scores(predictions, scored_verdicts, ["family"]).iloc[0]
    assert score["mae_points"] == pytest.approx(4.0)
    assert score["bias_points"] == pytest.approx((-2 - 10 + 0 + 4) / 4)
    assert (score["covered"], score["predictions"], score["coverage"]) == (3, 4, 0.75)
    assert (score["verdicts_right"], score["verdicts"]) == (2, 2)
    assert score["frontier_agreement"] == pytest.approx(0.75)

    # single runs: the measured sign is the truth, so a predicted "within noise" is never right
    by_sign = prediction.with_actual_verdicts(verdicts.iloc[:2], ["family"], None)
    assert by_sign["actual_verdict"].tolist() == ["reasoning", "reasoning"]
    assert by_sign["right"].tolist() == [False, True]


def test_the_verdict_is_read_from_the_interval_of_the_difference():
    ladder = ladder_from(lambda f, r, s, p: float(prediction.from_logit(logit_trend(f, r, p), 1.0)))
    found = run(ladder, methods=("logit-linear",))
    verdicts = found["verdicts"]
    assert len(verdicts) == len(FAMILIES) * len(PREDICT)
    assert (verdicts["verdict"] == "reasoning").all()  # a steeper trend, no noise: reasoning
    assert (verdicts["p_improvement"] == 1.0).all()
    assert verdicts["right"].astype(bool).all()
    assert found["scores"]["verdict_accuracy"].iloc[0] == 1.0


# --- calibrated by simulation -----------------------------------------------------------------------


def simulated_coverage(studies: int, noise: float, with_samples: bool, seed: int) -> float:
    """The share of held-out points inside their 90% intervals over simulated ladders whose truth
    is a logit-linear trend per family and format, each point off it by `noise` (logit), and, with
    samples, measured with a bootstrap-like spread as the study's replicates give."""
    rng = np.random.default_rng(seed)
    covered = []
    for study in range(studies):
        ladder = noisy_ladder(rng, noise)
        samples = None
        if with_samples:
            spread = 0.02 * rng.standard_normal((1000, len(ladder)))
            samples = (ladder["accuracy"].to_numpy() + spread).clip(0, 1)
        table = run(ladder, samples, methods=("logit-linear",), seed=study)["predictions"]
        covered.extend(table["covered"].astype(bool))
    return float(np.mean(covered))


@pytest.mark.parametrize(("noise", "with_samples"), [(0.1, False), (0.3, False), (0.3, True)])
def test_the_90_percent_intervals_cover_about_90_percent_of_held_out_points(noise, with_samples):
    # 150 studies × 16 held-out points: the share's standard error is under 1.5 points even with
    # the points of one study correlated through its fitted noise.
    coverage = simulated_coverage(150, noise, with_samples, seed=int(noise * 10) + with_samples)
    assert 0.85 <= coverage <= 0.95, coverage


# --- parameters ---------------------------------------------------------------------------------------


def embedded_with(predict=None, **sections) -> dict:
    data = yaml.safe_load((PARAMETERS / "embedded.yaml").read_text())
    data["analysis"]["predict"] = predict
    data.update(sections)
    return data


@pytest.mark.parametrize(
    ("predict", "message"),
    [
        ({"fit": ["xs", "s", "xxl"], "predict": ["l"]}, r"analysis.predict.fit\[2\] names 'xxl'"),
        ({"fit": ["xs", "s", "m"], "predict": ["huge"]}, r"analysis.predict.predict\[0\] names 'huge'"),
        ({"fit": ["xs", "s", "m"], "predict": ["m", "l"]}, "m both fitted and predicted"),
        ({"fit": ["xs", "s"], "predict": ["l"]}, r"analysis.predict.fit"),
    ],
)
def test_bad_predict_sections_are_named(predict, message):
    with pytest.raises(ParametersError, match=message):
        parse_study(embedded_with(predict))


def test_an_untrained_predicted_scale_cannot_carry_the_curricula():
    predict = {"fit": ["xs", "s", "m"], "predict": ["l", "xl"], "train": False}
    with pytest.raises(ParametersError, match=r"curricula.scales\[0\] names 'xl', which analysis.predict"):
        parse_study(embedded_with(predict))
    study = parse_study(embedded_with(predict, curricula={"recipes": ["mixed-50"], "scales": ["m"]}))
    assert study.trained_scales() == ["xs", "s", "m"]
    trained = units.students(study)
    assert {scale for scale, _ in trained} == {"xs", "s", "m"}
    assert ("m", "mixed-50") in trained
    no_curricula = parse_study(embedded_with(predict, curricula={"recipes": [], "scales": ["xl"]}))
    assert no_curricula.trained_scales() == ["xs", "s", "m"]  # scales without recipes train nothing
    trained_anyway = parse_study(embedded_with({**predict, "train": True}))
    assert {scale for scale, _ in units.students(trained_anyway)} == {"xs", "s", "m", "l", "xl"}


# --- planning ---------------------------------------------------------------------------------------

# Before the data unit has run, the embedded study's lengths are assumptions (`estimates:`).
ASSUMED_LENGTHS = {"prompt_tokens": 20.0, "ift_tokens": 8.0, "reasoning_tokens": 60.0}


@pytest.mark.parametrize("train", [True, False])
def test_the_dry_run_says_what_the_prediction_saves(train):
    predict = {"fit": ["xs", "s", "m"], "predict": ["l", "xl"], "train": train}
    curricula = {"recipes": ["mixed-50"], "scales": ["m"]}
    study = parse_study(embedded_with(predict, curricula=curricula, estimates=ASSUMED_LENGTHS))
    planned = units.plan(study, PARAMETERS / "embedded.yaml")
    lengths = estimates.token_lengths(study)
    saved = sum(
        len(units.run_seeds(study, recipe, scale)) * sum(estimates.unit_flops(study, scale, recipe, lengths))
        for scale in ("l", "xl")
        for recipe in ("ift", "reasoning")
    )
    described = estimates.describe(study, planned)
    line = next(line for line in described.splitlines() if line.startswith("analysis.predict:"))
    assert f"the students at l, xl (predicted from xs, s, m) cost {saved:.3g} FLOPs" in line
    share = int(re.search(r"\((\d+)% of the study's with them\)", line).group(1))
    whole = estimates.plan_table(study, planned)["flops"].sum() + (0 if train else saved)
    assert share == round(100 * saved / whole)
    assert ("left out of this plan" in line) != train
    planned_scales = {unit.key.split(":")[1].split("-")[0] for unit in planned if unit.stage == "train"}
    assert ("l" in planned_scales) == train
    unknown = parse_study(embedded_with(predict, curricula=curricula))
    assert "their cost is unknown (no lengths)" in estimates.describe(unknown, planned)


def test_an_untrained_predicted_student_is_planned_from_its_config():
    predict = {"fit": ["xs", "s", "m"], "predict": ["l", "xl"], "train": False}
    curricula = {"recipes": ["mixed-50"], "scales": ["m"]}
    study = parse_study(embedded_with(predict, curricula=curricula, estimates=ASSUMED_LENGTHS))
    planned = prediction.planned_students(study, ["math_oe"])
    assert sorted(zip(planned["scale"], planned["recipe"], strict=True)) == [
        ("l", "ift"),
        ("l", "reasoning"),
        ("xl", "ift"),
        ("xl", "reasoning"),
    ]
    assert planned["accuracy"].isna().all()
    assert (planned.groupby("scale")["params"].nunique() == 1).all()
    lengths = estimates.token_lengths(study)
    for row in planned.itertuples():
        assert row.train_flops == estimates.unit_flops(study, row.scale, row.recipe, lengths)[0]
    ift, reasoning = (
        planned[planned["recipe"] == r].set_index("scale")["train_flops"] for r in ("ift", "reasoning")
    )
    assert (reasoning > ift).all() and ift["xl"] > ift["l"]


# --- the figure ---------------------------------------------------------------------------------------


def test_the_figure_has_a_panel_per_method_and_needs_a_truth():
    ladder = noisy_ladder(np.random.default_rng(3), 0.2)
    tables = prediction.tables_for(run(ladder))
    figures = stages.prediction_figure(tables)
    drawn = [ax for ax in figures["predicted_vs_actual"].axes if ax.get_title()]
    assert [ax.get_title() for ax in drawn] == ["log-linear", "logit-linear"]
    plt.close("all")
    unknown = {"predictions": tables["predictions"].assign(actual=np.nan)}
    assert stages.prediction_figure(unknown) == {}


def test_students_not_yet_trained_are_predicted_and_not_scored():
    rng = np.random.default_rng(4)
    ladder = noisy_ladder(rng, 0.2)
    ladder.loc[ladder["scale"].isin(PREDICT), "accuracy"] = np.nan  # planned from their configs only
    samples = ladder["accuracy"].to_numpy() + 0.02 * rng.standard_normal((1000, len(ladder)))
    found = run(ladder, samples.clip(0, 1))
    table = found["predictions"]
    assert table["predicted"].notna().all() and table["actual"].isna().all()
    assert (table["low"] < table["high"]).all()
    assert found["scores"].empty and found["verdicts"]["right"].isna().all()
    tables = prediction.tables_for(found)
    lines = prediction.headlines(tables, FIT, PREDICT)
    assert len(lines) == 1 and lines[0].startswith("Predicted by logit-linear (90% intervals)")
    study = parse_study(embedded_with({"fit": ["xs", "s", "m"], "predict": ["l", "xl"]}))
    sections = prediction.markdown_sections(tables, study.analysis.predict)
    assert "### Scores" not in sections and "### Verdicts" in sections
    assert stages.prediction_figure(tables) == {}


@pytest.mark.parametrize(
    ("mean_surprise", "above", "expected"),
    [
        (+1.3, 12, "the learnability gap appears"),
        (-2.0, 3, "a reverse learnability gap"),
        (+1.8, 8, "no consistent direction"),  # half the cells above: no claim either way
        (-0.5, 10, "no consistent direction"),  # mean and majority disagree
    ],
)
def test_the_learnability_gap_is_claimed_only_where_mean_and_majority_agree(mean_surprise, above, expected):
    assert prediction.learnability_gap(mean_surprise, above, cells=16).startswith(expected)
