"""Before the big students: predict from the small ones whether reasoning will pay, and score it.

`analysis.predict: {fit: [<scales>], predict: [<scales>]}`. Per family and format, each method
fits accuracy on the `fit` scales only and extrapolates to the `predict` scales, whose size and
training FLOPs come from their configs (a predicted student need not exist):

- `saturating`: the study's curve, α + β(1 − exp(−γ·x^δ)) in training FLOPs under the ceiling;
- `log-linear`: accuracy linear in log parameters, clipped to [0, ceiling];
- `logit-linear`: logit(accuracy / ceiling) linear in log parameters.

The intervals (90%) have two parts, drawn together in each replicate:

- the fit's uncertainty: the method refitted on replicates of the fit points, the study's own
  bootstrap replicates (items and seeds) where it has them, widened on the logit scale by the
  residual variance they do not hold (a scale's own distance from the trend); where it has single
  runs (a published table), the method's fitted values with a residual-sized draw on that scale;
- a new point's distance from a smooth trend: σ·z on the logit scale, with σ the residual standard
  deviation of the logit-linear fits pooled over every family and format (ν = Σ(n − 2) degrees
  of freedom), itself drawn as ν allows (σ̂·√(ν/χ²ᵥ)), so the new-point term is a t with ν
  degrees of freedom.

From them: each predicted accuracy with its interval; reasoning − IFT at each predicted size with
its interval and the verdict it supports (reasoning, IFT, or within noise); the predicted Pareto
frontier at matched training FLOPs (the fit scales' measured students and the predicted ones).
Where the predicted students exist, `scores` gives per method the mean absolute error in points,
the verdicts right ("within noise" is an answer of its own) and the intervals' coverage.
Nothing a predicted student measured enters a prediction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from ..config.params import StudyParams
from ..config.recipes import FORMATS
from ..core.flops import parameter_counts
from ..core.model_configs import student_architecture
from ..data.corpus_size import planned_train_flops, token_lengths
from .markdown import markdown_table
from .pareto import SaturatingFit, fit_saturating, pareto_mask
from .results import in_distribution, pure
from .uncertainty import WITHIN_NOISE, probability_of_improvement, verdict

METHODS = ("saturating", "log-linear", "logit-linear")
LEVEL = 0.90  # the prediction intervals' coverage
# Replicates per method: the saturating fit is a Nelder–Mead search per replicate (about 40 ms;
# 40 replicates keep the paper's backtest, 16 cells × 2 formats, within a minute), the linear ones
# one least-squares solve for all replicates at once.
REPLICATES = {"saturating": 40, "log-linear": 1000, "logit-linear": 1000}
EDGE = 0.001  # accuracies are held this far inside (0, ceiling) before the logit (one item in 1,000)
PREDICTION_COLUMNS = [
    "family",
    "recipe",
    "scale",
    "method",
    "params",
    "train_flops",
    "predicted",
    "low",
    "high",
    "actual",
    "covered",
    "on_predicted_frontier",
    "on_actual_frontier",
]
VERDICT_COLUMNS = [
    "family",
    "scale",
    "method",
    "difference",
    "low",
    "high",
    "p_improvement",
    "verdict",
    "actual_difference",
    "actual_verdict",
    "right",
]


def to_logit(accuracy, ceiling: float) -> np.ndarray:
    share = np.clip(np.asarray(accuracy, dtype=float) / ceiling, EDGE, 1 - EDGE)
    return np.log(share / (1 - share))


def from_logit(value, ceiling: float) -> np.ndarray:
    return ceiling * expit(value)


# --- the methods: fit on the fit scales, evaluate anywhere ----------------------------------------


def _linear(x_fit: np.ndarray, y: np.ndarray, x_at: np.ndarray) -> np.ndarray:
    """Least squares y = a + b·x per column of y (points × replicates); replicates × x_at."""
    design = np.column_stack([np.ones_like(x_fit), x_fit])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    return (np.column_stack([np.ones_like(x_at), x_at]) @ coefficients).T


def extrapolate(
    method: str,
    fit: pd.DataFrame,
    at: pd.DataFrame,
    accuracy: np.ndarray,
    ceiling: float,
    start: SaturatingFit | None = None,
) -> np.ndarray:
    """replicates × rows of `at`: `method` fitted to each replicate of `accuracy` (replicates ×
    rows of `fit`; `fit` and `at` hold params and train_flops) and evaluated at `at`. The
    saturating fits start from `start` (the fit to the measured points) when given: three points
    leave its four parameters a valley of exact fits, and a replicate should move from the point
    fit, not land anywhere in it."""
    accuracy = np.atleast_2d(accuracy)
    x_fit, x_at = np.log(fit["params"].to_numpy(float)), np.log(at["params"].to_numpy(float))
    if method == "log-linear":  # held inside (0, ceiling), as the logit of a new point needs
        return np.clip(_linear(x_fit, accuracy.T, x_at), EDGE * ceiling, (1 - EDGE) * ceiling)
    if method == "logit-linear":
        return from_logit(_linear(x_fit, to_logit(accuracy, ceiling).T, x_at), ceiling)
    if method == "saturating":
        flops_fit, flops_at = fit["train_flops"].to_numpy(float), at["train_flops"].to_numpy(float)
        return np.array([fit_saturating(flops_fit, sample, ceiling, start)(flops_at) for sample in accuracy])
    raise ValueError(f"unknown prediction method {method!r}; known: {', '.join(METHODS)}")


def trend_noise(
    ladder: pd.DataFrame, fit_scales: list[str], cells: list[str], ceilings: dict[str, float]
) -> tuple[float, int]:
    """σ̂ and its degrees of freedom: the residual standard deviation of the logit-linear fits on
    the fit scales, pooled over every cell and format (Σ(n − 2) degrees of freedom)."""
    squares, freedom = 0.0, 0
    for _, group in ladder[ladder["scale"].isin(fit_scales)].groupby([*cells, "recipe"], sort=False):
        if len(group) < 3:
            continue
        y = to_logit(group["accuracy"], ceilings[group["family"].iloc[0]])
        x = np.log(group["params"].to_numpy(float))
        squares += float(((y - _linear(x, y[:, None], x)[0]) ** 2).sum())
        freedom += len(group) - 2
    if freedom == 0:
        raise ValueError("analysis.predict: the fit scales leave no residual degrees of freedom")
    return float(np.sqrt(squares / freedom)), freedom


# --- predictions ----------------------------------------------------------------------------------


def _fit_replicates(
    fitted: np.ndarray, samples: np.ndarray | None, sigma: np.ndarray, ceiling: float, rng
) -> np.ndarray:
    """replicates × fit points. Single runs: the method's `fitted` values plus a residual-sized
    draw on the logit scale. With the study's bootstrap replicates: those, plus on the logit scale
    the part of the residual variance they do not hold (a scale's distance from the trend, which
    no resampling of its own items and seeds shows), σ² less each point's replicate variance."""
    count = len(sigma)
    if samples is None:
        noise = sigma[:, None] * rng.standard_normal((count, len(fitted)))
        return from_logit(to_logit(fitted, ceiling)[None, :] + noise, ceiling)
    drawn = to_logit(samples[np.arange(count) % len(samples)], ceiling)
    excess = np.sqrt(np.clip(sigma[:, None] ** 2 - drawn.var(axis=0)[None, :], 0, None))
    return from_logit(drawn + excess * rng.standard_normal(drawn.shape), ceiling)


def predict_format(
    method: str,
    fit: pd.DataFrame,
    targets: pd.DataFrame,
    samples: np.ndarray | None,
    sigma: np.ndarray,
    ceiling: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One cell and format: the point prediction at each target, and its replicates (replicates ×
    targets) with the new-point term."""
    measured = fit["accuracy"].to_numpy(float)
    start = fit_saturating(fit["train_flops"], measured, ceiling) if method == "saturating" else None
    both = pd.concat([fit, targets])
    fitted, point = np.split(extrapolate(method, fit, both, measured, ceiling, start)[0], [len(fit)])
    fit_points = _fit_replicates(fitted, samples, sigma, ceiling, rng)
    replicated = extrapolate(method, fit, targets, fit_points, ceiling, start)
    new_point = sigma[:, None] * rng.standard_normal(replicated.shape)
    return point, from_logit(to_logit(replicated, ceiling) + new_point, ceiling)


def _interval(replicated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(replicated, [tail, 100 - tail], axis=0)
    return low, high


def predict(
    ladder: pd.DataFrame,
    fit_scales: list[str],
    predict_scales: list[str],
    ceilings: dict[str, float],
    cells: list[str],
    samples: np.ndarray | None = None,
    actual_verdicts: pd.DataFrame | None = None,
    seed: int = 0,
    methods: tuple[str, ...] = METHODS,
) -> dict[str, pd.DataFrame]:
    """Predictions, verdicts and their scores.

    `ladder`: one row per student and cell (`cells` columns, e.g. family, or corpus and family),
    with recipe (the pure formats), scale, params, train_flops and accuracy (nan where the student
    was not trained); `samples`: replicates × ladder rows of the accuracy (the study's bootstrap),
    or None for single runs; `ceilings`: the ceiling per family; `actual_verdicts`:
    the study's own verdict per cell and scale (`verdict` column), where it has intervals, else
    the sign of the measured difference is the truth. `methods`: which of `METHODS` to run."""
    pure_formats = ladder["recipe"].isin(FORMATS).to_numpy()
    ladder = ladder[pure_formats].reset_index(drop=True)
    samples = None if samples is None else samples[:, pure_formats]
    sigma_hat, freedom = trend_noise(ladder, fit_scales, cells, ceilings)
    rng = np.random.default_rng(seed)
    predictions, verdicts = [], []
    for keys, cell in ladder.groupby(cells, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        ceiling = ceilings[cell["family"].iloc[0]]
        for method in methods:
            count = REPLICATES[method]
            sigma = sigma_hat * np.sqrt(freedom / rng.chisquare(freedom, size=count))
            replicated = {}
            for recipe in FORMATS:
                rows = cell[cell["recipe"] == recipe]
                fit = rows[rows["scale"].isin(fit_scales)].sort_values("params")
                targets = rows[rows["scale"].isin(predict_scales)].sort_values("params")
                fit_samples = None if samples is None else samples[:, fit.index]
                point, replicated[recipe] = predict_format(
                    method, fit, targets, fit_samples, sigma, ceiling, rng
                )
                low, high = _interval(replicated[recipe])
                predictions.append(targets.assign(method=method, predicted=point, low=low, high=high))
            verdicts.append(_verdict_rows(cell, keys, cells, method, predictions[-2:], replicated))
    table = pd.concat(predictions, ignore_index=True).rename(columns={"accuracy": "actual"})
    table["covered"] = np.where(
        table["actual"].notna(),
        (table["low"] <= table["actual"]) & (table["actual"] <= table["high"]),
        np.nan,
    )
    table = with_predicted_frontier(table, ladder, fit_scales, cells)
    verdict_table = pd.concat(verdicts, ignore_index=True)
    verdict_table = with_actual_verdicts(verdict_table, cells, actual_verdicts)
    columns = [*[c for c in cells if c != "family"], *PREDICTION_COLUMNS]
    return {
        "predictions": table[columns],
        "verdicts": verdict_table[[*[c for c in cells if c != "family"], *VERDICT_COLUMNS]],
        "scores": scores(table, verdict_table, cells).assign(sigma_logit=sigma_hat, noise_freedom=freedom),
    }


def _verdict_rows(cell, keys, cells, method, predicted, replicated) -> pd.DataFrame:
    """Reasoning − IFT at each predicted scale of one cell, from the two formats' replicates."""
    ift, reasoning = (frame.set_index("scale") for frame in predicted)
    differences = replicated["reasoning"] - replicated["ift"]
    low, high = _interval(differences)
    rows = []
    for i, scale in enumerate(reasoning.index):
        rows.append(
            {
                **dict(zip(cells, keys, strict=True)),
                "scale": scale,
                "method": method,
                "difference": reasoning.loc[scale, "predicted"] - ift.loc[scale, "predicted"],
                "low": low[i],
                "high": high[i],
                "p_improvement": probability_of_improvement(differences[:, i]),
                "verdict": verdict(low[i], high[i], "reasoning", "ift"),
                "actual_difference": reasoning.loc[scale, "accuracy"] - ift.loc[scale, "accuracy"],
            }
        )
    return pd.DataFrame(rows)


def with_actual_verdicts(table: pd.DataFrame, cells: list[str], actual: pd.DataFrame | None) -> pd.DataFrame:
    """The truth beside each predicted verdict: the study's own (with its intervals) where given,
    else the measured sign (single runs: no interval, so never within noise)."""
    if actual is not None:
        keys = [*cells, "scale"]
        table = table.merge(
            actual[[*keys, "verdict"]].rename(columns={"verdict": "actual_verdict"}), on=keys, how="left"
        )
    else:
        sign = np.sign(table["actual_difference"])
        table["actual_verdict"] = np.select(
            [sign > 0, sign < 0, sign == 0], ["reasoning", "ift", WITHIN_NOISE], default=None
        )
    known = table["actual_verdict"].notna()
    table["right"] = np.where(known, table["verdict"] == table["actual_verdict"], np.nan)
    return table


def with_predicted_frontier(
    table: pd.DataFrame, ladder: pd.DataFrame, fit_scales: list[str], cells: list[str]
) -> pd.DataFrame:
    """Per method and cell, whether each predicted student is on the training-FLOPs frontier of
    the fit scales' measured students and the predicted ones (`on_predicted_frontier`), and on
    the frontier of all measured students (`on_actual_frontier`; nan where any is missing)."""
    table = table.copy()
    table["on_predicted_frontier"] = False
    table["on_actual_frontier"] = pd.Series(None, index=table.index, dtype=object)
    measured_fit = ladder[ladder["scale"].isin(fit_scales)]
    for keys, rows in table.groupby([*cells, "method"], sort=False):
        cell = dict(zip(cells, keys[:-1], strict=True))
        known = measured_fit[(measured_fit[cells] == pd.Series(cell)).all(axis=1)]
        costs = np.concatenate([known["train_flops"], rows["train_flops"]])
        scores = np.concatenate([known["accuracy"], rows["predicted"]])
        table.loc[rows.index, "on_predicted_frontier"] = pareto_mask(costs, scores)[len(known) :]
        whole = ladder[(ladder[cells] == pd.Series(cell)).all(axis=1)]
        if whole["accuracy"].notna().all():
            on = pd.Series(pareto_mask(whole["train_flops"], whole["accuracy"]), index=whole.index)
            lookup = dict(zip(zip(whole["scale"], whole["recipe"], strict=True), on, strict=True))
            table.loc[rows.index, "on_actual_frontier"] = [
                lookup[(s, r)] for s, r in zip(rows["scale"], rows["recipe"], strict=True)
            ]
    return table


# --- scores ---------------------------------------------------------------------------------------


def scores(predictions: pd.DataFrame, verdicts: pd.DataFrame, cells: list[str]) -> pd.DataFrame:
    """Per method (and corpus where the cells have one), over the predictions whose truth is
    known: mean absolute error in points, verdicts right of those scored, interval coverage and
    the predicted frontier's agreement with the measured one (predicted students only)."""
    groups = [c for c in cells if c != "family"] + ["method"]
    rows = []
    for keys, group in predictions[predictions["actual"].notna()].groupby(groups, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        mine = verdicts[(verdicts[groups] == pd.Series(dict(zip(groups, keys, strict=True)))).all(axis=1)]
        mine = mine[mine["right"].notna()]
        frontier = group[group["on_actual_frontier"].notna()]
        rows.append(
            {
                **dict(zip(groups, keys, strict=True)),
                "mae_points": float((group["predicted"] - group["actual"]).abs().mean() * 100),
                "bias_points": float((group["predicted"] - group["actual"]).mean() * 100),
                "predictions": len(group),
                "covered": int(group["covered"].astype(bool).sum()),
                "coverage": float(group["covered"].astype(bool).mean()),
                "verdicts": len(mine),
                "verdicts_right": int(mine["right"].astype(bool).sum()),
                "verdict_accuracy": float(mine["right"].astype(bool).mean()) if len(mine) else np.nan,
                "frontier_agreement": float(
                    (frontier["on_predicted_frontier"] == frontier["on_actual_frontier"].astype(bool)).mean()
                )
                if len(frontier)
                else np.nan,
            }
        )
    return pd.DataFrame(rows)


# --- a study's ladder -----------------------------------------------------------------------------


LADDER_COLUMNS = ["family", "recipe", "scale", "params", "train_flops", "accuracy"]


def study_ladder(
    study: StudyParams, students: pd.DataFrame, replicates: dict
) -> tuple[pd.DataFrame, np.ndarray]:
    """The pure-format students on each family's in-distribution benchmark (seed means) with
    their bootstrap replicates (replicates × rows), and the predicted students the study leaves
    untrained (`analysis.predict.train: false`), from their configs (`planned_students`)."""
    rows = pure(in_distribution(students, study.family_panels())).reset_index(drop=True)
    samples = np.column_stack(
        [
            replicates[benchmark].accuracy_samples[:, replicates[benchmark].column(scale, recipe)]
            for benchmark, scale, recipe in rows[["benchmark", "scale", "recipe"]].itertuples(index=False)
        ]
    )
    planned = planned_students(study, list(dict.fromkeys(rows["family"])))
    ladder = pd.concat([rows[LADDER_COLUMNS], planned], ignore_index=True)
    padding = np.full((samples.shape[0], len(planned)), np.nan)
    return ladder, np.hstack([samples, padding])


def planned_students(study: StudyParams, families: list[str]) -> pd.DataFrame:
    """The IFT and reasoning students of the predicted scales the study does not train: their
    parameters from their configs, their training FLOPs planned from the data's mean lengths
    (`data.corpus_size.planned_train_flops`, in the study's count), no accuracy."""
    untrained = [scale for scale in study.analysis.predict.predict if scale not in study.trained_scales()]
    lengths = token_lengths(study) if untrained else None
    rows = [
        {
            "family": family,
            "recipe": recipe,
            "scale": scale,
            "params": parameter_counts(student_architecture(study, scale))["total"],
            "train_flops": planned_train_flops(study, scale, recipe, lengths, study.analysis.flops),
            "accuracy": np.nan,
        }
        for scale in untrained
        for recipe in FORMATS
        for family in families
    ]
    return pd.DataFrame(rows, columns=LADDER_COLUMNS)


# --- the summary ----------------------------------------------------------------------------------


def _by_method(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores summed over corpora: one row per method."""
    summed = scores.groupby("method", sort=False)[
        ["predictions", "covered", "verdicts", "verdicts_right"]
    ].sum()
    weights = scores.set_index("method")["predictions"]
    absolute = (scores.set_index("method")["mae_points"] * weights).groupby(level=0, sort=False).sum()
    bias = (scores.set_index("method")["bias_points"] * weights).groupby(level=0, sort=False).sum()
    return summed.assign(
        mae_points=absolute / summed["predictions"], bias_points=bias / summed["predictions"]
    )


def score_headlines(
    scores: pd.DataFrame, verdicts: pd.DataFrame, fit: list[str], predict: list[str]
) -> list[str]:
    """Per method, how the prediction of `predict` from `fit` fared; which did better; where it failed."""
    if scores.empty:
        return []
    methods = _by_method(scores)
    parts = [
        f"{method}: mean absolute error {row.mae_points:.1f} points (bias {row.bias_points:+.1f}), "
        f"verdict right in {row.verdicts_right:.0f} of {row.verdicts:.0f}, {LEVEL:.0%} interval covering "
        f"{row.covered:.0f} of {row.predictions:.0f}"
        for method, row in methods.iterrows()
    ]
    best = methods["mae_points"].idxmin()
    surest = methods.assign(share=methods["verdicts_right"] / methods["verdicts"])["share"].idxmax()
    lines = [
        f"Predicting {', '.join(predict)} from {', '.join(fit)} only (scored where those students exist): "
        + "; ".join(parts)
        + ".",
        f"Closest accuracies: {best}; most verdicts right: {surest}.",
    ]
    lines += failure_lines(verdicts[verdicts["method"] == best], best)
    return lines


def failure_lines(verdicts: pd.DataFrame, method: str) -> list[str]:
    """Where `method`'s verdict missed, and whether reasoning gained more at the predicted sizes
    than the small students showed (the learnability gap)."""
    scored = verdicts[verdicts["right"].notna()]
    if scored.empty:
        return []
    wrong = scored[~scored["right"].astype(bool)]
    where = [c for c in ("corpus", "family") if c in scored]
    listed = ", ".join(
        f"{' '.join(str(row[c]) for c in where)} {row['scale']} (predicted {row['verdict']}, "
        f"{row['difference'] * 100:+.1f} [{row['low'] * 100:+.1f}, {row['high'] * 100:+.1f}]; "
        f"measured {row['actual_verdict']}, {row['actual_difference'] * 100:+.1f})"
        for _, row in wrong.iterrows()
    )
    lines = [f"{method}'s verdicts that missed: {listed or 'none'}."]
    surprise = (scored["actual_difference"] - scored["difference"]) * 100
    above = int((surprise > 0).sum())
    gap = learnability_gap(surprise.mean(), above, len(scored))
    lines.append(
        f"Measured reasoning − IFT against {method}'s prediction: {surprise.mean():+.1f} points on average, "
        f"above it in {above} of {len(scored)} cells; {gap}."
    )
    return lines


def learnability_gap(mean_surprise: float, above: int, cells: int) -> str:
    """What the measured-minus-predicted gains say, claimed only where their mean and most cells
    agree in sign."""
    if mean_surprise > 0 and above > cells / 2:
        return "the learnability gap appears: the small students understate what reasoning gives larger ones"
    if mean_surprise < 0 and above < cells / 2:
        return "a reverse learnability gap: the small students overstate what reasoning gives larger ones"
    return "no consistent direction (mean and cells disagree or split), so no learnability gap shows"


def verdict_counts_line(verdicts: pd.DataFrame, method: str) -> str:
    """The predicted verdicts of `method`, counted: what a prediction says before training."""
    mine = verdicts[verdicts["method"] == method]
    counts = mine["verdict"].value_counts()
    return (
        f"Predicted by {method} ({LEVEL:.0%} intervals), reasoning − IFT at the predicted sizes: reasoning "
        f"in {counts.get('reasoning', 0)} of {len(mine)} cells, IFT in {counts.get('ift', 0)}, within noise "
        f"in {counts.get(WITHIN_NOISE, 0)}."
    )


def headlines(tables: dict[str, pd.DataFrame], fit: list[str], predict: list[str]) -> list[str]:
    """The summary's lines on the prediction: its verdicts, and its scores where the truth is known."""
    scores, verdicts = tables["prediction_scores"], tables["prediction_verdicts"]
    method = _by_method(scores)["mae_points"].idxmin() if len(scores) else "logit-linear"
    return [verdict_counts_line(verdicts, method), *score_headlines(scores, verdicts, fit, predict)]


def markdown_sections(tables: dict[str, pd.DataFrame], predict) -> list[str]:
    """The summary's section on the prediction: how it is made, its scores and its verdicts."""
    sections = [
        f"## Predicted from the small students: {', '.join(predict.fit)} → {', '.join(predict.predict)}",
        f"Each method is fitted on {', '.join(predict.fit)} only, per family and format; the predicted "
        f"students' size and training FLOPs come from their configs. Intervals are {LEVEL:.0%}: the fit "
        "repeated on replicates of the fit points (the bootstrap's, or residual-sized draws for single "
        "runs) plus a new point's distance from the trend (the logit-linear fits' pooled residual, "
        "t-scaled). A verdict is reasoning or IFT where the interval of reasoning − IFT excludes zero, "
        "within noise where it holds it; `right` compares it with the measured verdict. "
        "`tables/predictions.csv` holds every predicted accuracy.",
    ]
    if not tables["prediction_scores"].empty:
        sections += ["### Scores", markdown_table(tables["prediction_scores"])]
    sections += ["### Verdicts", markdown_table(tables["prediction_verdicts"])]
    return sections


def tables_for(found: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """`predict`'s tables under the names the analysis writes (`tables/<name>.csv`)."""
    return {
        "predictions": found["predictions"],
        "prediction_verdicts": found["verdicts"],
        "prediction_scores": found["scores"],
    }
