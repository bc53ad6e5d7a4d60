"""Synthetic studies with a known truth, to prove the intervals of `uncertainty` by simulation.

Each simulated study is one benchmark of `items` items answered by an IFT and a reasoning student,
each trained on `seeds` seeds, from a logit item model:

    P(student j, seed k right on item i) = σ(θⱼ + sⱼₖ + uⱼᵢ − dᵢ)

with item difficulties dᵢ ~ N(0, ITEM_SD²) shared by the students, a student-by-item effect
uⱼᵢ ~ N(0, STUDENT_ITEM_SD²) (students find different items hard, so their pairing is partial),
and seed effects sⱼₖ ~ N(0, σ²), σ chosen so that the seed-to-seed standard deviation of the
expected accuracy is the asked `seed_sd` on the accuracy scale. The truth is the expected
accuracy over items and seeds; a rerun is a fresh set of seeds on the same items.

`coverage` runs simulated studies through the project's own `bootstrap_study`, `accuracy_table`
and `format_differences` and counts how often each 95% interval holds its truth:

    from scale_or_reason.analysis import simulation
    simulation.coverage(seed_sd=0.1, accuracy=0.5, studies=300)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit

from ..config.recipes import FORMATS
from . import uncertainty

ITEM_SD = 1.5  # logits: items from near-certain to near-hopeless
STUDENT_ITEM_SD = 0.8  # logits: how differently the two students find the same items hard
FORMAT_GAP = 0.05  # the reasoning student's expected accuracy above the IFT student's
QUADRATURE = np.polynomial.hermite_e.hermegauss(61)  # nodes and weights for E[f(Z)], Z ~ N(0, 1)


def expected_accuracy(ability: float, sd: float) -> float:
    """E σ(ability + Z·sd), Z ~ N(0, 1): the accuracy over items (and seeds) of logit sd `sd`."""
    nodes, weights = QUADRATURE
    return float(weights @ expit(ability + sd * nodes) / weights.sum())


def item_sd() -> float:
    return float(np.hypot(ITEM_SD, STUDENT_ITEM_SD))


@lru_cache
def ability_for(accuracy: float, seed_logit_sd: float) -> float:
    """The θ whose expected accuracy over items and seeds is `accuracy`."""
    total = float(np.hypot(item_sd(), seed_logit_sd))
    return optimize.brentq(lambda theta: expected_accuracy(theta, total) - accuracy, -200, 200)


def seed_sd_on_accuracy(ability: float, seed_logit_sd: float) -> float:
    """The standard deviation over seeds of a student's expected accuracy over items."""
    nodes, weights = QUADRATURE
    weights = weights / weights.sum()
    per_seed = np.array([expected_accuracy(ability + seed_logit_sd * z, item_sd()) for z in nodes])
    mean = weights @ per_seed
    return float(np.sqrt(weights @ (per_seed - mean) ** 2))


@lru_cache
def seed_logit_sd_for(seed_sd: float, accuracy: float) -> float:
    """The logit σ of the seed effects whose accuracy-scale seed SD is `seed_sd` at `accuracy`."""
    if seed_sd == 0:
        return 0.0

    def gap(sigma: float) -> float:
        return seed_sd_on_accuracy(ability_for(accuracy, sigma), sigma) - seed_sd

    return optimize.brentq(gap, 1e-4, 30.0)


@dataclass(frozen=True)
class Setting:
    """One simulated condition: the students' accuracies and the seed-to-seed SD (accuracy scale)."""

    seed_sd: float
    accuracy: float
    items: int = 500
    seeds: int = 3

    def abilities(self) -> dict[str, float]:
        sigma = seed_logit_sd_for(self.seed_sd, self.accuracy)
        ift, reasoning = FORMATS
        return {
            ift: ability_for(self.accuracy, sigma),
            reasoning: ability_for(min(self.accuracy + FORMAT_GAP, 0.99), sigma),
        }

    def truth(self) -> dict[str, float]:
        sigma = seed_logit_sd_for(self.seed_sd, self.accuracy)
        total = float(np.hypot(item_sd(), sigma))
        return {recipe: expected_accuracy(theta, total) for recipe, theta in self.abilities().items()}


def simulate(setting: Setting, study: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One synthetic study's item outcomes (the `bootstrap` input, benchmark `sim<study>`) and a
    rerun's (fresh seeds, the same items)."""
    sigma = seed_logit_sd_for(setting.seed_sd, setting.accuracy)
    abilities = setting.abilities()
    students, seeds, items = len(abilities), setting.seeds, setting.items
    difficulty = rng.normal(0, ITEM_SD, items)
    logits = np.array(list(abilities.values()))[:, None] + rng.normal(0, STUDENT_ITEM_SD, (students, items))
    logits -= difficulty
    shape = (students, seeds, items)
    recipe = np.repeat(list(abilities), seeds * items)
    seed = np.tile(np.repeat(np.arange(seeds), items), students)
    ids = np.tile([f"q{i:04d}" for i in range(items)], students * seeds)
    tables = []
    for _ in ("run", "rerun"):
        chance = expit(logits[:, None, :] + rng.normal(0, sigma, (students, seeds, 1)))
        correct = (rng.random(shape) < chance).astype(float).ravel()
        tables.append(
            pd.DataFrame(
                {
                    "scale": "s",
                    "recipe": recipe,
                    "seed": seed,
                    "benchmark": f"sim{study}",
                    "id": ids,
                    "correct": correct,
                    "inference_flops": 1.0,
                }
            )
        )
    return tables[0], tables[1]


def coverage(
    seed_sd: float,
    accuracy: float,
    studies: int = 300,
    replicates: int = uncertainty.REPLICATES,
    seed: int = 0,
) -> dict[str, float]:
    """The share of `studies` simulated studies in which each 95% interval holds its truth:
    `accuracy` (both students' expected accuracy), `difference` (reasoning minus IFT) and `rerun`
    (a fresh rerun's seed mean inside the prediction interval), with the setting."""
    setting = Setting(seed_sd, accuracy)
    truth = setting.truth()
    rng = np.random.default_rng([seed, round(seed_sd * 1e4), round(accuracy * 1e4)])
    pairs = [simulate(setting, study, rng) for study in range(studies)]
    outcomes = pd.concat([runs for runs, _ in pairs], ignore_index=True)
    reruns = pd.concat([rerun for _, rerun in pairs], ignore_index=True)
    replicated = uncertainty.bootstrap_study(outcomes, replicates, seed)
    table = uncertainty.accuracy_table(replicated)
    true_mean = table["recipe"].map(truth)
    rerun_means = (
        reruns.groupby(["benchmark", "recipe", "seed"])["correct"].mean().groupby(level=[0, 1]).mean()
    )
    rerun_mean = (
        pd.Series(list(zip(table["benchmark"], table["recipe"], strict=True))).map(rerun_means).to_numpy()
    )
    panels = {benchmark: benchmark for benchmark in replicated}
    differences = uncertainty.format_differences(replicated, panels)
    true_difference = truth[FORMATS[1]] - truth[FORMATS[0]]
    return {
        "seed_sd": seed_sd,
        "accuracy": accuracy,
        "studies": studies,
        "accuracy_coverage": float(((table["low"] <= true_mean) & (true_mean <= table["high"])).mean()),
        "difference_coverage": float(
            ((differences["low"] <= true_difference) & (true_difference <= differences["high"])).mean()
        ),
        "rerun_coverage": float(
            ((table["rerun_low"] <= rerun_mean) & (rerun_mean <= table["rerun_high"])).mean()
        ),
    }
