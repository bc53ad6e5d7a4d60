"""A study's own lm-eval task (a YAML task in a folder of its own): run with the student's stop and
cap, its data found beside its YAML, scored by its own metric on the answer after the think block,
with the raw response kept; a task lm-eval does not know is a one-line error."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml
from lm_eval.api.model import LM

from conftest import REPO, SMOKE, run_sor
from scale_or_reason import units
from scale_or_reason.cli import main
from scale_or_reason.config.params import ParametersError, load_study, parse_study
from scale_or_reason.data.tokenizer import TURN_END
from scale_or_reason.evaluation import evaluate
from scale_or_reason.evaluation.custom_tasks import (
    ThinkStripped,
    scored_samples,
    task_yaml,
    write_custom_task,
)

OWN_TASKS = REPO / "tests" / "fixtures" / "own_tasks"


def study_with_task(tmp_path, **task):
    data = yaml.safe_load(SMOKE.read_text())
    folder = tmp_path / "my-tasks"
    if not folder.exists():
        shutil.copytree(OWN_TASKS, folder)  # a folder elsewhere, as a user's would be
    entry = {"name": "doubling", "task": "doubling", "include_path": str(folder), "group": "math_oe", **task}
    data["benchmarks"] = [data["benchmarks"][0], entry]
    return parse_study(data, "own-task")


class Student(LM):
    """Answers every other question right after a closed think block (a wrong guess inside it),
    and leaves the block open on the rest; records the generation settings it was asked for."""

    def __init__(self):
        super().__init__()
        self.settings = []

    def generate_until(self, requests, disable_tqdm=False):
        answers = []
        for request in requests:
            prompt, settings = request.args
            self.settings.append(settings)
            number = int(prompt.split("twice ")[1].split("?")[0]) if "twice" in prompt else 0
            # A wrong boxed guess inside the trace: scored unstripped, the task's regex would take it.
            closed = f"<think>\nnot \\boxed{{{number}}}\n</think>\n\n\\boxed{{{2 * number}}}"
            answers.append(closed if request.doc_id % 2 == 0 else "<think>\nstill thinking")
        return answers

    tokenizer_name = "student"

    def apply_chat_template(self, chat_history, add_generation_prompt=True):
        return chat_history[-1]["content"]

    def loglikelihood(self, requests):
        raise NotImplementedError

    def loglikelihood_rolling(self, requests):
        raise NotImplementedError


def test_a_task_of_ones_own_is_scored_by_its_metric_on_the_answer_after_the_trace(tmp_path):
    study = study_with_task(tmp_path)
    (benchmark,) = [b for b in study.benchmarks if b.is_task]
    unit = tmp_path / "unit"
    name = write_custom_task(benchmark, unit / "tasks", [TURN_END], 48)
    student = Student()
    stripped = ThinkStripped(student, {name})
    results = evaluate.run_lm_eval(study, student, unit / "tasks", [name])
    assert {tuple(s["until"]) for s in student.settings} == {(TURN_END,)}  # not the task's blank line
    assert {s["max_gen_toks"] for s in student.settings} == {48}
    samples, metric = scored_samples(results["samples"][name])
    assert metric == "exact_match" and len(samples) == 6  # its data found beside its YAML
    scores = {s["doc_id"]: s[metric] for s in samples}
    assert scores == {i: float(i % 2 == 0) for i in range(6)}  # right after the trace; open block: 0
    raw = stripped.with_raw_responses(name, samples)
    assert all(s["resps"][0][0].startswith("<think>") for s in raw)  # the unit keeps the trace


def test_a_task_lm_eval_does_not_know_or_a_folder_without_tasks_is_one_line(tmp_path, capsys):
    with pytest.raises(ParametersError, match=r"benchmarks.doubling.task: no lm-eval task 'halving' in "):
        task_yaml(next(b for b in study_with_task(tmp_path, task="halving").benchmarks if b.is_task))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ParametersError, match=r"benchmarks.doubling.include_path: no task YAML in"):
        task_yaml(next(b for b in study_with_task(tmp_path, include_path=str(empty)).benchmarks if b.is_task))
    file = tmp_path / "own.yaml"
    data = study_with_task(tmp_path, task="halving").model_dump(mode="json", exclude_none=True)
    file.write_text(yaml.safe_dump(data))
    assert main(["check", str(file)]) == 2
    assert capsys.readouterr().err.strip().startswith("error: benchmarks.doubling.task: no lm-eval task")


def test_a_task_benchmark_names_its_panel_and_no_family(tmp_path):
    with pytest.raises(ParametersError, match="names its `group`"):
        study_with_task(tmp_path, group=None)
    with pytest.raises(ParametersError, match="is one of the paper's benchmarks"):
        study_with_task(tmp_path, name="gsm8k")
    assert study_with_task(tmp_path, group="arithmetic").benchmarks[1].family_or_group == "arithmetic"
    assert load_study(SMOKE).benchmarks[0].is_synthetic


@pytest.mark.slow
def test_the_own_question_example_runs_end_to_end(isolated_runs):
    example = REPO / "examples" / "own-question" / "own-question.yaml"
    finished = run_sor(
        "study", str(example), "--set", "seeds=[0]", runs_dir=isolated_runs
    )  # one seed: quicker
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    study = load_study(example, ["seeds=[0]"])
    metrics = pd.read_csv(units.eval_dir(study, "medium", "reasoning", 0) / "metrics.csv").iloc[0]
    assert (metrics["benchmark"], metrics["family"], metrics["metric"], metrics["n"]) == (
        "doubling", "math_oe", "exact_match", 60
    )  # fmt: skip
    summary = (units.study_dir(study) / "summary.md").read_text()
    assert "reasoning beats IFT in" in summary and "| doubling" in summary
