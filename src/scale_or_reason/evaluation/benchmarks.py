"""The paper's 18 benchmarks as lm-eval tasks, for the paper-scale (GPU) tier.

    from scale_or_reason.evaluation.benchmarks import KNOWN_BENCHMARKS, write_paper_task_yamls
    names = write_paper_task_yamls(["gsm8k", "aime"], folder, until=["<|im_end|>"])
    # lm-eval: TaskManager(include_path=str(folder)), tasks=names or tasks=["sor_paper_math_oe"]

Every benchmark is a `Benchmark`: its hub dataset (path, config, split), how a document becomes the
prompt and the reference answers, and the rule that scores a response. As in the paper, prompts
are zero-shot: the question (lettered options for multiple-choice) and an instruction to put the
final answer in `\\boxed{}` (the letter, for multiple-choice). Multiple-choice is generative
(`generate_until`, scored from the generated letter, never from option log-likelihoods), so a
reasoning student can think before it chooses.

Scoring happens in the task's `process_results` hook, not through lm-eval's `think_end_token`
(which strips the logged responses, DESIGN §4): the hook takes the last `\\boxed{}` after a closed
think block (an unclosed block scores 0, a box inside the block does not count) and compares it
with the rule of `scoring.py`. IFEval applies lm-eval's own instruction checks to the text after
the think block. Every task reports one metric, `score`: the share of right answers, except for C
code summarization, where it is the mean ROUGE-L F1. The paper scores every benchmark with a jury
of three LLM judges (majority vote, `jury.py`); these rules are the default that runs anywhere.

Groups: `sor_paper_<group>` runs one family (`general_mc`, `general_oe`, `math_mc`, `math_oe`,
`extra_mc`, `extra_oe`; the unweighted mean of its benchmarks' scores), `sor_paper` runs all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..config.families import PAPER_BENCHMARK_GROUPS, PAPER_GROUPS, check_paper_benchmarks
from ..core.answers import BOXED_INSTRUCTION, final_answer
from ..core.thinking import after_thinking
from . import scoring
from .lm_eval_tasks import TASK_PREFIX, generation_task, local_dataset, write_task_yaml

PAPER_PREFIX = TASK_PREFIX + "paper_"
HOOKS_MODULE = "sor_paper_hooks"
ALL_GROUP = "sor_paper"
METRIC = "score"
LETTERS = "ABCDEFGHIJ"
MC_INSTRUCTION = (
    "Answer with the letter of the correct option. Put the final answer (the letter only) in \\boxed{}."
)

# MMLU's mathematics subjects (the paper's "mmlu-math").
MMLU_MATH_SUBJECTS = (
    "abstract_algebra",
    "college_mathematics",
    "elementary_mathematics",
    "high_school_mathematics",
    "high_school_statistics",
)

# Which scoring rule a benchmark uses: (extracted boxed answer, references) -> score in [0, 1].
RULES: dict[str, Callable[[str, list[str]], float]] = {
    "letter": scoring.letter_matches,
    "number": scoring.number_matches,
    "math": scoring.math_matches,
    "span": scoring.span_matches,
    "yes_no": scoring.yes_no_matches,
    "relative_5pct": scoring.relative_matches,
    "rouge_l": scoring.rouge_l,
}
INSTRUCTIONS_RULE = "ifeval"  # scored on the text after the think block, no box needed


@dataclass(frozen=True)
class Benchmark:
    name: str
    dataset_path: str
    dataset_name: str | None
    split: str
    prompt: Callable[[dict], str]  # document -> user message
    references: Callable[[dict], list[str]]  # document -> acceptable answers (first = canonical)
    rule: str  # a key of RULES, or INSTRUCTIONS_RULE
    keep: Callable[[dict], bool] | None = None  # which documents of the split belong to it

    @property
    def group(self) -> str:
        return PAPER_BENCHMARK_GROUPS[self.name]


# --- prompts ---------------------------------------------------------------------------------


def lettered(options: list[str]) -> str:
    return "\n".join(f"{letter}. {option.strip()}" for letter, option in zip(LETTERS, options, strict=False))


def multiple_choice(question: str, options: list[str]) -> str:
    return f"{question.strip()}\n\n{lettered(options)}\n\n{MC_INSTRUCTION}"


def open_ended(question: str, instruction: str = BOXED_INSTRUCTION) -> str:
    return f"{question.strip()}\n\n{instruction}"


def winogrande_prompt(doc: dict) -> str:
    question = f"Which option fills the blank (_) in this sentence?\n\n{doc['sentence']}"
    return multiple_choice(question, [doc["option1"], doc["option2"]])


def openbookqa_prompt(doc: dict) -> str:
    return multiple_choice(doc["question_stem"], doc["choices"]["text"])


def mmlu_prompt(doc: dict) -> str:
    return multiple_choice(doc["question"], doc["choices"])


def mmlu_pro_prompt(doc: dict) -> str:
    return multiple_choice(doc["question"], doc["options"])


def aqua_rat_prompt(doc: dict) -> str:
    # Options come as "A)21"; the prompt re-letters them like every other benchmark.
    options = [re.sub(r"^\s*[A-E]\s*\)", "", option) for option in doc["options"]]
    return multiple_choice(doc["question"], options)


def squad_prompt(doc: dict) -> str:
    question = f"Passage:\n{doc['context'].strip()}\n\nQuestion: {doc['question'].strip()}"
    return open_ended(question, "Answer with a short span copied from the passage. " + BOXED_INSTRUCTION)


def coqa_prompt(doc: dict) -> str:
    # The whole conversation but the last answer, as lm-eval's coqa task does.
    questions, answers = doc["questions"]["input_text"], doc["answers"]["input_text"]
    turns = [f"Q: {question}\nA: {answer}" for question, answer in zip(questions[:-1], answers, strict=False)]
    conversation = "\n\n".join([doc["story"].strip(), *turns, f"Q: {questions[-1]}"])
    return open_ended(conversation, "Answer the last question briefly, from the story. " + BOXED_INSTRUCTION)


def ifeval_prompt(doc: dict) -> str:
    return doc["prompt"]  # its own format instructions; a box would contradict some of them


def gsm8k_prompt(doc: dict) -> str:
    return open_ended(doc["question"])


def math500_prompt(doc: dict) -> str:
    return open_ended(doc["problem"])


def aime_prompt(doc: dict) -> str:
    return open_ended(doc["Question"])


def consumer_qa_prompt(doc: dict) -> str:
    question = f"Contract:\n{doc['contract'].strip()}\n\nQuestion: {doc['question'].strip()}"
    return open_ended(question, "Answer Yes or No. Put the final answer (Yes or No) in \\boxed{}.")


def code_summary_prompt(doc: dict) -> str:
    question = f"Summarize in one sentence what this C function does.\n\n```c\n{doc['code'].strip()}\n```"
    return open_ended(question, "Put the one-sentence summary in \\boxed{}.")


# --- SciBench units ---------------------------------------------------------------------------
# A unit such as "$10^{11} \mathrm{~J}$" means the stored number is in units of 10^11 J. As in
# SciBench's own evaluation, the prompt names the unit without the power of ten and the
# reference is scaled by it, so the student answers the plain quantity.

POWER_OF_TEN = re.compile(r"10\s*\^\s*\{?\s*(-?\d+)\s*\}?")


def scibench_unit(doc: dict) -> tuple[str, int]:
    """(unit without its power of ten, that power)."""
    unit = doc["unit"].replace("$", "").strip()
    match = POWER_OF_TEN.search(unit)
    if not match:
        return unit, 0
    return POWER_OF_TEN.sub("", unit, count=1).strip(), int(match.group(1))


def scibench_prompt(doc: dict) -> str:
    unit, _ = scibench_unit(doc)
    stated_unit = f" The unit of the answer is ${unit}$." if unit else ""
    question = doc["problem_text"].strip() + stated_unit
    return open_ended(question, "Put the final answer, a number, in \\boxed{}.")


def scibench_references(doc: dict) -> list[str]:
    _, power = scibench_unit(doc)
    return [repr(scoring.times_power_of_ten(float(doc["answer_number"]), power))]


# --- references --------------------------------------------------------------------------------


def winogrande_references(doc: dict) -> list[str]:
    return [LETTERS[int(doc["answer"]) - 1]]


def openbookqa_references(doc: dict) -> list[str]:
    return [LETTERS[doc["choices"]["label"].index(doc["answerKey"].strip())]]


def mmlu_references(doc: dict) -> list[str]:
    return [LETTERS[int(doc["answer"])]]


def mmlu_pro_references(doc: dict) -> list[str]:
    return [doc["answer"]]


def aqua_rat_references(doc: dict) -> list[str]:
    return [doc["correct"].strip()]


def squad_references(doc: dict) -> list[str]:
    return list(doc["answers"]["text"])


def coqa_references(doc: dict) -> list[str]:
    # lm-eval's coqa: the last turn's answer, then the other annotators' answers to that turn.
    turn = len(doc["questions"]["input_text"]) - 1
    references = [doc["answers"]["input_text"][turn]]
    for other in (doc.get("additional_answers") or {}).values():
        if other and other["input_text"][turn].lower() not in map(str.lower, references):
            references.append(other["input_text"][turn])
    return references


def gsm8k_references(doc: dict) -> list[str]:
    return [doc["answer"].split("####")[-1].strip().replace(",", "")]


def field_reference(field: str) -> Callable[[dict], list[str]]:
    return lambda doc: [str(doc[field]).strip()]


def no_references(doc: dict) -> list[str]:
    return []  # IFEval checks instructions, not an answer


def in_category(category: str) -> Callable[[dict], bool]:
    return lambda doc: doc["category"] == category


def mmlu_pro(name: str, category: str) -> Benchmark:
    return Benchmark(
        name,
        "TIGER-Lab/MMLU-Pro",
        None,
        "test",
        mmlu_pro_prompt,
        mmlu_pro_references,
        "letter",
        keep=in_category(category),
    )


BENCHMARKS = (
    # general, multiple-choice. WinoGrande's test labels are hidden: the validation split is the
    # one everybody reports (lm-eval too).
    Benchmark(
        "winogrande",
        "allenai/winogrande",
        "winogrande_xl",
        "validation",
        winogrande_prompt,
        winogrande_references,
        "letter",
    ),
    Benchmark(
        "openbookqa", "allenai/openbookqa", "main", "test", openbookqa_prompt, openbookqa_references, "letter"
    ),
    Benchmark(
        "mmlu_miscellaneous", "cais/mmlu", "miscellaneous", "test", mmlu_prompt, mmlu_references, "letter"
    ),
    # general, open-ended. SQuAD v1.1 (every question has an answer in the passage).
    Benchmark("squad", "rajpurkar/squad", "plain_text", "validation", squad_prompt, squad_references, "span"),
    Benchmark("coqa", "EleutherAI/coqa", None, "validation", coqa_prompt, coqa_references, "span"),
    Benchmark("ifeval", "google/IFEval", None, "train", ifeval_prompt, no_references, INSTRUCTIONS_RULE),
    # math, multiple-choice
    Benchmark("aqua_rat", "deepmind/aqua_rat", "raw", "test", aqua_rat_prompt, aqua_rat_references, "letter"),
    Benchmark(
        "mmlu_math",
        "cais/mmlu",
        "all",
        "test",
        mmlu_prompt,
        mmlu_references,
        "letter",
        keep=lambda doc: doc["subject"] in MMLU_MATH_SUBJECTS,
    ),
    mmlu_pro("mmlu_pro_math", "math"),
    # math, open-ended. AIME: lm-eval's `aime` set (every AIME problem 1983-2024, 933 of them),
    # for a less noisy score than one year's 30 problems.
    Benchmark("gsm8k", "openai/gsm8k", "main", "test", gsm8k_prompt, gsm8k_references, "number"),
    Benchmark(
        "math_500", "HuggingFaceH4/MATH-500", None, "test", math500_prompt, field_reference("answer"), "math"
    ),
    Benchmark(
        "aime", "gneubig/aime-1983-2024", None, "train", aime_prompt, field_reference("Answer"), "math"
    ),
    # extra, multiple-choice. The paper's "code" is MMLU-Pro's "computer science" category.
    mmlu_pro("mmlu_pro_law", "law"),
    mmlu_pro("mmlu_pro_code", "computer science"),
    mmlu_pro("mmlu_pro_physics", "physics"),
    # extra, open-ended.
    Benchmark(
        "consumer_qa",
        "nguha/legalbench",
        "consumer_contracts_qa",
        "test",
        consumer_qa_prompt,
        field_reference("answer"),
        "yes_no",
    ),
    # C functions with summaries: The Vault (Fsoft-AIC), function level, C subset, test split:
    # C functions from GitHub with the first line of their doc comment (`short_docstring`) as the
    # summary and the comment removed from `code`. CodeXGLUE's code-to-text has no C; the
    # original Fsoft-AIC/the-vault-function loads through a script that datasets 5 no longer
    # runs, so this is its parquet mirror, same columns.
    Benchmark(
        "c_code_summarization",
        "iNeil77/the-vault-function",
        "c",
        "test",
        code_summary_prompt,
        field_reference("short_docstring"),
        "rouge_l",
    ),
    # SciBench's textbook problems (all ten textbooks, one split).
    Benchmark(
        "scibench", "xw27/scibench", None, "train", scibench_prompt, scibench_references, "relative_5pct"
    ),
)
KNOWN_BENCHMARKS: dict[str, Benchmark] = {benchmark.name: benchmark for benchmark in BENCHMARKS}


# --- lm-eval hooks (the generated hooks module binds each to a benchmark name) ---------------


def prompt_text(name: str, doc: dict) -> str:
    return KNOWN_BENCHMARKS[name].prompt(doc)


def reference_answers(name: str, doc: dict) -> list[str]:
    return KNOWN_BENCHMARKS[name].references(doc)


def reference_text(name: str, doc: dict) -> str:
    """The canonical reference, for logs and for the jury ("" for IFEval)."""
    return next(iter(reference_answers(name, doc)), "")


def select_docs(name: str, dataset):
    return dataset.filter(KNOWN_BENCHMARKS[name].keep)


def score(name: str, doc: dict, response: str) -> float:
    """A raw response's score: 0 when the think block is left open or there is no boxed answer."""
    benchmark = KNOWN_BENCHMARKS[name]
    if benchmark.rule == INSTRUCTIONS_RULE:
        answer_part = after_thinking(response)
        return 0.0 if answer_part is None else scoring.follows_instructions(doc, answer_part)
    answer = final_answer(response)
    return 0.0 if answer is None else RULES[benchmark.rule](answer, benchmark.references(doc))


def process_results(name: str, doc: dict, results: list[str]) -> dict[str, float]:
    return {"score": score(name, doc, results[0])}


# --- task YAMLs ----------------------------------------------------------------------------------


def task_name(name: str) -> str:
    return PAPER_PREFIX + name


def group_name(group: str) -> str:
    return PAPER_PREFIX + group


def task_config(benchmark: Benchmark, until: list[str], max_gen_toks: int, local_file: Path | None) -> dict:
    """Documents from the hub, or from a local jsonl/parquet in the hub's schema."""
    if local_file is None:
        dataset = {"dataset_path": benchmark.dataset_path, "dataset_name": benchmark.dataset_name}
    else:
        dataset = local_dataset(benchmark.split, local_file)
    metadata = {"benchmark": benchmark.name, "group": benchmark.group, "rule": benchmark.rule}
    return generation_task(
        task_name(benchmark.name), dataset, benchmark.split, METRIC, until, max_gen_toks, metadata=metadata
    )


def hooks_of(benchmark: Benchmark) -> dict[str, str]:
    """YAML key -> the function of this module that its hook binds to the benchmark."""
    hooks = {
        "doc_to_text": "prompt_text",
        "doc_to_target": "reference_text",
        "process_results": "process_results",
    }
    if benchmark.keep is not None:
        hooks["process_docs"] = "select_docs"
    return hooks


def hook_name(benchmark: Benchmark, function: str) -> str:
    return f"{benchmark.name}_{function}"


def hooks_module(benchmarks: list[Benchmark]) -> str:
    lines = [
        '"""lm-eval hooks of the paper\'s benchmarks, written by scale_or_reason.evaluation.benchmarks."""',
        "from functools import partial",
        "",
        "from scale_or_reason.evaluation import benchmarks",
        "",
    ]
    for benchmark in benchmarks:
        for function in hooks_of(benchmark).values():
            hook = hook_name(benchmark, function)
            lines.append(f"{hook} = partial(benchmarks.{function}, {benchmark.name!r})")
    return "\n".join(lines) + "\n"


def write_group_yaml(folder: Path, group: str, members: list[str]) -> None:
    config = {
        "group": group,
        "task": members,
        # The paper averages benchmarks, not documents: a 30-problem set counts as much as MMLU.
        "aggregate_metric_list": [{"metric": METRIC, "aggregation": "mean", "weight_by_size": False}],
        "metadata": {"version": 1.0},
    }
    (folder / f"_{group}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def write_paper_task_yamls(
    names: list[str],
    folder: Path,
    *,
    until: list[str],
    max_gen_toks: int = 16384,
    local_files: dict[str, Path] | None = None,
) -> list[str]:
    """Task YAMLs for `names`, their group YAMLs and hooks module; returns the task names.

    `until` must hold the student's end-of-turn string (lm-eval otherwise stops at a blank line,
    DESIGN §4). `local_files` maps a benchmark to a jsonl/parquet file in its hub schema that
    replaces the hub dataset (offline use, tests). Generation is greedy.
    """
    local_files = {name: Path(path) for name, path in (local_files or {}).items()}
    check_paper_benchmarks(names)
    check_paper_benchmarks(list(local_files))
    selected = [KNOWN_BENCHMARKS[name] for name in dict.fromkeys(names)]
    configs = [task_config(b, until, max_gen_toks, local_files.get(b.name)) for b in selected]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{HOOKS_MODULE}.py").write_text(hooks_module(selected))
    for benchmark, config in zip(selected, configs, strict=True):
        hooks = {
            key: f"{HOOKS_MODULE}.{hook_name(benchmark, function)}"
            for key, function in hooks_of(benchmark).items()
        }
        write_task_yaml(folder / f"{config['task']}.yaml", config, hooks)
    families = [group for group in PAPER_GROUPS if any(b.group == group for b in selected)]
    for group in families:
        write_group_yaml(folder, group_name(group), [task_name(b.name) for b in selected if b.group == group])
    if families:
        write_group_yaml(folder, ALL_GROUP, [group_name(group) for group in families])
    return [task_name(benchmark.name) for benchmark in selected]
