"""Training curves in TensorBoard: every training unit writes event files through TRL's own
`report_to`, and `sor tensorboard` serves a study's runs by name; W&B is refused without its
package and logs offline in an offline study."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import SMOKE
from scale_or_reason import units
from scale_or_reason.cli import main
from scale_or_reason.config.params import ParametersError, load_study
from scale_or_reason.orchestration import execution, preflight
from scale_or_reason.training import train

CURVES = {"train/loss", "train/learning_rate", "train/grad_norm", "train/num_tokens"}


@pytest.mark.slow
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


def with_report_to(study, report_to: str):
    return study.model_copy(update={"training": study.training.model_copy(update={"report_to": report_to})})


def test_wandb_without_its_package_is_refused_before_any_work(smoke_study, monkeypatch):
    monkeypatch.setattr(preflight, "find_spec", lambda name: None)
    with pytest.raises(ParametersError, match=r"training\.report_to: wandb needs the wandb package"):
        preflight.check_study(with_report_to(smoke_study, "wandb"))
    preflight.check_study(with_report_to(smoke_study, "tensorboard"))


def test_wandb_logs_offline_in_an_offline_study_under_each_runs_name(smoke_study, tmp_path):
    assert smoke_study.runner.offline
    assert execution.kernel_environment(smoke_study, 1)["WANDB_MODE"] == "offline"
    arguments = train.sft_config(with_report_to(smoke_study, "wandb"), "small", "ift", tmp_path, 10)
    assert arguments.report_to == ["wandb"] and arguments.run_name == "small-ift-seed0"
