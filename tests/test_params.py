import pytest
import yaml

from conftest import PARAMETERS
from scale_or_reason import units
from scale_or_reason.config.params import ParametersError, fingerprint, load_study, parse_study

SMOKE = PARAMETERS / "smoke.yaml"


def smoke_data() -> dict:
    return yaml.safe_load(SMOKE.read_text())


@pytest.mark.parametrize("name", ["smoke.yaml", "embedded.yaml"])
def test_shipped_parameter_files_are_valid(name):
    study = load_study(PARAMETERS / name)
    assert study.study == name.removesuffix(".yaml")


def test_relative_paths_resolve_against_the_project(monkeypatch, tmp_path):
    """The project is the nearest folder upward holding `parameters/` (JupyterLab's kernels start
    in `notebooks/`), `SOR_PROJECT_DIR` when set, else the working directory."""
    monkeypatch.delenv("SOR_PROJECT_DIR", raising=False)
    monkeypatch.chdir(PARAMETERS.parent / "notebooks")
    assert load_study("parameters/smoke.yaml").study == "smoke"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParametersError, match=f"parameters file not found: {tmp_path}/parameters/smoke.yaml"):
        load_study("parameters/smoke.yaml")
    monkeypatch.setenv("SOR_PROJECT_DIR", str(PARAMETERS.parent))
    assert load_study("parameters/smoke.yaml").study == "smoke"


@pytest.mark.parametrize(
    "edit,message",
    [
        (
            lambda d: d["training"].update(learning_rat=1e-3),
            r"unknown key 'training.learning_rat' \(did you mean 'learning_rate'\?\)",
        ),
        (lambda d: d.update(studnets={}), r"unknown key 'studnets' \(did you mean 'students'\?\)"),
        (lambda d: d["training"].update(epochs="three"), r"training.epochs: Input should be a valid integer"),
        (
            lambda d: d["students"]["scales"]["tiny"].update(num_heads=3),
            r"num_heads \(3\) must divide hidden_size \(16\)",
        ),
        (lambda d: d["benchmarks"].append({"name": "x", "family": "physics_oe"}), r"benchmarks.5.family"),
        (lambda d: d["teacher"].update(families=["math_oe"]), r"benchmark 'math_mc' tests family 'math_mc'"),
        (lambda d: d.pop("students"), r"students: Field required"),
        (
            lambda d: d["training"].update(batch_size=0),
            r"training.batch_size: Input should be greater than 0",
        ),
    ],
)
def test_bad_parameters_name_the_key(edit, message):
    data = smoke_data()
    edit(data)
    with pytest.raises(ParametersError, match=message):
        parse_study(data, "smoke.yaml")


def test_missing_and_malformed_files_are_named(tmp_path):
    with pytest.raises(ParametersError, match=r"parameters file not found: .*nowhere\.yaml"):
        load_study(tmp_path / "nowhere.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("study: [unclosed\n")
    with pytest.raises(ParametersError, match=r"broken\.yaml: not valid YAML"):
        load_study(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ParametersError, match="expected a mapping"):
        load_study(listing)


def test_yaml_is_loaded_safely(tmp_path):
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("study: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ParametersError, match="not valid YAML"):
        load_study(unsafe)


def test_fingerprint_is_stable_and_sensitive(smoke_study):
    assert fingerprint(smoke_study.training) == fingerprint(smoke_study.training)
    changed = smoke_study.training.model_copy(update={"epochs": 2})
    assert fingerprint(changed) != fingerprint(smoke_study.training)


def test_a_scale_can_override_the_learning_rate(smoke_study):
    data = smoke_data()
    data["students"]["scales"]["small"]["learning_rate"] = {"ift": 1e-4, "reasoning": 2e-4}
    study = parse_study(data)
    assert study.learning_rate("small", "reasoning") == 2e-4
    assert study.learning_rate("tiny", "reasoning") == smoke_study.training.learning_rate.reasoning


def test_an_unknown_student_is_named(smoke_study):
    with pytest.raises(ParametersError, match="unknown scale 'huge'; smoke has tiny, small"):
        units.check_student(smoke_study, "huge", "ift")
    with pytest.raises(ParametersError, match="trains no recipe 'mixed-25' at scale 'tiny'"):
        units.check_student(smoke_study, "tiny", "mixed-25")


def test_curricula_name_known_scales_and_valid_recipes():
    data = smoke_data()
    data["curricula"]["scales"] = ["huge"]
    with pytest.raises(ParametersError, match=r"curricula\.scales names 'huge'"):
        parse_study(data)
    data = smoke_data()
    data["curricula"]["recipes"] = ["sequential-150"]
    with pytest.raises(ParametersError, match=r"curricula\.recipes\.0: String should match pattern"):
        parse_study(data)


def test_students_to_train_adds_curricula_at_their_scales_only(smoke_study):
    students = units.students(smoke_study)
    assert ("tiny", "sequential-50") in students and ("small", "sequential-50") not in students
    assert len(students) == len(set(students)) == 6
    with pytest.raises(ParametersError, match="trains no recipe 'mixed-50' at scale 'small'"):
        units.check_student(smoke_study, "small", "mixed-50")


def test_a_benchmark_may_set_its_own_size_and_only_then_the_data_moves(smoke_study, isolated_runs):
    from scale_or_reason.data import generation
    from scale_or_reason.orchestration.estimates import evaluation_items

    data = smoke_study.model_dump(mode="json")
    unset = parse_study(data)
    assert units.data_dir(unset) == units.data_dir(smoke_study)
    data["benchmarks"][0]["items"] = 11
    sized = parse_study(data)
    assert units.data_dir(sized) != units.data_dir(smoke_study)
    assert evaluation_items(sized) == 11 + 4 * sized.teacher.test_per_family
    generation.generate_data(sized)
    folder = units.data_dir(sized) / "benchmarks"
    rows = {path.stem: len(path.read_text().splitlines()) for path in folder.glob("*.jsonl")}
    assert rows == {"math_oe": 11, "math_mc": 6, "general_oe": 6, "general_mc": 6, "math_oe_rephrased": 6}


def test_overrides_set_dotted_keys_with_yaml_values_and_are_validated():
    from scale_or_reason.config.params import with_overrides

    study = load_study(
        SMOKE, ["training.epochs=3", "seeds=[0, 1]", "training.learning_rate={ift: 1e-3, reasoning: 2e-3}"]
    )
    assert study.training.epochs == 3 and study.seeds == [0, 1]
    assert study.learning_rate("tiny", "reasoning") == 2e-3
    data = smoke_data()
    assert with_overrides(data, ["analysis.flops=exact"])["analysis"]["flops"] == "exact"
    assert "flops" not in data.get("analysis", {})  # the file's data is left as it was
    with pytest.raises(ParametersError, match=r"--set: 'training\.epochs' is not KEY=VALUE"):
        load_study(SMOKE, ["training.epochs"])
    with pytest.raises(ParametersError, match=r"unknown key 'training\.epoch' \(did you mean 'epochs'\?\)"):
        load_study(SMOKE, ["training.epoch=3"])
    with pytest.raises(ParametersError, match=r"--set: 'study' is not a section"):
        load_study(SMOKE, ["study.x.y=1"])


def test_several_evaluation_processes_need_the_hf_backend():
    from scale_or_reason.config.params import EvaluationParams

    assert EvaluationParams(processes=2).processes == 2
    with pytest.raises(ValueError, match=r"evaluation\.processes > 1 splits the items over hf processes"):
        EvaluationParams(processes=2, backend="vllm")
