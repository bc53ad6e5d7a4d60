"""Evaluation: task YAMLs lm-eval can load, generation settings, and per-sample accounting."""

import yaml

from scale_or_reason import units
from scale_or_reason.core import flops
from scale_or_reason.data import generation
from scale_or_reason.data.tokenizer import TURN_END
from scale_or_reason.evaluation.evaluate import max_gen_toks, sample_records, summarise, write_task_yamls
from scale_or_reason.evaluation.lm_eval_tasks import TASK_PREFIX


def test_task_yamls_load_in_lm_eval_with_explicit_stops_and_cap(smoke_study, tmp_path):
    from lm_eval.tasks import TaskManager

    generation.generate_data(smoke_study)
    names = write_task_yamls(smoke_study, units.data_dir(smoke_study), tmp_path, 200)
    assert list(names.values()) == [TASK_PREFIX + b.name for b in smoke_study.benchmarks]
    config = yaml.safe_load((tmp_path / "math_mc.yaml").read_text().replace("!function", ""))
    assert config["generation_kwargs"] == {"until": [TURN_END], "max_gen_toks": 200, "do_sample": False}
    assert config["output_type"] == "generate_until"  # multiple-choice is scored from generated text
    assert config["num_fewshot"] == 0
    manager = TaskManager(include_path=str(tmp_path), include_defaults=False)
    assert set(names.values()) <= set(manager.all_tasks)


def test_the_generation_cap_covers_the_longest_teacher_trace(smoke_study):
    import pandas as pd

    generation.generate_data(smoke_study)
    folder = units.data_dir(smoke_study)
    stats = pd.read_csv(folder / "token_stats.csv")
    longest = stats.loc[stats["table"] != "train", "reasoning_tokens_max"].max()
    derived = smoke_study.model_copy(
        update={"evaluation": smoke_study.evaluation.model_copy(update={"max_gen_toks": None})}
    )
    assert max_gen_toks(derived, folder) > longest
    assert max_gen_toks(smoke_study, folder) == smoke_study.evaluation.max_gen_toks


def test_sample_records_count_tokens_and_flops(small_tokenizer):
    dims = flops.Architecture(16, 32, 2, 1, 8, 1, len(small_tokenizer), True)
    prompt = small_tokenizer.apply_chat_template(
        [{"role": "user", "content": "Q?"}], tokenize=False, add_generation_prompt=True
    )
    samples = [
        {
            "doc_id": 1,
            "doc": {"id": "b", "answer": "7"},
            "resps": [["<think>\nnever closed"]],
            "arguments": [(prompt, {})],
        },
        {
            "doc_id": 0,
            "doc": {"id": "a", "answer": "7"},
            "resps": [["<think>\nx\n</think>\n\n\\boxed{7}"]],
            "arguments": [[prompt, {}]],
        },
    ]
    records = sample_records(samples, small_tokenizer, dims, cap=100)
    assert [r["id"] for r in records] == ["a", "b"]
    first = records[0]
    assert first["correct"] and first["extracted"] == "7" and not first["hit_cap"]
    response_tokens = len(
        small_tokenizer("<think>\nx\n</think>\n\n\\boxed{7}", add_special_tokens=False)["input_ids"]
    )
    assert first["gen_tokens"] == response_tokens + 1  # the end-of-turn token was generated too
    assert first["prompt_tokens"] == len(small_tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert first["inference_flops_paper"] == flops.inference_flops(
        dims, first["prompt_tokens"], first["gen_tokens"]
    )
    assert first["inference_flops_exact"] == flops.exact_inference_flops(
        dims, first["prompt_tokens"], first["gen_tokens"]
    )
    assert not records[1]["correct"] and records[1]["extracted"] is None
    summary = summarise("bench", "math_oe", records)
    assert summary["accuracy"] == 0.5 and summary["n"] == 2 and summary["no_answer"] == 1


def test_a_generation_stopped_by_the_cap_counts_the_cap(small_tokenizer):
    dims = flops.Architecture(16, 32, 2, 1, 8, 1, len(small_tokenizer), True)
    samples = [
        {
            "doc_id": 0,
            "doc": {"id": "a", "answer": "7"},
            "resps": [["1 2 3 4 5 6 7 8 9"]],
            "arguments": [["Q", {}]],
        }
    ]
    record = sample_records(samples, small_tokenizer, dims, cap=5)[0]
    assert record["hit_cap"] and record["gen_tokens"] == 5
