"""Students trained elsewhere (`students.scales.<s>.trained`): evaluated, never trained, their
training FLOPs estimated; tested with the smoke study's own checkpoints as stand-ins, in folders
named as the paper's released students are."""

import shutil

import pandas as pd
import pytest
import yaml
from huggingface_hub import constants as hub_constants

from conftest import PARAMETERS, SMOKE, run_sor
from scale_or_reason import units
from scale_or_reason.analysis import reported
from scale_or_reason.config import paths
from scale_or_reason.config.params import ParametersError, load_study, parse_study
from scale_or_reason.core import flops
from scale_or_reason.core.hub import HubUnreachableError
from scale_or_reason.core.model_configs import student_architecture
from scale_or_reason.evaluation import evaluate
from scale_or_reason.orchestration import estimates, preflight

ESTIMATES = {"samples": 1000, "prompt_tokens": 30.0, "ift_tokens": 8.0, "reasoning_tokens": 60.0}
RELEASED_NAMES = {"tiny": "Qwen2.5-0.5B", "small": "Qwen2.5-1.5B"}
RELEASED_SIZES = {"tiny": "0.5b", "small": "1.5b"}


def standin_study(trained: dict[str, dict[str, str]], **changes) -> dict:
    data = yaml.safe_load(SMOKE.read_text())
    data.update(study="released-standin", curricula={"recipes": [], "scales": []}, estimates=ESTIMATES)
    for scale, sources in trained.items():
        data["students"]["scales"][scale]["trained"] = sources
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def released_standins(smoke_reference, tmp_path_factory):
    """The smoke study's trained students, copied into folders with the released students' names."""
    smoke = load_study(SMOKE)
    folder = tmp_path_factory.mktemp("released")
    trained = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOR_RUNS_DIR", str(smoke_reference))
        for scale, name in RELEASED_NAMES.items():
            for recipe in ("ift", "reasoning"):
                target = folder / f"{name}-{recipe}"
                shutil.copytree(units.train_dir(smoke, scale, recipe) / "model", target)
                trained.setdefault(scale, {})[recipe] = str(target)
        reference = pd.read_csv(units.results_csv(smoke))
    return trained, reference


def test_trained_students_get_evaluation_units_and_no_training(released_standins):
    trained, _ = released_standins
    study = parse_study(standin_study(trained))
    planned = units.plan(study, SMOKE)
    assert not [unit for unit in planned if unit.stage == "train"]
    evaluations = [unit for unit in planned if unit.stage == "evaluate"]
    assert len(evaluations) == 4 and all(unit.needs == ("generate:data",) for unit in evaluations)
    assert units.model_source(study, "small", "reasoning") == trained["small"]["reasoning"]


@pytest.mark.slow
def test_trained_students_are_scored_as_their_own_evaluation_did(released_standins, isolated_runs, tmp_path):
    trained, reference = released_standins
    parameters = tmp_path / "released-standin.yaml"
    data = standin_study(trained)
    data["analysis"] = {"compare_with_paper": "general"}
    data["students"]["scales"] = {RELEASED_SIZES[s]: v for s, v in data["students"]["scales"].items()}
    parameters.write_text(yaml.safe_dump(data))
    finished = run_sor("study", str(parameters), runs_dir=isolated_runs)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    study = load_study(parameters)
    results = pd.read_csv(units.results_csv(study))
    assert results["train_flops_estimated"].all() and len(results) == 4 * len(study.benchmarks)
    keys = ["scale", "recipe", "benchmark"]
    results["scale"] = results["scale"].map({size: scale for scale, size in RELEASED_SIZES.items()})
    both = results.merge(
        reference[reference["recipe"].isin(["ift", "reasoning"])], on=keys, suffixes=("", "_ref")
    )
    assert len(both) == len(results)
    assert (both["accuracy"] == both["accuracy_ref"]).all(), "the same checkpoints, greedy: the same scores"
    row = results[(results["scale"] == "small") & (results["recipe"] == "reasoning")].iloc[0]
    arch = student_architecture(study, "1.5b")
    assert row["train_flops_paper"] == flops.training_flops(arch, [90]) * 1000  # 30 + 60 tokens, 1000 samples

    comparison = pd.read_csv(units.analysis_dir(study) / "tables" / "paper_comparison.csv")
    assert len(comparison) == 16  # 4 families x 2 sizes x 2 formats
    table = pd.read_csv(paths.PAPER_DATA_DIR / reported.TABLE_FILE)
    cell = comparison[(comparison["family"] == "math_oe") & (comparison["scale"] == "1.5b")]
    cell = cell[cell["recipe"] == "ift"].iloc[0]
    published = table[
        (table["corpus"] == "general") & (table["family"] == "math_oe") & (table["size_b"] == 1.5)
    ]
    assert cell["paper"] == published[published["format"] == "ift"]["accuracy"].iloc[0] / 100
    ours = results[
        (results["scale"] == "small") & (results["recipe"] == "ift") & (results["benchmark"] == "math_oe")
    ]
    assert cell["ours"] == ours["accuracy"].iloc[0]  # math_oe's one in-distribution benchmark
    assert (comparison["low"] <= comparison["ours"] + 1e-12).all() and (
        comparison["ours"] <= comparison["high"] + 1e-12
    ).all()
    assert (units.analysis_dir(study) / "figures" / "ours_vs_paper.png").is_file()


def test_a_trained_folder_without_weights_is_named(released_standins, tmp_path):
    trained, _ = released_standins
    broken = tmp_path / "Qwen2.5-0.5B-ift"
    shutil.copytree(trained["tiny"]["ift"], broken)
    for weights in broken.glob("*.safetensors"):
        weights.unlink()
    study = parse_study(standin_study({"tiny": {"ift": str(broken)}}))
    with pytest.raises(ParametersError, match=r"students.scales.tiny.trained.ift: .* lacks safetensors"):
        preflight.check_study(study)


def test_a_trained_recipe_the_study_does_not_evaluate_is_refused():
    with pytest.raises(ParametersError, match=r"students.scales.tiny.trained.reasoning: the study does not"):
        parse_study(standin_study({"tiny": {"reasoning": "somewhere"}}, recipes=["ift"]))
    estimates = {key: value for key, value in ESTIMATES.items() if key != "reasoning_tokens"}
    with pytest.raises(ParametersError, match=r"estimates.reasoning_tokens, which is unset"):
        parse_study(standin_study({"tiny": {"reasoning": "somewhere"}}, estimates=estimates))


def test_an_unreachable_released_student_names_the_local_folder_to_use(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the variable once, when imported: patch its flag too, or the hub is
    # tried over the network until it times out (46 s here).
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    study = parse_study(standin_study({}))
    with pytest.raises(HubUnreachableError, match=r"Offline: .*local folder"):
        evaluate.lm_eval_model(study, "Scale-or-Reason/Qwen2.5-0.5B-ift-not-cached", "ift")


def test_the_released_study_plans_ten_evaluations_and_their_gpu_hours():
    released = PARAMETERS / "paper-released.yaml"
    study = load_study(released)
    planned = units.plan(study, released)
    assert [unit.stage for unit in planned] == ["evaluate"] * 10 + ["analyze"]
    report = estimates.describe(study, planned)
    assert "Scale-or-Reason/Qwen2.5-14B-reasoning" in report and "GPU-hours at" in report
    assert "students trained elsewhere" in report
