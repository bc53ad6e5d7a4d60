"""The intervals proved by simulation: synthetic studies with a known truth (`analysis.simulation`:
500 items, 3 seeds, a logit item model) through the project's own bootstrap, accuracy table and
format differences. Nominal 95% must cover 92-98% of the truths: each student's expected accuracy,
reasoning minus IFT, and a fresh three-seed rerun's mean on the same items.

Resampling three seeds with replacement (the construction before the t-scaled seed term) covered
66-87% of the accuracies once seeds differ on this grid (300 studies a setting). At 15%
accuracy a seed SD of 0.1 or more is a skewed spread of seeds (median 0.12 and 0.05 under a mean
of 0.15): three seeds miss its upper tail too often for any interval built from them (92% and 83%
there in 1,000 studies), so the grid stops at 0.05 at that accuracy.
"""

import pytest

from scale_or_reason.analysis import simulation

STUDIES = 300  # 600 student intervals a setting: a standard error of about 1 point at 95%
REPLICATES = 1000  # half the analysis's: the 2.5% and 97.5% points are still well placed
SETTINGS = [(0.5, 0.0), (0.5, 0.05), (0.5, 0.1), (0.5, 0.2), (0.15, 0.0), (0.15, 0.05)]


@pytest.mark.slow
@pytest.mark.parametrize("accuracy,seed_sd", SETTINGS)
def test_nominal_95_percent_intervals_cover_92_to_98_percent(accuracy, seed_sd):
    result = simulation.coverage(seed_sd, accuracy, STUDIES, REPLICATES)
    coverages = {name: result[f"{name}_coverage"] for name in ("accuracy", "difference", "rerun")}
    assert all(0.92 <= value <= 0.98 for value in coverages.values()), coverages


def test_the_simulated_truth_has_the_asked_accuracy_and_seed_spread():
    setting = simulation.Setting(seed_sd=0.1, accuracy=0.5)
    truth = setting.truth()
    assert truth["ift"] == pytest.approx(0.5, abs=1e-6)
    assert truth["reasoning"] == pytest.approx(0.5 + simulation.FORMAT_GAP, abs=1e-6)
    sigma = simulation.seed_logit_sd_for(0.1, 0.5)
    assert simulation.seed_sd_on_accuracy(setting.abilities()["ift"], sigma) == pytest.approx(0.1, abs=1e-6)
