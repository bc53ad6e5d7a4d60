"""Stage 3: evaluate one trained student with lm-eval on the study's benchmarks.

    papermill notebooks/03_evaluate.ipynb out.ipynb -p parameters_file parameters/embedded.yaml \\
        -p scale xs -p recipe reasoning
    # or, without Jupyter:
    python -m scale_or_reason.evaluation.evaluate parameters/embedded.yaml xs ift
    # several processes, each generating a share of every benchmark (what `03_evaluate` runs when
    # `evaluation.processes` > 1, the hf backend):
    accelerate launch --config_file parameters/accelerate/ddp.yaml --num_processes 8 \\
        -m scale_or_reason.evaluation.evaluate parameters/paper.yaml 7b reasoning

Every benchmark becomes an lm-eval task YAML written for the local files (`tasks/`): zero-shot,
generative for multiple-choice too, greedy, stopped at the end-of-turn token with a generation cap
that covers the longest teacher trace. Raw responses are kept (`samples/<benchmark>.jsonl`) and
scored by the final answer (`core.answers`: the last `\\boxed{}` after a closed think block) and the
benchmark's rule (`scoring.py`). Per benchmark,
`metrics.csv` holds accuracy, generated-token counts and inference FLOPs per item (paper formula
and exact count). `lm_eval_settings.json` records how lm-eval ran (model arguments with
`enable_thinking`, tasks, include path, batch size, seed) and `lm_eval_command.sh` reruns it with
lm-eval's own CLI from the unit's folder, to the same accuracies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import torch
from accelerate import Accelerator
from lm_eval import simple_evaluate
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
from transformers import AutoModelForCausalLM

from .. import units
from ..config import paths
from ..config.params import StudyParams, load_study, packaged_accelerate_config
from ..core import files, flops, launch
from ..core.answers import final_answer, is_correct
from ..core.hub import load_from_hub_or_folder, load_tokenizer
from ..core.model_configs import load_config
from ..data.pool import POOL_TASK, QUESTIONS_FILE, SOLVED_FILE
from ..data.tokenizer import TURN_END, count_tokens
from . import benchmarks
from .custom_tasks import ThinkStripped, scored_samples, write_custom_task
from .lm_eval_tasks import TASK_PREFIX, generation_task, local_dataset, write_task_yaml
from .scoring import SYNTHETIC_METRIC

HOOKS_MODULE = "sor_hooks"
GENERATION_MARGIN = 1.25  # room beyond the longest teacher trace, for students that ramble
PAPER_MAX_GEN_TOKS = 16384
LM_EVAL_SCRIPT = "lm_eval_command.sh"
LAUNCHED_MODULE = "scale_or_reason.evaluation.evaluate"  # what `accelerate launch` runs in each process
DATA_PARALLEL_CONFIG = "ddp"  # the packaged launch config of several evaluation processes


def max_gen_toks(study: StudyParams, data_folder: Path) -> int:
    """The generation cap: the parameter; else the longest teacher answer in the synthetic
    benchmarks + 25%; else (the paper's benchmarks only) the paper's 16,384 tokens."""
    if study.evaluation.max_gen_toks is not None:
        return study.evaluation.max_gen_toks
    if not any(b.is_synthetic for b in study.benchmarks):
        return PAPER_MAX_GEN_TOKS
    stats = pd.read_csv(data_folder / "token_stats.csv")
    longest = stats.loc[stats["table"] != "train", "reasoning_tokens_max"].max()
    return int(longest * GENERATION_MARGIN) + 8


def task_config(name: str, data_file: Path, max_tokens: int, unit_folder: Path) -> dict:
    # Column names, not Jinja templates: lm-eval would compile a template for every request.
    templates = {"doc_to_text": "prompt", "doc_to_target": "answer"}
    dataset = local_dataset("test", data_file, relative_to=unit_folder)
    return generation_task(
        TASK_PREFIX + name, dataset, "test", SYNTHETIC_METRIC, [TURN_END], max_tokens, templates
    )


def write_task_yamls(
    study: StudyParams, data_folder: Path, tasks_folder: Path, max_tokens: int
) -> dict[str, str]:
    """One task YAML per benchmark (and the module their `!function` hooks point to); returns the
    lm-eval task name of each benchmark."""
    tasks_folder.mkdir(parents=True, exist_ok=True)
    (tasks_folder / f"{HOOKS_MODULE}.py").write_text(
        "from scale_or_reason.evaluation.scoring import process_results  # noqa: F401\n"
    )
    names = {}
    for benchmark in [b for b in study.benchmarks if b.is_synthetic]:
        data_file = data_folder / "benchmarks" / f"{benchmark.name}.jsonl"
        names[benchmark.name] = write_synthetic_task(benchmark.name, data_file, tasks_folder, max_tokens)
    for benchmark in [b for b in study.benchmarks if b.is_task]:
        names[benchmark.name] = write_custom_task(benchmark, tasks_folder, [TURN_END], max_tokens)
    paper = [b.name for b in study.benchmarks if b.is_paper]
    if paper:
        written = benchmarks.write_paper_task_yamls(
            paper, tasks_folder, until=[TURN_END], max_gen_toks=max_tokens
        )
        names.update(zip(paper, written, strict=True))
    return names


def write_synthetic_task(name: str, data_file: Path, tasks_folder: Path, max_tokens: int) -> str:
    """One task YAML scored by `scoring.process_results`, its data named relative to the unit's
    folder (the tasks folder's parent); returns its lm-eval task name."""
    config = task_config(name, data_file, max_tokens, tasks_folder.parent)
    write_task_yaml(
        tasks_folder / f"{name}.yaml", config, {"process_results": f"{HOOKS_MODULE}.process_results"}
    )
    return config["task"]


def lm_eval_model(study: StudyParams, model_folder: str | Path, recipe: str):
    """lm-eval's model: transformers in this process, or vLLM (tensor parallel) for large students."""
    # IFT students were trained after an empty think block: evaluate them with thinking off.
    chat_template_args = {"enable_thinking": False} if recipe == "ift" else None
    evaluation = study.evaluation
    if evaluation.backend == "vllm":
        try:
            from lm_eval.models.vllm_causallms import VLLM

            return VLLM(
                pretrained=str(model_folder),
                tensor_parallel_size=evaluation.tensor_parallel_size,
                batch_size="auto",
                seed=study.seed,
                trust_remote_code=study.trust_remote_code,
                chat_template_args=chat_template_args,
            )
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                f"evaluation.backend: vllm needs vLLM installed (`pip install vllm`): {error}"
            ) from None
    tokenizer = load_tokenizer(model_folder, trust_remote_code=study.trust_remote_code)
    model = load_from_hub_or_folder(
        AutoModelForCausalLM,
        str(model_folder),
        use_safetensors=True,
        trust_remote_code=study.trust_remote_code,
        dtype=torch.bfloat16 if study.training.bf16 and torch.cuda.is_available() else torch.float32,
    ).eval()
    # Without CUDA, accelerate joins the launched processes only when told they are CPU ones (gloo).
    gpus = torch.cuda.is_available()
    accelerator = Accelerator(cpu=not gpus) if launch.world_size() > 1 else None
    device = accelerator.device if accelerator else "cuda" if gpus else "cpu"
    # HFLM warns twice that it was given a loaded model rather than a name: deliberate here (our
    # dtype and offline errors; its data parallel set below), so those warnings stay out of the notebook.
    hf_logger = logging.getLogger(HFLM.__module__)
    level = hf_logger.level
    hf_logger.setLevel(logging.ERROR)
    try:
        lm = HFLM(
            pretrained=model,
            tokenizer=tokenizer,
            device=str(device),
            batch_size=evaluation.batch_size,
            chat_template_args=chat_template_args,
        )
    finally:
        hf_logger.setLevel(level)
    if accelerator:
        data_parallel(lm, accelerator)
    return lm


def data_parallel(lm: HFLM, accelerator: Accelerator) -> None:
    """lm-eval's own data parallel for a loaded model under `accelerate launch`: each process
    generates a share of every task's requests and the first gathers the logged samples. HFLM
    turns it on only for a model it loads itself on several CUDA-like devices, so CPU processes
    (gloo) and our loaded students get it here."""
    lm.accelerator = accelerator
    lm._rank = accelerator.process_index
    lm._world_size = accelerator.num_processes


def lm_eval_settings(
    study: StudyParams, folder: Path, model: str, recipe: str, task_names: list[str]
) -> dict:
    """What lm-eval is run with for this unit, as its own CLI takes it; paths relative to the
    unit's folder, where the command runs."""
    evaluation = study.evaluation
    local = Path(model).exists()
    model_args = {"pretrained": os.path.relpath(model, folder) if local else model}
    if evaluation.backend == "vllm":
        model_args.update(tensor_parallel_size=evaluation.tensor_parallel_size, seed=study.seed)
    else:
        bf16 = study.training.bf16 and torch.cuda.is_available()
        model_args["dtype"] = "bfloat16" if bf16 else "float32"
    if recipe == "ift":  # trained after an empty think block: evaluated with thinking off
        model_args["enable_thinking"] = False
    if study.trust_remote_code:
        model_args["trust_remote_code"] = True
    return {
        "model": evaluation.backend,
        "model_args": model_args,
        "tasks": task_names,
        "include_path": "tasks",
        "apply_chat_template": True,
        "batch_size": "auto" if evaluation.backend == "vllm" else evaluation.batch_size,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "seed": study.seed,
        "limit": evaluation.limit,
        "lm_eval_version": version("lm-eval"),
    }


def lm_eval_command(settings: dict) -> str:
    """A shell script that reruns the unit's evaluation with lm-eval's CLI from the unit's folder;
    its `final_boxed_answer_correct` (or `score`) per task is the unit's accuracy."""
    model_args = ",".join(f"{key}={value}" for key, value in settings["model_args"].items())
    arguments = [
        f"--model {settings['model']}",
        f"--model_args {shlex.quote(model_args)}",
        f"--tasks {','.join(settings['tasks'])}",
        f"--include_path {settings['include_path']}",
        "--apply_chat_template",
        f"--batch_size {settings['batch_size']}",
        f"--device {settings['device']}",
        f"--seed {settings['seed']}",
        *([f"--limit {settings['limit']}"] if settings["limit"] else []),
        "--log_samples",
        "--output_path lm_eval_cli",
    ]
    return "\n".join(
        [
            "#!/usr/bin/env bash",
            "# This unit's evaluation through lm-eval's own CLI (written by scale_or_reason; paths are",
            "# relative to this folder, so a copied runs folder still evaluates). Results: lm_eval_cli/.",
            "set -euo pipefail",
            'cd "$(dirname "$0")"',
            "lm_eval " + " \\\n    ".join(arguments),
            "",
        ]
    )


def write_lm_eval_command(folder: Path, settings: dict) -> None:
    files.write_json(folder / "lm_eval_settings.json", settings)
    script = folder / LM_EVAL_SCRIPT
    files.write_text(script, lm_eval_command(settings))
    script.chmod(0o755)


def paper_scoring(name: str) -> dict:
    """A paper benchmark's scorer and reference, read from its raw hub document."""
    return {
        "score": lambda sample, response: benchmarks.score(name, sample["doc"], response),
        "reference": lambda sample: benchmarks.reference_text(name, sample["doc"]),
    }


@contextlib.contextmanager
def toolkit_git_for_lm_eval():
    """lm-eval records `git describe` of its working directory, a unit folder that may lie outside
    any repository (git then prints "fatal: not a git repository" into the notebook): point git at
    the toolkit's checkout, which records the code that scored the run."""
    git_dir = paths.toolkit_git_dir()
    before = os.environ.get("GIT_DIR")
    if git_dir is not None:
        os.environ["GIT_DIR"] = str(git_dir)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("GIT_DIR", None)
        else:
            os.environ["GIT_DIR"] = before


class GenerationClock:
    """Installed as `lm.generate_until`, which lm-eval calls for every generative task: the
    seconds spent generating, apart from lm-eval's set-up and scoring (a unit's fixed cost)."""

    def __init__(self, lm):
        self.seconds = 0.0
        self.generate = lm.generate_until
        lm.generate_until = self

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.generate(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def registered_tasks(study: StudyParams) -> bool:
    """Whether a benchmark names a task of lm-eval's own (no `include_path`)."""
    return any(b.is_task and b.include_path is None for b in study.benchmarks)


def run_lm_eval(study: StudyParams, lm, tasks_folder: Path, task_names: list[str]) -> dict:
    """lm-eval on the task YAMLs in `tasks_folder`, run from its parent: where their relative data
    paths start."""
    tasks_folder = tasks_folder.resolve()
    with contextlib.chdir(tasks_folder.parent), toolkit_git_for_lm_eval():
        return simple_evaluate(
            model=lm,
            tasks=task_names,
            # lm-eval's own tasks are indexed (seconds) only when a benchmark names one of them.
            task_manager=TaskManager(
                include_path=str(tasks_folder), include_defaults=registered_tasks(study)
            ),
            apply_chat_template=True,
            log_samples=True,
            limit=study.evaluation.limit,
            random_seed=study.seed,
            numpy_random_seed=study.seed,
            torch_random_seed=study.seed,
            fewshot_random_seed=study.seed,
        )


def synthetic_score(sample: dict, response: str) -> bool:
    return is_correct(response, sample["doc"]["answer"])


def synthetic_reference(sample: dict) -> str:
    return sample["doc"]["answer"]


def task_score(metric: str):
    """A task benchmark's score of a sample: its own metric, as lm-eval computed it."""
    return lambda sample, response: float(sample[metric])


def task_reference(sample: dict) -> str:
    return str(sample.get("target", ""))


def sample_records(
    samples: list[dict],
    tokenizer,
    arch: flops.Architecture,
    cap: int,
    score=synthetic_score,
    reference=synthetic_reference,
) -> list[dict]:
    """One row per generation: raw response, extracted answer, score (`correct`: 0/1, or a
    graded score such as ROUGE-L for summaries), token counts and FLOPs."""
    ordered = sorted(samples, key=lambda s: s["doc_id"])
    # The first request's (rendered prompt, generation kwargs), and the response to it.
    contexts = [sample["arguments"][0][0] for sample in ordered]
    responses = [sample["resps"][0][0] for sample in ordered]
    lengths = zip(count_tokens(tokenizer, contexts), count_tokens(tokenizer, responses), strict=True)
    records = []
    for sample, context, response, (prompt_tokens, response_tokens) in zip(
        ordered, contexts, responses, lengths, strict=True
    ):
        doc = sample["doc"]
        # The end-of-turn token was generated too (and stripped) unless the cap stopped it.
        gen_tokens = min(response_tokens + 1, cap)
        records.append(
            {
                "id": doc.get("id", sample["doc_id"]),
                "question": context,
                "answer": reference(sample),
                "response": response,
                "extracted": final_answer(response),
                "correct": score(sample, response),
                "hit_cap": response_tokens >= cap,
                "prompt_tokens": prompt_tokens,
                "gen_tokens": gen_tokens,
                "inference_flops_paper": flops.inference_flops(arch, prompt_tokens, gen_tokens),
                "inference_flops_exact": flops.exact_inference_flops(arch, prompt_tokens, gen_tokens),
            }
        )
    return records


def summarise(benchmark: str, family: str, records: list[dict]) -> dict:
    table = pd.DataFrame(records)
    return {
        "benchmark": benchmark,
        "family": family,
        "accuracy": table["correct"].mean(),
        "n": len(table),
        "gen_tokens_mean": table["gen_tokens"].mean(),
        "prompt_tokens_mean": table["prompt_tokens"].mean(),
        "inference_flops_paper": table["inference_flops_paper"].mean(),
        "inference_flops_exact": table["inference_flops_exact"].mean(),
        "hit_cap": int(table["hit_cap"].sum()),
        "no_answer": int(table["extracted"].isna().sum()),
    }


def evaluate_student(study: StudyParams, scale: str, recipe: str, seed: int | None = None) -> pd.DataFrame:
    """Evaluate (or find the evaluation of) one trained run of a student (its `seed`: the study's
    when None); returns per-benchmark metrics. Decoding is greedy, so the seed only picks the run."""
    units.check_student(study, scale, recipe, seed)
    folder = units.eval_dir(study, scale, recipe, seed)
    if units.is_complete(folder):
        return pd.read_csv(folder / "metrics.csv")
    needs_data = recipe == "probe" or any(b.is_synthetic for b in study.benchmarks)
    data_folder = units.require_complete(units.data_dir(study), "generation") if needs_data else None
    name = units.run_name(study, scale, recipe, seed)
    if units.trained_source(study, scale, recipe) is None:
        units.require_complete(units.train_dir(study, scale, recipe, seed), f"training of {name}")
    model = units.model_source(study, scale, recipe, seed)
    torch.set_num_threads(study.evaluation.threads)
    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    folder.mkdir(parents=True, exist_ok=True)
    cap = max_gen_toks(study, data_folder)
    task_names = write_task_yamls(study, data_folder, folder / "tasks", cap)
    if recipe == "probe":  # the probe also answers every pool question once: `unsolved` drops what it solves
        pool_file = data_folder / QUESTIONS_FILE
        task_names[POOL_TASK] = write_synthetic_task(POOL_TASK, pool_file, folder / "tasks", cap)
    write_lm_eval_command(folder, lm_eval_settings(study, folder, model, recipe, list(task_names.values())))
    lm = lm_eval_model(study, model, recipe)
    clock = GenerationClock(lm)
    stripped = ThinkStripped(lm, {task_names[b.name] for b in study.benchmarks if b.is_task})
    results = run_lm_eval(study, lm, folder / "tasks", list(task_names.values()))
    generation_seconds = gathered_by_rank_0(lm, clock, stripped)
    if lm.rank != 0:  # the first process writes the unit; the others wait for it to finish
        lm.barrier()
        return pd.DataFrame()
    tokenizer = load_tokenizer(model, trust_remote_code=study.trust_remote_code)
    arch = flops.architecture(load_config(model))
    rows = []
    for benchmark in study.benchmarks:
        task = task_names[benchmark.name]
        samples, scoring, metric = in_document_order(results["samples"][task]), {}, SYNTHETIC_METRIC
        if benchmark.is_task:
            samples, metric = scored_samples(samples)
            samples = stripped.with_raw_responses(task, samples)
            scoring = {"score": task_score(metric), "reference": task_reference}
        elif benchmark.is_paper:
            scoring, metric = paper_scoring(benchmark.name), benchmarks.METRIC
        records = sample_records(samples, tokenizer, arch, cap, **scoring)
        path = folder / "samples" / f"{benchmark.name}.jsonl"
        files.write_jsonl(path, records)
        rows.append(summarise(benchmark.name, benchmark.family_or_group, records) | {"metric": metric})
    if recipe == "probe":
        records = sample_records(
            in_document_order(results["samples"][task_names[POOL_TASK]]), tokenizer, arch, cap
        )
        questions = files.read_jsonl(data_folder / QUESTIONS_FILE)
        write_solved(folder, records, {question["id"]: question["family"] for question in questions})
    metrics = pd.DataFrame(rows).assign(scale=scale, recipe=recipe, max_gen_toks=cap)
    files.write_csv(folder / "metrics.csv", metrics)
    units.mark_complete(
        folder,
        benchmarks=[b.name for b in study.benchmarks],
        generation_seconds=round(generation_seconds, 3),
        processes=lm.world_size,
    )
    lm.barrier()  # no process leaves (and tears down the process group) while another still works
    return metrics


def gathered_by_rank_0(lm, clock: GenerationClock, stripped: ThinkStripped) -> float:
    """With several processes, what each kept of its share, gathered by the first: the raw
    responses (into `stripped`) and the seconds spent generating (the longest process's, the
    wall clock of generation); one process's own seconds otherwise."""
    if lm.world_size == 1:
        return clock.seconds
    shares = lm.gather_object((stripped.raw, clock.seconds), dst=0)
    if lm.rank != 0:
        return clock.seconds
    for raw, _ in shares:
        stripped.raw.update(raw)
    return max(seconds for _, seconds in shares)


def in_document_order(samples: list[dict]) -> list[dict]:
    """Logged samples in document order: lm-eval chains several processes' shares rank after rank."""
    by_document = {sample["doc_id"]: sample for sample in samples}
    return [by_document[doc_id] for doc_id in sorted(by_document)]


def write_solved(folder: Path, records: list[dict], family_of: dict[str, str]) -> None:
    """From the probe's generations on the pool questions: the keys it answered right, with its
    pass rate per family (`solved.json`, which the `unsolved` selection reads)."""
    table = pd.DataFrame(records)
    correct = table["correct"].astype(bool)
    pass_rate = correct.groupby(table["id"].map(family_of)).mean()
    solved = sorted(table.loc[correct, "id"])
    files.write_json(
        folder / SOLVED_FILE, {"solved": solved, "questions": len(table), "pass_rate": pass_rate.to_dict()}
    )


def launch_command(
    study: StudyParams, parameters_file: str, scale: str, recipe: str, seed: int | None = None
) -> list[str]:
    """`accelerate launch` of this module for one run, across `evaluation.processes` processes."""
    config = packaged_accelerate_config(DATA_PARALLEL_CONFIG)
    return launch.unit_command(
        study, parameters_file, scale, recipe, seed, LAUNCHED_MODULE, study.evaluation.processes, config
    )


def evaluate_unit(parameters_file: str, scale: str, recipe: str, seed: int | None = None) -> pd.DataFrame:
    """What `03_evaluate` runs: in this process, or under `accelerate launch` for several."""
    study = load_study(parameters_file)
    units.check_student(study, scale, recipe, seed)
    if study.evaluation.processes > 1 and not units.is_complete(units.eval_dir(study, scale, recipe, seed)):
        launch.run_streamed(launch_command(study, parameters_file, scale, recipe, seed))
    return evaluate_student(study, scale, recipe, seed)


def run(parameters_file: str, scale: str, recipe: str, seed: int | None = None) -> pd.DataFrame:
    return evaluate_student(load_study(parameters_file), scale, recipe, seed)


def main(argv: list[str] | None = None) -> None:
    args = launch.unit_arguments(LAUNCHED_MODULE, "evaluate one student", argv)
    run(args.parameters_file, args.scale, args.recipe, args.seed)
    if torch.distributed.is_initialized():  # a clean exit for each launched process
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
