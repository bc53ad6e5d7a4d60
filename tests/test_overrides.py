"""`--set KEY=VALUE` and `--only PATTERN` on the command line: validated like the file, recorded in
the study's folder (so fingerprints follow), and only the matching units run, with what they need."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import SMOKE, run_sor
from scale_or_reason import units
from scale_or_reason.cli import main
from scale_or_reason.config.params import ParametersError, load_study


def test_only_keeps_the_matching_units_and_everything_they_need(smoke_study):
    planned = units.plan(smoke_study, SMOKE)
    chosen = [unit.key for unit in units.only(planned, ["evaluate:tiny-i*"])]
    assert chosen == ["generate:data", "train:tiny-ift", "evaluate:tiny-ift"]
    both = [unit.key for unit in units.only(planned, ["train:small-*", "train:tiny-ift"])]
    assert both == ["generate:data", "train:tiny-ift", "train:small-ift", "train:small-reasoning"]
    analysis = {unit.key for unit in units.only(planned, ["analyze:*"])}
    assert {"evaluate:tiny-ift", "train:small-reasoning"} <= analysis
    with pytest.raises(ParametersError, match=r"--only 'train:huge-\*' matches no unit.*train:tiny-ift"):
        units.only(planned, ["train:huge-*"])


def test_set_changes_the_plan_and_the_folders_that_follow_from_it(capsys):
    plain = units.train_dir(load_study(SMOKE), "tiny", "ift")
    changed = units.train_dir(load_study(SMOKE, ["training.epochs=2"]), "tiny", "ift")
    assert plain != changed
    assert main(["check", str(SMOKE), "--set", "training.epochs=2"]) == 0
    assert str(changed) in capsys.readouterr().out
    assert main(["check", str(SMOKE), "--set", "training.epochs=two"]) == 2
    assert "training.epochs" in capsys.readouterr().err
    assert (
        main(["study", str(SMOKE), "--dry-run", "--set", "training.epochs=2", "--only", "train:tiny-ift"])
        == 0
    )
    plan_lines = capsys.readouterr().out
    assert "smoke: 2 units" in plan_lines and "train:small" not in plan_lines


@pytest.mark.slow
def test_a_run_with_overrides_records_them_and_runs_only_what_was_asked(isolated_runs):
    done = run_sor("study", "parameters/smoke.yaml", "--set", "training.epochs=2", "--only", "train:tiny-ift",
                   runs_dir=isolated_runs)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    study = load_study(SMOKE, ["training.epochs=2"])
    ran = [unit.key for unit in units.plan(study, SMOKE) if units.is_complete(unit.folder)]
    assert ran == ["generate:data", "train:tiny-ift"]
    (saved,) = units.study_dir(study).glob("parameters-*.yaml")
    assert yaml.safe_load(saved.read_text())["training"]["epochs"] == 2
    notebook = json.loads((units.train_dir(study, "tiny", "ift") / "02_train.ipynb").read_text())
    assert notebook["metadata"]["papermill"]["parameters"]["parameters_file"] == str(saved)
    assert (
        json.loads((units.train_dir(study, "tiny", "ift") / "train_metrics.json").read_text())["epochs"] == 2
    )


@pytest.mark.parametrize("override", ["training.max_grad_norm=0.3", "training.max_grad_norm=0"])
def test_gradient_clipping_reaches_the_trainer_and_only_a_change_moves_the_folders(override, tmp_path):
    from scale_or_reason.training import train

    plain = load_study(SMOKE)
    assert units.train_dir(
        load_study(SMOKE, ["training.max_grad_norm=1.0"]), "tiny", "ift"
    ) == units.train_dir(
        plain, "tiny", "ift"
    )  # the default is left out of the fingerprint: runs trained before the setting keep their folders
    changed = load_study(SMOKE, [override])
    assert units.train_dir(changed, "tiny", "ift") != units.train_dir(plain, "tiny", "ift")
    value = float(override.split("=")[1])
    assert train.sft_config(changed, "tiny", "ift", tmp_path, 10).max_grad_norm == value
    assert train.sft_config(plain, "tiny", "ift", tmp_path, 10).max_grad_norm == 1.0


def test_a_negative_clipping_norm_is_refused_by_name():
    with pytest.raises(ParametersError, match=r"training\.max_grad_norm"):
        load_study(SMOKE, ["training.max_grad_norm=-1"])
