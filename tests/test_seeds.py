"""Seeds as a study axis: each student trained once per seed, its own folders, results with a
`seed` column, and the analysis's intervals over seeds and items."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from safetensors.torch import load_file

from conftest import REPO, run_sor
from scale_or_reason import units
from scale_or_reason.analysis.results import seed_means
from scale_or_reason.config.params import ParametersError, load_study, parse_study
from scale_or_reason.data import generation
from scale_or_reason.training import train

SEEDED = REPO / "tests" / "fixtures" / "configs" / "seeds_smoke.yaml"
EFFICIENCY = REPO / "tests" / "fixtures" / "configs" / "data_efficiency_smoke.yaml"


def with_seeds(study, seeds):
    return parse_study({**study.model_dump(mode="json"), "seeds": seeds})


def test_a_study_without_seeds_keeps_one_run_per_student_and_its_folders(smoke_study):
    assert {run.seed for run in units.runs(smoke_study)} == {smoke_study.seed}
    assert len(units.runs(smoke_study)) == len(units.students(smoke_study))
    folder = units.train_dir(smoke_study, "tiny", "ift")
    assert folder == units.train_dir(smoke_study, "tiny", "ift", smoke_study.seed)
    assert folder.name.startswith("tiny-ift-") and "seed" not in folder.name


def test_each_seed_is_a_run_with_its_own_units_and_folders(smoke_study):
    seeded = with_seeds(smoke_study, [0, 1, 2])
    assert len(units.runs(seeded)) == 3 * len(units.students(seeded))
    planned = {unit.key: unit for unit in units.plan(seeded, "parameters/smoke.yaml")}
    train = planned["train:tiny-ift-seed1"]
    assert train.parameters["seed"] == 1 and train.folder.name.startswith("tiny-ift-seed1-")
    assert planned["evaluate:tiny-ift-seed1"].needs == ("train:tiny-ift-seed1",)
    folders = {units.train_dir(seeded, "tiny", "ift", seed) for seed in (0, 1, 2)}
    assert len(folders) == 3
    # The data is the study's whatever the seeds; seed 0 trains what the unseeded study trains.
    assert units.data_dir(seeded) == units.data_dir(smoke_study)
    assert units.train_fingerprint(seeded, "tiny", "ift", 0) == units.train_fingerprint(
        smoke_study, "tiny", "ift"
    )
    evaluations = {key for key in planned if key.startswith("evaluate:")}
    assert set(planned["analyze:study"].needs) == evaluations and len(evaluations) == 3 * 6


def test_seeds_are_validated_and_runs_named(smoke_study):
    with pytest.raises(ParametersError, match=r"seeds repeat: \[1, 1\]"):
        with_seeds(smoke_study, [1, 1])
    with pytest.raises(ParametersError, match="seeds"):
        with_seeds(smoke_study, [])
    seeded = with_seeds(smoke_study, [3, 4])
    with pytest.raises(ParametersError, match=r"tiny-ift with seed\(s\) 3, 4, not 0"):
        units.check_student(seeded, "tiny", "ift", 0)
    units.check_student(seeded, "tiny", "ift", 4)


def test_the_probe_is_trained_once_and_unsolved_selections_wait_for_it():
    seeded = with_seeds(load_study(EFFICIENCY), [0, 1])
    probes = [run for run in units.runs(seeded) if run.recipe == "probe"]
    assert probes == [units.Run("tiny", "probe", 0)]
    planned = {unit.key: unit for unit in units.plan(seeded, EFFICIENCY)}
    assert "evaluate:tiny-probe-seed0" in planned["train:tiny-select-unsolved-8-seed1"].needs


def test_a_seed_changes_initialisation_and_data_order_but_not_the_data(isolated_runs):
    study = load_study(SEEDED)
    generation.generate_data(study)
    first, second = (train.train_student(study, "tiny", "ift", seed) for seed in (0, 1))
    assert first["seed"] == 0 and second["seed"] == 1
    for key in ("samples", "rows", "train_tokens", "train_flops_paper", "steps"):
        assert first[key] == second[key], key
    weights = [
        load_file(units.train_dir(study, "tiny", "ift", seed) / "model" / "model.safetensors")
        for seed in (0, 1)
    ]
    assert any(not weights[0][name].equal(weights[1][name]) for name in weights[0])


def test_seed_means_average_what_differs_between_seeds():
    base = {"scale": "s", "params": 10, "recipe": "ift", "benchmark": "b", "train_flops": 5.0, "n": 4}
    results = pd.DataFrame(
        [
            {**base, "seed": 0, "accuracy": 0.25, "gen_tokens_mean": 3.0, "inference_flops": 1.0},
            {**base, "seed": 1, "accuracy": 0.75, "gen_tokens_mean": 5.0, "inference_flops": 3.0},
        ]
    )
    for column in ("inference_flops_paper", "inference_flops_exact", "prompt_tokens_mean", "train_seconds"):
        results[column] = 1.0
    results[["mfu", "hit_cap", "no_answer"]] = 0
    means = seed_means(results)
    assert len(means) == 1 and "seed" not in means
    row = means.iloc[0]
    assert (row["accuracy"], row["gen_tokens_mean"], row["inference_flops"]) == (0.5, 4.0, 2.0)
    assert (row["train_flops"], row["n"], row["params"], row["seeds"]) == (5.0, 4, 10, 2)


@pytest.mark.slow
def test_a_seeded_study_runs_end_to_end_with_intervals(tmp_path):
    runs = tmp_path / "runs"
    parameters = yaml.safe_load(SEEDED.read_text())
    parameters["analysis"] = {"figures_dir": str(tmp_path / "figures")}
    file = tmp_path / "seeds_smoke.yaml"
    file.write_text(yaml.safe_dump(parameters))
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "dropped_figure.png").write_bytes(b"a figure the study no longer draws")
    finished = run_sor("study", str(file), "--publish-figures", runs_dir=runs)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "removed figures the study no longer draws: dropped_figure.png" in finished.stdout
    assert not (tmp_path / "figures" / "dropped_figure.png").exists()
    study = load_study(file)
    results = pd.read_csv(runs / "seeds_smoke" / "results.csv")
    assert sorted(results["seed"].unique()) == [0, 1]
    assert len(results) == 2 * 2 * 2  # recipes × seeds × benchmarks
    tables = units.analysis_dir(study).relative_to(units.study_dir(study))
    folder = runs / "seeds_smoke" / tables / "tables"
    accuracy = pd.read_csv(folder / "accuracy.csv")
    assert (accuracy["seeds"] == 2).all() and (accuracy["n"] == 8).all()
    assert ((accuracy["low"] <= accuracy["mean"]) & (accuracy["mean"] <= accuracy["high"])).all()
    means = results.groupby(["recipe", "benchmark"])["accuracy"].mean()
    by_student = accuracy.set_index(["recipe", "benchmark"])["mean"]
    pd.testing.assert_series_equal(by_student.sort_index(), means.sort_index(), check_names=False)
    differences = pd.read_csv(folder / "differences.csv")
    assert (
        set(differences["family"]) == {"math_oe", "general_mc"}
        and (differences["low"] <= differences["high"]).all()
    )
    committed = pd.read_csv(tmp_path / "figures" / "accuracy.csv")
    pd.testing.assert_frame_equal(committed, accuracy)  # the columns: tests/test_uncertainty.py
    assert (tmp_path / "figures" / "accuracy_vs_train_flops.png").is_file()
    published = (tmp_path / "figures" / "summary.md").read_text()  # for a reader without a run
    assert published == (runs / "seeds_smoke" / "summary.md").read_text()
    frontier = pd.read_csv(folder / "frontier_probability.csv")
    assert frontier[["p_train_frontier", "p_inference_frontier"]].stack().between(0, 1).all()
