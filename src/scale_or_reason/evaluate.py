"""Stage 3: evaluate one trained student with lm-eval on the study's benchmarks.

    papermill notebooks/03_evaluate.ipynb out.ipynb -p parameters_file parameters/embedded.yaml \\
        -p scale xs -p recipe reasoning
    # or, without Jupyter:
    python -c "from scale_or_reason import evaluate; evaluate.run('parameters/embedded.yaml', 'xs', 'ift')"

Every benchmark becomes an lm-eval task YAML written for the local files (`tasks/`): zero-shot,
generative for multiple-choice too, greedy, stopped at the end-of-turn token with a generation cap
that covers the longest teacher trace. Raw responses are kept (`samples/<benchmark>.jsonl`) and
scored by `scoring.py`: the last `\\boxed{}` after a closed think block. Per benchmark,
`metrics.csv` holds accuracy, generated-token counts and inference FLOPs per item (paper formula
and exact count).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
import yaml
from datasets import Dataset
from transformers import AutoConfig, AutoModelForCausalLM

from . import flops, store
from .efficiency import POOL_TASK, QUESTIONS_FILE, write_solved
from .params import StudyParams, load_study
from .scoring import final_answer, is_correct
from .tokenizer import TURN_END, load_tokenizer

TASK_PREFIX = "sor_"
HOOKS_MODULE = "sor_hooks"
GENERATION_MARGIN = 1.25  # room beyond the longest teacher trace, for students that ramble
PAPER_MAX_GEN_TOKS = 16384


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


def task_config(name: str, data_file: Path, max_tokens: int) -> dict:
    return {
        "task": TASK_PREFIX + name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data_file.resolve())}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{prompt}}",
        "doc_to_target": "{{answer}}",
        "target_delimiter": "",
        "num_fewshot": 0,
        "generation_kwargs": {"until": [TURN_END], "max_gen_toks": max_tokens, "do_sample": False},
        "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0},
    }


def write_task_yamls(study: StudyParams, data_folder: Path, tasks_folder: Path, max_tokens: int) -> dict[str, str]:
    """One task YAML per benchmark (and the module their `!function` hooks point to); returns the
    lm-eval task name of each benchmark."""
    tasks_folder.mkdir(parents=True, exist_ok=True)
    (tasks_folder / f"{HOOKS_MODULE}.py").write_text(
        "from scale_or_reason.scoring import process_results  # noqa: F401\n"
    )
    names = {}
    for benchmark in [b for b in study.benchmarks if b.is_synthetic]:
        data_file = data_folder / "benchmarks" / f"{benchmark.name}.jsonl"
        names[benchmark.name] = write_synthetic_task(benchmark.name, data_file, tasks_folder, max_tokens)
    paper = [b.name for b in study.benchmarks if not b.is_synthetic]
    if paper:
        from .benchmarks import write_paper_task_yamls

        names.update(zip(paper, write_paper_task_yamls(paper, tasks_folder, until=[TURN_END], max_gen_toks=max_tokens)))
    return names


def write_synthetic_task(name: str, data_file: Path, tasks_folder: Path, max_tokens: int) -> str:
    """One task YAML scored by `scoring.process_results`; returns its lm-eval task name."""
    config = task_config(name, data_file, max_tokens)
    # `!function` is a tag lm-eval's loader resolves against this folder; safe_dump cannot write it.
    hook = f"process_results: !function {HOOKS_MODULE}.process_results\n"
    (tasks_folder / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False) + hook)
    return config["task"]


def lm_eval_model(study: StudyParams, model_folder: Path, recipe: str):
    """lm-eval's model: transformers in this process, or vLLM (tensor parallel) for large students."""
    # IFT students were trained after an empty think block: evaluate them with thinking off.
    chat_template_args = {"enable_thinking": False} if recipe == "ift" else None
    evaluation = study.evaluation
    if evaluation.backend == "vllm":
        try:
            from lm_eval.models.vllm_causallms import VLLM

            return VLLM(
                pretrained=str(model_folder), tensor_parallel_size=evaluation.tensor_parallel_size,
                batch_size="auto", seed=study.seed, trust_remote_code=study.trust_remote_code,
                chat_template_args=chat_template_args,
            )  # fmt: skip
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(f"evaluation.backend: vllm needs vLLM installed (`pip install vllm`): {error}") from None
    from lm_eval.models.huggingface import HFLM

    tokenizer = load_tokenizer(model_folder)
    model = AutoModelForCausalLM.from_pretrained(
        str(model_folder), use_safetensors=True, trust_remote_code=study.trust_remote_code,
        dtype=torch.bfloat16 if study.training.bf16 and torch.cuda.is_available() else torch.float32,
    ).eval()  # fmt: skip
    return HFLM(
        pretrained=model,
        tokenizer=tokenizer,
        device="cuda" if torch.cuda.is_available() else "cpu",
        batch_size=evaluation.batch_size,
        chat_template_args=chat_template_args,
    )


def paper_scoring(name: str) -> dict:
    """A paper benchmark's scorer and reference, read from its raw hub document."""
    from . import benchmarks

    return {
        "score": lambda doc, response: benchmarks.score(name, doc, response),
        "reference": lambda doc: benchmarks.reference_text(name, doc),
    }


def run_lm_eval(study: StudyParams, lm, tasks_folder: Path, task_names: list[str]) -> dict:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    return simple_evaluate(
        model=lm,
        tasks=task_names,
        task_manager=TaskManager(include_path=str(tasks_folder), include_defaults=False),
        apply_chat_template=True,
        log_samples=True,
        limit=study.evaluation.limit,
        random_seed=study.seed,
        numpy_random_seed=study.seed,
        torch_random_seed=study.seed,
        fewshot_random_seed=study.seed,
    )


def synthetic_score(doc: dict, response: str) -> bool:
    return is_correct(response, doc["answer"])


def synthetic_reference(doc: dict) -> str:
    return doc["answer"]


def sample_records(
    samples: list[dict], tokenizer, arch: flops.Architecture, cap: int,
    score=synthetic_score, reference=synthetic_reference,
) -> list[dict]:  # fmt: skip
    """One row per generation: raw response, extracted answer, score (`correct`: 0/1, or a
    graded score such as ROUGE-L for summaries), token counts and FLOPs."""
    records = []
    for sample in sorted(samples, key=lambda s: s["doc_id"]):
        doc, response = sample["doc"], sample["resps"][0][0]
        context = sample["arguments"][0][0]  # the first request's (rendered prompt, generation kwargs)
        prompt_tokens = len(tokenizer(context, add_special_tokens=False)["input_ids"])
        response_tokens = len(tokenizer(response, add_special_tokens=False)["input_ids"])
        # The end-of-turn token was generated too (and stripped) unless the cap stopped it.
        gen_tokens = min(response_tokens + 1, cap)
        records.append(
            {
                "id": doc.get("id", sample["doc_id"]),
                "question": context,
                "answer": reference(doc),
                "response": response,
                "extracted": final_answer(response),
                "correct": score(doc, response),
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


def evaluate_student(study: StudyParams, scale: str, recipe: str) -> pd.DataFrame:
    """Evaluate (or find the evaluation of) one trained student; returns per-benchmark metrics."""
    study.check_student(scale, recipe)
    folder = store.eval_dir(study, scale, recipe)
    if store.is_complete(folder):
        return pd.read_csv(folder / "metrics.csv")
    data_folder = store.require_complete(store.data_dir(study), "generation")
    train_folder = store.require_complete(store.train_dir(study, scale, recipe), f"training of {scale}-{recipe}")
    torch.set_num_threads(study.evaluation.threads)
    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    folder.mkdir(parents=True, exist_ok=True)
    cap = max_gen_toks(study, data_folder)
    task_names = write_task_yamls(study, data_folder, folder / "tasks", cap)
    if recipe == "probe":  # the probe also answers every pool question once: `unsolved` drops what it solves
        pool_file = data_folder / QUESTIONS_FILE
        task_names[POOL_TASK] = write_synthetic_task(POOL_TASK, pool_file, folder / "tasks", cap)
    lm = lm_eval_model(study, train_folder / "model", recipe)
    results = run_lm_eval(study, lm, folder / "tasks", list(task_names.values()))
    tokenizer = load_tokenizer(train_folder / "model")
    arch = flops.architecture(AutoConfig.from_pretrained(str(train_folder / "model")))
    rows = []
    for benchmark in study.benchmarks:
        scoring = {} if benchmark.is_synthetic else paper_scoring(benchmark.name)
        records = sample_records(results["samples"][task_names[benchmark.name]], tokenizer, arch, cap, **scoring)
        path = folder / "samples" / f"{benchmark.name}.jsonl"
        store.write_atomic(path, lambda tmp: Dataset.from_list(records).to_json(tmp, lines=True, force_ascii=False))
        rows.append(summarise(benchmark.name, study.benchmark_family(benchmark), records))
    if recipe == "probe":
        records = sample_records(results["samples"][task_names[POOL_TASK]], tokenizer, arch, cap)
        questions = pd.read_json(data_folder / QUESTIONS_FILE, lines=True, dtype=False)
        write_solved(folder, records, dict(zip(questions["id"], questions["family"])))
    metrics = pd.DataFrame(rows).assign(scale=scale, recipe=recipe, max_gen_toks=cap)
    store.write_atomic(folder / "metrics.csv", lambda tmp: metrics.to_csv(tmp, index=False))
    store.mark_complete(folder, benchmarks=[b.name for b in study.benchmarks])
    return metrics


def run(parameters_file: str, scale: str, recipe: str) -> pd.DataFrame:
    return evaluate_student(load_study(parameters_file), scale, recipe)
