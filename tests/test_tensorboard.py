"""Training curves in TensorBoard: every training unit writes event files through TRL's own
`report_to`, and `sor tensorboard` serves a study's runs by name."""

from __future__ import annotations

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import SMOKE
from scale_or_reason import units
from scale_or_reason.cli import main
from scale_or_reason.config.params import load_study

CURVES = {"train/loss", "train/learning_rate", "train/grad_norm", "train/num_tokens"}


def test_every_training_run_logs_its_curves_for_tensorboard(smoke_reference, monkeypatch, capsys):
    monkeypatch.setenv("SOR_RUNS_DIR", str(smoke_reference))
    study = load_study(SMOKE)
    found = units.tensorboard_runs(study)
    assert set(found) == {f"{run.scale}-{run.recipe}-seed0" for run in units.runs(study)}
    for name, folder in found.items():
        scalars = EventAccumulator(str(folder)).Reload().Tags()["scalars"]
        assert set(scalars) >= CURVES, name
    tokens = EventAccumulator(str(found["small-reasoning-seed0"])).Reload().Scalars("train/num_tokens")
    assert tokens[-1].value > tokens[0].value > 0
    assert main(["tensorboard", str(SMOKE), "--print"]) == 0
    command = capsys.readouterr().out
    assert "--logdir_spec" in command and f"small-ift-seed0:{found['small-ift-seed0']}" in command


def test_a_study_without_curves_says_so(capsys):
    assert main(["tensorboard", str(SMOKE)]) == 1
    assert "no training run with TensorBoard event files yet" in capsys.readouterr().err
