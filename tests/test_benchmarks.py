"""The paper's 18 benchmarks as lm-eval tasks: registry, YAMLs that lm-eval loads offline from
local fixtures in each benchmark's hub schema, prompts, groups and rule-based scoring."""

from pathlib import Path

import pytest
import yaml

from scale_or_reason.config.families import PAPER_BENCHMARK_GROUPS, UnknownBenchmark
from scale_or_reason.config.families import PAPER_GROUPS as GROUPS
from scale_or_reason.config.families import check_paper_benchmarks as check_benchmarks
from scale_or_reason.evaluation import scoring
from scale_or_reason.evaluation.benchmarks import (
    ALL_GROUP,
    KNOWN_BENCHMARKS,
    group_name,
    task_name,
    write_paper_task_yamls,
)

FIXTURES = (Path(__file__).parent / "fixtures" / "benchmarks").resolve()
END_OF_TURN = "<|im_end|>"
MULTIPLE_CHOICE = {name for name, b in KNOWN_BENCHMARKS.items() if b.group.endswith("_mc")}

# Per benchmark: text of the fixture question the prompt must show, a right and a wrong final answer.
CASES = {
    "winogrande": ("the _ was too small", "\\boxed{B}", "\\boxed{A}"),
    "openbookqa": ("conducts electricity best", "\\boxed{C}", "\\boxed{A}"),
    "mmlu_miscellaneous": ("strings does a standard violin", "The answer is \\boxed{(B)}", "\\boxed{C}"),
    "mmlu_math": ("smallest prime number greater than 20", "\\boxed{\\text{C}}", "\\boxed{D}"),
    "squad": ("Who built the Old Harbour Lighthouse?", "\\boxed{Margaret Lowe.}", "\\boxed{Lowe}"),
    "coqa": ("How many cubs did she raise", "\\boxed{3 cubs}", "\\boxed{four}"),
    "ifeval": (
        "fewer than 40 words",
        "The keeper wakes at dawn and climbs the tower.",
        "The keeper wakes, yawns, and climbs.",  # commas are forbidden
    ),
    "aqua_rat": ("180 km in 2.5 hours", "\\boxed{B}", "\\boxed{C}"),
    "mmlu_pro_math": ("derivative of x^3 at x = 2", "\\boxed{D}", "\\boxed{F}"),
    "gsm8k": ("45 loaves a day for 24 days", "\\boxed{\\$1,080}", "\\boxed{1008}"),
    "math_500": ("Solve for $x$: $3x - 4 = 10$.", "\\boxed{\\dfrac{14}{3}}", "\\boxed{\\frac{3}{14}}"),
    "aime": ("$7^{4}$ is divided by $100$", "\\boxed{001}", "\\boxed{401}"),
    "mmlu_pro_law": ("grossly unfair contract term", "\\boxed{B}", "\\boxed{A}"),
    "mmlu_pro_code": ("binary search on a sorted array", "\\boxed{B}", "\\boxed{C}"),
    "mmlu_pro_physics": ("2 kg mass accelerates", "\\boxed{C}", "\\boxed{E}"),
    "consumer_qa": ("refund for the unused part", "\\boxed{No}", "\\boxed{Yes}"),
    "c_code_summarization": (
        "size_t list_length",
        "\\boxed{Count the nodes of a linked list.}",
        "\\boxed{Opens network sockets.}",
    ),
    "scibench": ("Estimate the energy needed", "\\boxed{2.6 \\times 10^{11}}", "\\boxed{2.57}"),
}


def offline_hub(monkeypatch, cache: Path) -> None:
    """No network, and Hugging Face caches under `cache` (datasets reads its config at import)."""
    import datasets

    monkeypatch.setenv("HF_HOME", str(cache))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache / "datasets"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache / "datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Every benchmark's task YAML, loaded by lm-eval from the local fixtures: (folder, manager, tasks)."""
    from lm_eval.tasks import TaskManager

    folder = tmp_path_factory.mktemp("paper_tasks")
    with pytest.MonkeyPatch.context() as monkeypatch:
        offline_hub(monkeypatch, tmp_path_factory.mktemp("hf"))
        local_files = {name: FIXTURES / f"{name}.jsonl" for name in KNOWN_BENCHMARKS}
        names = write_paper_task_yamls(
            list(KNOWN_BENCHMARKS), folder, until=[END_OF_TURN], local_files=local_files
        )
        manager = TaskManager(include_path=str(folder), include_defaults=False)
        tasks = manager.load(names)["tasks"]
        yield folder, manager, tasks


def only_doc(task) -> dict:
    docs = list(task.test_docs())
    assert len(docs) == 1, "each fixture holds one document of the benchmark (plus any the filter drops)"
    return docs[0]


def test_the_registry_holds_the_papers_18_benchmarks_three_per_group():
    assert len(KNOWN_BENCHMARKS) == 18
    for group in GROUPS:
        assert len([b for b in KNOWN_BENCHMARKS.values() if b.group == group]) == 3
    for name, benchmark in KNOWN_BENCHMARKS.items():
        assert name == benchmark.name and name.isidentifier() and name == name.lower()
        assert benchmark.dataset_path.count("/") == 1 and benchmark.split
        assert (FIXTURES / f"{name}.jsonl").exists()
    assert set(CASES) == set(KNOWN_BENCHMARKS)


def test_task_yamls_generate_greedily_up_to_the_cap_and_stop_at_the_end_of_turn(tmp_path):
    names = write_paper_task_yamls(["gsm8k", "mmlu_pro_math"], tmp_path, until=[END_OF_TURN, "</s>"])
    assert names == ["sor_paper_gsm8k", "sor_paper_mmlu_pro_math"]
    config = yaml.safe_load((tmp_path / "sor_paper_mmlu_pro_math.yaml").read_text().replace("!function", ""))
    assert config["output_type"] == "generate_until"  # multiple-choice too: scored from the letter
    generation = {"until": [END_OF_TURN, "</s>"], "max_gen_toks": 16384, "do_sample": False}
    assert config["generation_kwargs"] == generation
    assert config["num_fewshot"] == 0
    assert (config["dataset_path"], config["test_split"]) == ("TIGER-Lab/MMLU-Pro", "test")
    assert config["process_docs"] == "sor_paper_hooks.mmlu_pro_math_select_docs"  # keeps the math category
    assert "think_end_token" not in config  # the hook strips thinking, so raw responses stay logged
    gsm8k = yaml.safe_load((tmp_path / "sor_paper_gsm8k.yaml").read_text().replace("!function", ""))
    assert (gsm8k["dataset_path"], gsm8k["dataset_name"]) == ("openai/gsm8k", "main")
    write_paper_task_yamls(["gsm8k"], tmp_path, until=[END_OF_TURN], max_gen_toks=512)
    assert "max_gen_toks: 512" in (tmp_path / "sor_paper_gsm8k.yaml").read_text()
    with pytest.raises(ValueError, match="end-of-turn"):
        write_paper_task_yamls(["gsm8k"], tmp_path, until=[])


def test_local_files_replace_the_hub_with_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(FIXTURES)
    write_paper_task_yamls(["aime"], tmp_path, until=[END_OF_TURN], local_files={"aime": Path("aime.jsonl")})
    config = yaml.safe_load((tmp_path / "sor_paper_aime.yaml").read_text().replace("!function", ""))
    assert config["dataset_path"] == "json"
    assert config["dataset_kwargs"] == {"data_files": {"train": str(FIXTURES / "aime.jsonl")}}
    assert config["test_split"] == "train"


@pytest.mark.parametrize("name", sorted(KNOWN_BENCHMARKS))
def test_every_task_loads_offline_and_renders_a_zero_shot_boxed_prompt(loaded, name):
    _, _, tasks = loaded
    task = tasks[task_name(name)]
    doc = only_doc(task)
    prompt = task.doc_to_text(doc)
    assert CASES[name][0] in prompt
    assert task.fewshot_context(doc, 0).endswith(prompt)  # zero-shot: nothing but the question
    assert task.config.generation_kwargs["until"] == [END_OF_TURN]
    if name == "ifeval":
        assert "\\boxed" not in prompt  # IFEval's own format instructions rule
    else:
        assert "\\boxed{}" in prompt
    if name in MULTIPLE_CHOICE:
        assert "\nA. " in prompt and "\nB. " in prompt and "letter" in prompt


def test_multiple_choice_options_are_lettered_in_order(loaded):
    _, _, tasks = loaded
    prompt = tasks["sor_paper_aqua_rat"].doc_to_text(only_doc(tasks["sor_paper_aqua_rat"]))
    assert "A. 60\nB. 72\nC. 75\nD. 80\nE. 90" in prompt  # "A)60" lost its own letter
    prompt = tasks["sor_paper_winogrande"].doc_to_text(only_doc(tasks["sor_paper_winogrande"]))
    assert "A. trophy\nB. suitcase" in prompt


@pytest.mark.parametrize("name", sorted(KNOWN_BENCHMARKS))
def test_scores_right_wrong_unfinished_and_boxes_inside_the_think_block(loaded, name, monkeypatch):
    import nltk

    monkeypatch.setattr(nltk, "download", lambda *args, **kwargs: False)  # IFEval's import must not go online
    _, _, tasks = loaded
    task = tasks[task_name(name)]
    doc = only_doc(task)
    _, right, wrong = CASES[name]

    def score(response: str) -> float:
        return task.process_results(doc, [response])["score"]

    assert score(right) == 1.0
    assert score(f"<think>\nFirst guess: {wrong}. Let me check.\n</think>\n\n{right}") == 1.0
    assert score(f"<think>\nThe answer is surely {right}") == 0.0  # never closed: no final answer
    assert score(wrong) < (0.2 if name == "c_code_summarization" else 0.5)
    assert score(f"<think>\n{right}\n</think>\n\n{wrong}") < 0.5


def test_groups_run_one_family_or_all(loaded):
    folder, manager, _ = loaded
    math_oe = manager.load([group_name("math_oe")])
    assert set(math_oe["tasks"]) == {"sor_paper_gsm8k", "sor_paper_math_500", "sor_paper_aime"}
    every = manager.load([ALL_GROUP])
    assert set(every["tasks"]) == {task_name(name) for name in KNOWN_BENCHMARKS}
    group = yaml.safe_load((folder / f"_{group_name('extra_oe')}.yaml").read_text())
    unweighted_mean = {"metric": "score", "aggregation": "mean", "weight_by_size": False}
    assert group["aggregate_metric_list"] == [unweighted_mean]


def test_groups_hold_only_the_benchmarks_asked_for(tmp_path):
    write_paper_task_yamls(["gsm8k", "winogrande"], tmp_path, until=[END_OF_TURN])
    assert yaml.safe_load((tmp_path / "_sor_paper_math_oe.yaml").read_text())["task"] == ["sor_paper_gsm8k"]
    assert yaml.safe_load((tmp_path / "_sor_paper.yaml").read_text())["task"] == [
        "sor_paper_general_mc",
        "sor_paper_math_oe",
    ]
    assert not (tmp_path / "_sor_paper_extra_oe.yaml").exists()


def test_an_unknown_name_is_refused_with_the_known_ones_and_a_suggestion(tmp_path):
    with pytest.raises(UnknownBenchmark) as error:
        check_benchmarks(["gsm8k", "gsm8"])
    message = str(error.value)
    assert "'gsm8'" in message and "Did you mean 'gsm8k'?" in message
    assert all(name in message for name in KNOWN_BENCHMARKS)
    with pytest.raises(UnknownBenchmark, match="mmlu_pro_code"):
        write_paper_task_yamls(["mmlu_pro_cs"], tmp_path, until=[END_OF_TURN])
    with pytest.raises(UnknownBenchmark):
        misnamed = {"gsm8": FIXTURES / "gsm8k.jsonl"}
        write_paper_task_yamls(["gsm8k"], tmp_path, until=[END_OF_TURN], local_files=misnamed)
    check_benchmarks(list(KNOWN_BENCHMARKS))  # all known: no error


@pytest.mark.parametrize(
    "answer,value",
    [
        ("1,080", 1080.0),
        ("\\$18.00", 18.0),
        ("-0.5", -0.5),
        ("2.57 \\times 10^{11} \\mathrm{J}", 2.57e11),
        ("3e-4", 3e-4),
        ("\\frac{3}{4}", 0.75),
        ("-\\dfrac{1}{2}", -0.5),
        ("3/4", 0.75),
        ("18 \\text{ dollars}", 18.0),
        ("25\\%", 25.0),
        ("x + 1", None),
        ("3 and 4", None),
        ("", None),
    ],
)
def test_parse_number(answer, value):
    assert scoring.parse_number(answer) == value


@pytest.mark.parametrize(
    "answer,letter",
    [
        ("B", "B"),
        ("(b)", "B"),
        ("B.", "B"),
        ("\\text{B}", "B"),
        ("B) 72", "B"),
        ("\\textbf{(C)}", "C"),
        ("Bob", None),
        ("72", None),
    ],
)
def test_option_letter(answer, letter):
    assert scoring.option_letter(answer) == letter


def test_rules_of_the_open_ended_benchmarks():
    assert scoring.math_matches("\\left(3, \\frac{1}{2}\\right)", ["(3,\\frac12)"])
    assert not scoring.math_matches("3i", ["3"])  # a unit-like suffix is not dropped in maths
    assert scoring.number_matches("1080.00", ["1080"]) and not scoring.number_matches("108", ["1080"])
    assert scoring.relative_matches("104", ["100"]) and not scoring.relative_matches("106", ["100"])
    assert scoring.relative_matches("-0.98", ["-1"]) and not scoring.relative_matches("1", ["-1"])
    assert scoring.span_matches("The Denver Broncos!", ["Broncos", "Denver Broncos"])
    assert scoring.yes_no_matches("\\text{Yes.}", ["Yes"])
    assert not scoring.yes_no_matches("yesterday", ["Yes"])
    assert scoring.rouge_l("counts nodes in a linked list", ["Count the nodes of a linked list."]) > 0.5


def test_scibench_states_the_unit_without_its_power_of_ten_and_scales_the_reference():
    from scale_or_reason.evaluation.benchmarks import reference_answers, scibench_prompt

    doc = {"problem_text": "How much energy?", "answer_number": "2.57", "unit": "$10^{11} \\mathrm{~J}$ "}
    assert scibench_prompt(doc).startswith("How much energy? The unit of the answer is $\\mathrm{~J}$.")
    assert float(reference_answers("scibench", doc)[0]) == pytest.approx(2.57e11)
    plain = {"problem_text": "How far?", "answer_number": "210", "unit": "$\\mathrm{~m}$"}
    assert float(reference_answers("scibench", plain)[0]) == 210.0
    assert "unit" not in scibench_prompt({"problem_text": "Ratio?", "answer_number": "0.5", "unit": " "})


def test_the_registry_defines_exactly_the_benchmarks_the_parameters_accept():
    """Parameters validate names against `families.PAPER_BENCHMARK_GROUPS`; the registry here says how
    to ask and score each one: the two must name the same 18 benchmarks."""
    assert set(KNOWN_BENCHMARKS) == set(PAPER_BENCHMARK_GROUPS)
    assert len(KNOWN_BENCHMARKS) == 18
