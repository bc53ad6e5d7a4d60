"""The tidy table is assembled from the units' own records, with the chosen FLOPs count."""

import pandas as pd
import pytest

from scale_or_reason import units
from scale_or_reason.analysis.results import collect_results
from scale_or_reason.core import files


def fake_student(study, scale, recipe, train_flops, inference_flops):
    train_dir = units.train_dir(study, scale, recipe)
    train_dir.mkdir(parents=True)
    files.write_json(
        train_dir / "train_metrics.json",
        {
            "params": 100,
            "train_tokens": 1000,
            "samples": 10,
            "rows": 20,
            "epochs": 2,
            "steps": 4,
            "train_seconds": 1.5,
            "train_flops_paper": train_flops[0],
            "train_flops_exact": train_flops[1],
            "mfu": 0.1,
        },
    )
    units.mark_complete(train_dir)
    eval_dir = units.eval_dir(study, scale, recipe)
    eval_dir.mkdir(parents=True)
    pd.DataFrame(
        [
            {
                "benchmark": b.name,
                "family": b.family,
                "accuracy": 0.5,
                "n": 6,
                "gen_tokens_mean": 7.0,
                "prompt_tokens_mean": 30.0,
                "inference_flops_paper": inference_flops[0],
                "inference_flops_exact": inference_flops[1],
                "hit_cap": 0,
                "no_answer": 0,
            }
            for b in study.benchmarks
        ]
    ).to_csv(eval_dir / "metrics.csv", index=False)
    units.mark_complete(eval_dir)


@pytest.mark.parametrize("count,column", [("paper", 0), ("exact", 1)])
def test_the_plotted_flops_follow_the_analysis_parameter(smoke_study, count, column):
    study = smoke_study.model_copy(
        update={"analysis": smoke_study.analysis.model_copy(update={"flops": count})}
    )
    fake_student(study, "tiny", "ift", (10, 11), (3, 4))
    results = collect_results(study)
    assert len(results) == len(study.benchmarks), "students not evaluated yet are left out"
    assert (results["train_flops"] == (10, 11)[column]).all()
    assert (results["inference_flops"] == (3, 4)[column]).all()
    assert (results["train_flops_paper"] == 10).all() and (results["inference_flops_exact"] == 4).all()
    assert (results["train_samples"] == 20).all()


def test_nothing_evaluated_is_an_error_that_names_the_folder(smoke_study):
    with pytest.raises(FileNotFoundError, match=r"no finished evaluation in .*smoke"):
        collect_results(smoke_study)
