"""Study parameters: one YAML file in `parameters/`, validated before any work starts.

Every section forbids unknown keys, so a typo stops the study with the key's dotted path and the
closest known name. Values are plain data (safe YAML loading); paths inside are resolved by
`paths.resolve`. Which units a study runs, and where they write, is `units`.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import to_jsonable_python

from . import paths
from .families import (
    FAMILIES,
    PAPER_BENCHMARK_GROUPS,
    Family,
    Variant,
    check_paper_benchmarks,
    in_distribution_benchmarks,
)
from .recipes import FORMATS, GRANULARITIES, RECIPE_PATTERN, selection_recipe, teacher_recipe

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Format = Literal[FORMATS]
Granularity = Literal[GRANULARITIES]
# Multi-GPU launch configs shipped with the package, by the name `training.accelerate_config` gives.
ACCELERATE_CONFIGS = {"fsdp": "fsdp.yaml", "zero3": "zero3.yaml", "ddp": "ddp.yaml"}


def packaged_accelerate_config(name: str) -> Path | None:
    """The file of a launch config shipped with the package (`ACCELERATE_CONFIGS`), else None."""
    packaged = ACCELERATE_CONFIGS.get(name)
    return paths.ACCELERATE_CONFIGS_DIR / packaged if packaged else None


class ParametersError(ValueError):
    """A parameters file that cannot be used; the message names the file and the key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecodingParams(Section):
    temperature: Annotated[float, Field(ge=0)]  # 0: greedy
    # Nucleus sampling: sample among the most likely tokens up to this total probability (1: no cut).
    top_p: Annotated[float, Field(gt=0, le=1)]
    top_k: Annotated[int, Field(ge=0)]  # 0: no top-k cut
    max_new_tokens: PositiveInt  # tokens an answer may take; a pair with an answer cut there is rejected


class TeacherDecoding(Section):
    """Sampling per thinking mode, in this one place. Defaults: the Qwen3 model card's."""

    # Sampling of the reasoning answer (thinking on).
    thinking: DecodingParams = DecodingParams(temperature=0.6, top_p=0.95, top_k=20, max_new_tokens=32768)
    # Sampling of the IFT answer (thinking off).
    non_thinking: DecodingParams = DecodingParams(temperature=0.7, top_p=0.8, top_k=20, max_new_tokens=32768)


class TeacherParams(Section):
    """`synthetic`: the programmatic teacher (embedded tier). `released`: the paper's released pairs
    (hub id or local parquet/jsonl in `source`). `transformers` / `vllm`: an LLM with a thinking switch
    (`model`) answers the prompts of `source` (a hub dataset or local file with a `prompt` column)."""

    # Who writes the training pairs: one of the four kinds above.
    kind: Literal["synthetic", "released", "transformers", "vllm"] = "synthetic"
    # `synthetic`: the task families to generate (math / general × open-ended / multiple-choice).
    families: list[Family] = list(FAMILIES)
    train_per_family: PositiveInt = 2000  # `synthetic`: training pairs per family
    test_per_family: PositiveInt = 100  # `synthetic`: items of a synthetic benchmark that sets no `items`
    # `released`, `transformers`, `vllm`: a hub dataset id or a local parquet/jsonl file.
    source: str | None = None
    # `transformers`, `vllm`: the model with a thinking switch, a hub id or a local folder.
    model: str | None = None
    # `transformers`, `vllm`: the family the generated pairs are labelled with (released pairs carry their
    # own).
    corpus: Literal["general", "math"] = "general"
    # `released`, `transformers`, `vllm`: use this many pairs or prompts, drawn with `seed`; all when unset.
    limit: PositiveInt | None = None
    tensor_parallel_size: PositiveInt = 1  # `vllm`: GPUs the teacher is split across (transformers: keep 1)
    split: str | None = None  # the hub split of `source` (released pairs: reasoning_ift_pairs)
    decoding: TeacherDecoding = TeacherDecoding()  # an LLM teacher's sampling, per thinking mode
    # `released`: which of the source's columns hold the prompt and the two answers
    # ({prompt, ift, reasoning}), or the prompt and one response whose think block is split off
    # ({prompt, response}); columns named prompt, ift and reasoning when unset.
    columns: dict[str, str] | None = None

    @model_validator(mode="after")
    def _kind_has_its_inputs(self):
        if self.kind != "synthetic" and not self.source:
            raise ValueError(
                f"teacher kind {self.kind!r} needs `source` (a hub id or a local parquet/jsonl file)"
            )
        if self.kind in ("transformers", "vllm") and not self.model:
            raise ValueError(f"teacher kind {self.kind!r} needs `model` (a hub id or a local model folder)")
        if self.columns is not None:
            if self.kind != "released":
                raise ValueError(f"columns: read by teacher kind 'released' only, not {self.kind!r}")
            if set(self.columns) not in ({"prompt", "ift", "reasoning"}, {"prompt", "response"}):
                raise ValueError(
                    f"columns: {sorted(self.columns)} must name either prompt, ift and reasoning, or "
                    "prompt and response (one answer whose think block is split off)"
                )
        return self


class TokenizerParams(Section):
    # Vocabulary size of the byte-level BPE tokenizer trained on the study's data (students built from
    # config).
    vocab_size: Annotated[int, Field(ge=300)] = 512


class BenchmarkParams(Section):
    """A synthetic benchmark (`family` set: drawn from the programmatic teacher's family), any
    lm-eval task (`task` set: registered in lm-eval, or a YAML task in `include_path`; `group` the
    panel it is drawn in), or, with neither, one of the paper's benchmarks by name
    (`families.PAPER_BENCHMARK_GROUPS`)."""

    # The benchmark's name in the results; without `family`, one of the paper's benchmarks (gsm8k, …).
    name: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    family: Family | None = None  # a synthetic benchmark's task family; unset: one of the paper's benchmarks
    variant: Variant = "test"  # test: in distribution; rephrased, harder, related: a transfer set
    items: PositiveInt | None = None  # a synthetic benchmark's size; teacher.test_per_family when unset
    # An lm-eval task evaluated as it is, scored by its own metric (think block stripped first).
    task: str | None = None
    include_path: str | None = None  # a folder of lm-eval task YAMLs that defines `task`
    # The panel of a `task` benchmark: general_oe, general_mc, math_oe, math_mc, or a name of your own.
    group: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")] | None = None

    def items_or(self, default: int) -> int:
        return default if self.items is None else self.items

    @model_validator(mode="after")
    def _one_kind(self):
        if self.name in PAPER_BENCHMARK_GROUPS and (self.family is not None or self.task is not None):
            kind = f"family {self.family}" if self.family else f"task {self.task}"
            raise ValueError(
                f"{self.name!r} is one of the paper's benchmarks: a benchmark of your own ({kind}) needs "
                f"another name, or drop `family`/`task` to evaluate the paper's {self.name}"
            )
        if self.task is None and (self.include_path is not None or self.group is not None):
            raise ValueError(f"benchmark {self.name!r}: include_path and group belong to a `task` benchmark")
        if self.task is not None and (self.family is not None or self.group is None):
            raise ValueError(
                f"benchmark {self.name!r}: a `task` benchmark names its `group` (the panel: math_oe, "
                "math_mc, general_oe, general_mc or your own) and no `family`"
            )
        return self

    @property
    def is_synthetic(self) -> bool:
        return self.family is not None

    @property
    def is_task(self) -> bool:
        """An lm-eval task of the study's own (`task`)."""
        return self.task is not None

    @property
    def is_paper(self) -> bool:
        return not self.is_synthetic and not self.is_task

    @property
    def family_or_group(self) -> str:
        """A synthetic benchmark's family, a task's group, or a paper benchmark's group (math_oe,
        extra_mc, …)."""
        if self.is_task:
            return self.group
        return self.family if self.is_synthetic else PAPER_BENCHMARK_GROUPS[self.name]


class PerFormat(Section):
    ift: PositiveFloat  # for the ift recipe
    reasoning: PositiveFloat  # for every recipe but ift (reasoning, curricula, coarser traces, …)


ARCHITECTURE_FIELDS = ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size")


class StudentScale(Section):
    """A student built from config (the five architecture fields, embedded tier) or a pretrained
    base model (`model`: a hub id such as Qwen/Qwen2.5-0.5B, or a local folder)."""

    # A pretrained base model (hub id or local folder), instead of the five architecture fields below.
    model: str | None = None
    hidden_size: PositiveInt | None = None  # model width (Qwen2's hidden_size)
    num_layers: PositiveInt | None = None  # transformer blocks (num_hidden_layers)
    num_heads: PositiveInt | None = None  # attention heads; must divide hidden_size
    num_kv_heads: PositiveInt | None = None  # key/value heads (grouped-query); must divide num_heads
    intermediate_size: PositiveInt | None = None  # inner width of the gated MLP
    # Peak learning rate of this size, overriding training.learning_rate (the paper tunes it per
    # size and format).
    learning_rate: PerFormat | None = None
    # Students trained elsewhere, per format (a hub id or a local folder): evaluated, not trained;
    # their training FLOPs are estimated from `estimates`.
    trained: dict[Format, str] | None = None

    @property
    def from_config(self) -> bool:
        return self.model is None

    @model_validator(mode="after")
    def _model_or_architecture(self):
        given = [name for name in ARCHITECTURE_FIELDS if getattr(self, name) is not None]
        if self.model is not None and given:
            raise ValueError(f"give either `model` or the architecture, not both ({', '.join(given)} set)")
        if self.model is None and len(given) < len(ARCHITECTURE_FIELDS):
            missing = [name for name in ARCHITECTURE_FIELDS if name not in given]
            raise ValueError(f"a student built from config needs {', '.join(missing)} (or `model`)")
        return self

    @model_validator(mode="after")
    def _heads_divide(self):
        if self.model is not None:
            return self
        if self.hidden_size % self.num_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must divide hidden_size ({self.hidden_size})")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_kv_heads ({self.num_kv_heads}) must divide num_heads ({self.num_heads})")
        return self


class StudentParams(Section):
    # Student name (e.g. xs, 0.5b) → its model or architecture; the name is the `scale` in unit keys and
    # results.
    scales: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.]*$")], StudentScale]


class TrainingParams(Section):
    epochs: PositiveInt = 1  # passes over the training rows
    batch_size: PositiveInt = 32  # rows per micro-batch on each process (per device)
    # Peak learning rate per format; `students.scales.<s>.learning_rate` overrides it per size.
    learning_rate: PerFormat = PerFormat(ift=1e-3, reasoning=1e-3)
    # Warmup, as a share of the run's optimizer steps (warmup_steps overrides it).
    warmup_ratio: Fraction = 0.05
    # Final decay, as a share of the run's optimizer steps (decay_steps overrides it).
    decay_ratio: Fraction = 0.2
    min_lr_ratio: Fraction = 0.1  # learning rate at the end of the decay, as a share of the peak
    weight_decay: Annotated[float, Field(ge=0)] = 0.0  # AdamW's weight decay
    # The standard deviation of a from-config student's initial weights (None: transformers'
    # `initializer_range`, 0.02, whatever the width).
    init_std: PositiveFloat | None = None
    # Every batch holds the task families in their shares of the data (each family shuffled and
    # dealt out in turn), instead of whatever a shuffle of all rows puts together.
    balanced_batches: bool = False
    # Save the mean of the weights over the decay phase's steps instead of the last step's.
    average_decay: bool = False
    adam_beta2: Annotated[float, Field(gt=0, lt=1)] = 0.999  # AdamW's β2
    # Gradients whose norm exceeds this are scaled down to it before the step (0: never clipped);
    # 1.0 is the trainer's own default.
    max_grad_norm: Annotated[float, Field(ge=0)] = 1.0
    # Tokens allowed per training row (prompt + completion): a longer row stops the run, none is cut; unset:
    # only the student's context (max_position_embeddings) limits it.
    max_length: PositiveInt | None = None
    # Absolute schedule lengths override the ratios (the paper: 150 warmup, 300 decay steps).
    warmup_steps: Annotated[int, Field(ge=0)] | None = None
    decay_steps: Annotated[int, Field(ge=0)] | None = None  # optimizer steps of the final decay
    # With a global batch, `batch_size` is per device and gradient accumulation is derived from
    # the number of processes (the paper: 32 samples).
    global_batch_size: PositiveInt | None = None
    bf16: bool = False  # train in bfloat16; needs a GPU (the hf evaluation then loads bf16 too)
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory, more time
    # More than one process: `02_train` runs `accelerate launch` with this config (fsdp, zero3, or
    # a path to an accelerate config file) in a subprocess.
    processes: PositiveInt = 1
    # `fsdp`, `zero3`, `ddp` or a path to an accelerate config file; unset: accelerate's defaults.
    accelerate_config: str | None = None
    # Save a resumable checkpoint every this many optimizer steps (None: never; short runs restart).
    checkpoint_steps: PositiveInt | None = None
    threads: PositiveInt = 1  # CPU threads of a training unit (torch, OpenMP, MKL)
    # Where the trainer logs loss, learning rate, gradient norm and tokens seen, through TRL's own
    # `report_to` (`sor tensorboard PARAMS` serves a study's event files); it changes no result.
    report_to: Literal["tensorboard", "wandb", "none"] = "tensorboard"

    def gradient_accumulation(self, processes: int | None = None) -> int:
        """Steps accumulated per optimizer step so that each step sees `global_batch_size` samples."""
        if self.global_batch_size is None:
            return 1
        per_step = self.batch_size * (processes or self.processes)
        if self.global_batch_size % per_step:
            raise ParametersError(
                f"training.global_batch_size ({self.global_batch_size}) is not a multiple of "
                f"batch_size × processes ({self.batch_size} × {processes or self.processes})"
            )
        return self.global_batch_size // per_step

    @property
    def samples_per_step(self) -> int:
        return self.global_batch_size or self.batch_size * self.processes

    def accelerate_config_file(self) -> Path:
        """The launch config `accelerate_config` names: a packaged one (fsdp, zero3) or a file."""
        name = self.accelerate_config
        file = packaged_accelerate_config(name) or paths.resolve(name)
        if not file.is_file():
            known = ", ".join(ACCELERATE_CONFIGS)
            raise ParametersError(
                f"training.accelerate_config: no file {file} (use {known}, or a path to an accelerate config)"
            )
        return file

    @model_validator(mode="after")
    def _global_batch_divides(self):
        self.gradient_accumulation()
        return self


class EvaluationParams(Section):
    backend: Literal["hf", "vllm"] = "hf"  # lm-eval's model class: transformers or vLLM
    tensor_parallel_size: PositiveInt = 1  # vLLM only
    # hf backend: processes that each generate a share of every benchmark (lm-eval's data parallel
    # under `accelerate launch`, one GPU each; gloo CPU processes without CUDA).
    processes: PositiveInt = 1
    batch_size: PositiveInt = 64  # hf backend: items generated at once (vLLM batches by itself)
    # Tokens a student may generate per item; unset: the longest teacher answer in the synthetic benchmarks +
    # 25%, or 16,384 when all benchmarks are the paper's.
    max_gen_toks: PositiveInt | None = None
    # Evaluate only the first this many items of each benchmark (lm-eval's `limit`); all when unset.
    limit: PositiveInt | None = None
    threads: PositiveInt = 1  # CPU threads of an evaluation unit

    @model_validator(mode="after")
    def _processes_need_hf(self):
        if self.processes > 1 and self.backend != "hf":
            raise ValueError(
                "evaluation.processes > 1 splits the items over hf processes; with the vllm backend "
                "use evaluation.tensor_parallel_size"
            )
        return self


RecipeName = Annotated[str, Field(pattern=RECIPE_PATTERN)]


class CurriculaParams(Section):
    """Recipes mixing both formats, trained only at some scales (they multiply the cost)."""

    recipes: list[RecipeName] = []  # sequential-ρ / mixed-ρ, ρ the percent of prompts in reasoning form
    scales: list[str] = []  # names from students.scales to train them at


class GranularityParams(Section):
    """Reasoning students on coarser traces (`reasoning-key`, `reasoning-answer`), at some scales."""

    # `key`: traces of only the decisions that fix the answer; `answer`: an empty think block.
    levels: list[Literal[GRANULARITIES[1:]]] = []
    scales: list[str] = []  # names from students.scales to train them at


Strategy = Literal["random", "correct_only", "length_cap", "unsolved", "diverse"]


class ProbeParams(Section):
    """The cheap student whose solved pool questions the `unsolved` strategy drops: trained on
    `examples_per_family` teacher pairs that are not pool questions, then run on every pool question."""

    scale: str  # the probe's size, a name from students.scales
    # Its training pairs per family: the training questions right after the pool's.
    examples_per_family: PositiveInt = 500


class SelectionParams(Section):
    """Data-efficient selection (issue 7; arXiv 2508.09883): a candidate pool of the first
    `questions_per_family` training questions with `traces_per_question` equivalent traces each, a
    share `error_rate` of them made wrong; every strategy picks each of `budgets` traces per family
    from it, and a student of `scale` is trained on each pick. `reference` recipes train the same
    scale on every training pair, the paper's way, for the frontiers side by side."""

    questions_per_family: PositiveInt  # pool size: the first this many training questions of each family
    traces_per_question: PositiveInt = 4  # equivalent traces written per pool question
    error_rate: Fraction = 0.25  # share of the pool's traces made wrong (one slip each)
    # Strategies compared: random; correct_only (traces that reach the right answer); length_cap; unsolved
    # (drops the questions `probe` solves); diverse.
    strategies: Annotated[list[Strategy], Field(min_length=1)] = list(Strategy.__args__)
    # Traces per family each strategy picks (all it admits when fewer); a student per strategy and budget.
    budgets: Annotated[list[PositiveInt], Field(min_length=1)]
    scale: str  # the student trained on each pick, a name from students.scales
    # Formats also trained at `scale` on every training pair (the paper's way), for comparison.
    reference: list[Format] = list(FORMATS)
    length_percentile: Annotated[float, Field(gt=0, le=100)] = 50.0  # length_cap keeps traces up to it
    diverse_per_question: PositiveInt = 2  # diverse keeps this many traces per question, furthest apart
    probe: ProbeParams | None = None  # needed by the `unsolved` strategy

    @model_validator(mode="after")
    def _unsolved_needs_probe(self):
        if "unsolved" in self.strategies and self.probe is None:
            raise ValueError(
                "strategy 'unsolved' needs `probe` (the cheap student whose solved questions it drops)"
            )
        return self

    def recipes(self) -> list[str]:
        return [selection_recipe(strategy, budget) for strategy in self.strategies for budget in self.budgets]


class TeacherCandidate(Section):
    """One teacher of the smoke test: the programmatic teacher at a trace granularity, a share
    `error_rate` of its traces wrong."""

    # `full`: the whole trace; `key`: only the decisions that fix the answer; `answer`: an empty think block.
    granularity: Granularity = "full"
    error_rate: Fraction = 0.0  # share of its traces made wrong (one slip each)

    @property
    def recipe(self) -> str:
        return teacher_recipe(self.granularity, self.error_rate)


class TeacherChoiceParams(Section):
    """Teacher choice by smoke test (issue 7): each candidate teacher writes the traces of the same
    `examples_per_family` questions, a student of `scale` is distilled from each, and the teachers
    are ranked by the student's gain over the same student untrained (`base`)."""

    # The candidate teachers (at least two, all different).
    teachers: Annotated[list[TeacherCandidate], Field(min_length=2)]
    # Questions per family each teacher writes traces for: the first training questions.
    examples_per_family: PositiveInt = 500
    scale: str  # the student distilled from each, a name from students.scales

    @model_validator(mode="after")
    def _teachers_differ(self):
        recipes = [teacher.recipe for teacher in self.teachers]
        if len(set(recipes)) != len(recipes):
            raise ValueError(f"teachers repeat: {', '.join(recipes)}")
        return self

    def recipes(self) -> list[str]:
        return ["base"] + [teacher.recipe for teacher in self.teachers]


class PredictParams(Section):
    """Predict the large students from the small ones (`analysis.predict`): per family and format,
    fit on the `fit` scales only and extrapolate to the `predict` scales, with intervals, verdicts
    and, where the predicted students exist, scores (`analysis.prediction`)."""

    # Scales fitted on: at least three (a line through two leaves no residual to size the noise).
    fit: Annotated[list[str], Field(min_length=3)]
    # Scales predicted, from their configs: they need not have been trained.
    predict: Annotated[list[str], Field(min_length=1)]
    # Train and evaluate the predicted students too, to score the prediction (a backtest); false
    # plans and runs the study without their IFT and reasoning students (planning before spending).
    train: bool = True

    @model_validator(mode="after")
    def _apart(self):
        both = sorted(set(self.fit) & set(self.predict))
        if both:
            raise ValueError(f"analysis.predict: {', '.join(both)} both fitted and predicted")
        return self


class AnalysisParams(Section):
    flops: Literal["paper", "exact"] = "paper"  # the FLOPs count on the figures' x-axes
    # The fits' ceiling (α + β ≤ it): the programmatic teacher is always right.
    teacher_accuracy: Annotated[float, Field(gt=0, le=1)] = 1.0
    # Where `--publish-figures` copies the figures and accuracy.csv; unset: nothing is published.
    figures_dir: str | None = None
    # Set for students the paper released (sizes named 0.5b ... 14b): their family averages beside
    # that corpus's row of the paper's Table 1.
    compare_with_paper: Literal["general", "math"] | None = None
    # Predict large students from small ones and score the prediction where they exist.
    predict: PredictParams | None = None


class JudgeParams(Section):
    """One judge: a local model through the teacher backends, or an OpenAI-compatible endpoint."""

    # `transformers` / `vllm`: a local model; `openai`: an OpenAI-compatible endpoint at base_url.
    kind: Literal["transformers", "vllm", "openai"]
    model: str  # hub id or local folder; openai: the model name the endpoint serves
    base_url: str | None = None  # openai: e.g. http://localhost:8000/v1 (`vllm serve MODEL`)
    name: str | None = None  # the judge's name in the jury tables; `model` when unset
    tensor_parallel_size: PositiveInt = 1  # vllm: GPUs the judge model is split across

    @model_validator(mode="after")
    def _endpoint_for_openai(self):
        if self.kind == "openai" and not self.base_url:
            raise ValueError("a judge of kind 'openai' needs base_url")
        return self


class JuryParams(Section):
    """The optional LLM jury (`sor jury PARAMS`): one to three judges, majority vote."""

    # One to three judges; the verdict is their majority.
    judges: Annotated[list[JudgeParams], Field(min_length=1, max_length=3)]


class EstimateParams(Section):
    """Assumptions for the plan of a study (`sor study --dry-run`): sizes where the teacher's data
    cannot be counted before it runs (an LLM teacher's answer lengths), and the device's
    throughput. Counted or shipped corpus sizes (`data.corpus_size`) come before them, lengths
    measured on the generated data replace them."""

    # Training pairs, where they cannot be counted before the run (and for students trained elsewhere).
    samples: PositiveInt | None = None
    prompt_tokens: PositiveFloat | None = None  # mean tokens of a prompt
    ift_tokens: PositiveFloat | None = None  # mean tokens of an IFT answer
    reasoning_tokens: PositiveFloat | None = None  # mean tokens of a reasoning answer
    # Items per paper benchmark (a synthetic benchmark's size is known).
    eval_items_per_benchmark: PositiveInt | None = None
    # For GPU-hours in the plan: one GPU's dense peak (an H100's bf16: 989e12) and the share of it
    # the run achieves.
    gpu_flops_per_second: PositiveFloat | None = None
    mfu: Annotated[float, Field(gt=0, le=1)] | None = None  # the share of that peak achieved (MFU)
    # For decoding hours: one GPU's memory bandwidth in bytes/s (the device's data sheet when unset),
    # and the sequences vLLM decodes at once (the hf backend decodes `evaluation.batch_size`).
    memory_bandwidth: PositiveFloat | None = None
    eval_batch_size: PositiveInt = 64  # sequences vLLM decodes at once, for the plan's decoding hours
    # The device the hours are for, as torch names it ("NVIDIA H100 80GB HBM3"); this machine's when
    # unset. Its latest `sor doctor --smoke` record replaces the two assumptions above.
    device: str | None = None


class SlurmParams(Section):
    """`runner.slurm`: what each job of `sor study --executor slurm` asks of the cluster."""

    partition: str | None = None  # sbatch --partition; the cluster's default when unset
    gpus_per_node: Annotated[int, Field(ge=0)] = 0  # GPUs per job (--gpus-per-node); 0: none asked for
    cpus_per_task: PositiveInt = 1  # CPUs per job; at least the unit's training or evaluation threads
    mem_gb: PositiveFloat | None = None  # memory per job in GB; the cluster's default when unset
    time_minutes: PositiveInt = 60  # wall-clock limit per job, in minutes
    account: str | None = None  # sbatch --account; the cluster's default when unset
    poll_seconds: PositiveFloat = 5.0  # seconds between checks of the jobs' states (squeue)


class RunnerParams(Section):
    jobs: PositiveInt = 1  # local executor: units side by side
    slurm: SlurmParams | None = None  # `sor study --executor slurm`: partition, GPUs, time, account
    # Embedded studies never touch the hub (and keep its caches in the run folder); paper studies
    # set this false to download models and datasets into the user's own cache.
    offline: bool = True
    # Local executor: each unit's kernel forked from one that has already imported torch,
    # transformers, TRL and lm-eval (`orchestration/warm_kernels.py`); false: a fresh kernel each.
    warm_kernels: bool = True


class CorpusSize(Section):
    """What one training corpus holds, for the training FLOPs of a student that was not run here:
    samples, and mean characters of a prompt and of each format's answer."""

    samples: PositiveInt  # training pairs in the corpus
    prompt_chars: PositiveFloat  # mean characters of a prompt
    ift_chars: PositiveFloat  # mean characters of an IFT answer
    reasoning_chars: PositiveFloat  # mean characters of a reasoning answer


class ReportedParams(Section):
    """A study whose results are the paper's published numbers (`paper_data/`), not runs: its
    students' training FLOPs are estimated from the corpus sizes (characters over
    `chars_per_token`), its inference FLOPs read from the paper's power laws."""

    # The corpora whose published numbers the study reads.
    corpora: Annotated[list[Literal["general", "math"]], Field(min_length=1)] = ["general", "math"]
    chars_per_token: PositiveFloat = 4.0  # characters per token assumed to turn character lengths into tokens
    # Per corpus: its size, for the training FLOPs estimate (below).
    corpus_sizes: dict[Literal["general", "math"], CorpusSize]


class StudyParams(Section):
    study: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]  # its name; its runs go to `runs/<study>/`
    description: str = ""  # free text, printed under the summary's title
    # The data's seed: teacher, tokenizer, benchmarks, and which prompts a curriculum gives in which form.
    seed: int = 0
    # Training runs per student, one per seed (initialisation and data order); unset: one, `seed`.
    seeds: Annotated[list[int], Field(min_length=1)] | None = None
    # Model and tokenizer code from the hub is never run unless this says so.
    trust_remote_code: bool = False
    teacher: TeacherParams = TeacherParams()  # who writes the training pairs
    tokenizer: TokenizerParams = TokenizerParams()  # the tokenizer trained for students built from config
    benchmarks: list[BenchmarkParams] = []  # none only in a reported study
    students: StudentParams  # the student sizes, by name
    recipes: list[RecipeName] = ["ift", "reasoning"]  # trained at every scale (a data-efficiency study: `[]`)
    curricula: CurriculaParams = CurriculaParams()  # mixed-format recipes at some scales
    granularity: GranularityParams = GranularityParams()  # coarser reasoning traces at some scales
    selection: SelectionParams | None = None  # data-efficiency selection; unset: none
    teacher_choice: TeacherChoiceParams | None = None  # teacher choice by smoke test; unset: none
    training: TrainingParams = TrainingParams()  # fine-tuning settings shared by every student
    evaluation: EvaluationParams = EvaluationParams()  # how lm-eval runs the benchmarks
    analysis: AnalysisParams = AnalysisParams()  # FLOPs count, the fits' ceiling, published figures
    jury: JuryParams | None = None  # LLM judges for `sor jury`; unset: none
    estimates: EstimateParams = EstimateParams()  # assumptions of the `--dry-run` plan
    runner: RunnerParams = RunnerParams()  # how units run: side by side, on Slurm, offline
    # The paper's published numbers instead of runs: no generation, training or evaluation units.
    reported: ReportedParams | None = None

    def benchmark_variants(self) -> dict[str, tuple[str, str]]:
        """benchmark name → (family, variant), in the study's order."""
        return {b.name: (b.family_or_group, b.variant) for b in self.benchmarks}

    def family_panels(self) -> dict[str, str]:
        """Each family's in-distribution benchmark (the first with variant `test`): the one its
        verdicts, fits and figure panels use."""
        return in_distribution_benchmarks(self.benchmark_variants())

    @property
    def builds_tokenizer(self) -> bool:
        """Students built from config share a tokenizer trained on the study's own data."""
        return any(scale.from_config for scale in self.students.scales.values())

    def trained_scales(self) -> list[str]:
        """The scales whose IFT and reasoning students the study trains: every scale but those
        `analysis.predict` predicts without training (`train: false`)."""
        predict = self.analysis.predict
        untrained = set(predict.predict) if predict and not predict.train else set()
        return [scale for scale in self.students.scales if scale not in untrained]

    def learning_rate(self, scale: str, recipe: str) -> float:
        """The peak learning rate of a student; a curriculum takes the reasoning rate, since its
        schedule ends on (sequential) or mixes in (mixed) reasoning targets."""
        rates = self.students.scales[scale].learning_rate or self.training.learning_rate
        return rates.ift if recipe == "ift" else rates.reasoning

    @field_validator("seeds")
    @classmethod
    def _seeds_differ(cls, seeds: list[int] | None) -> list[int] | None:
        if seeds is not None and len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds repeat: {seeds}")
        return seeds

    @model_validator(mode="after")
    def _reported_has_nothing_to_run(self):
        if self.reported is None:
            if not self.benchmarks:
                raise ValueError("benchmarks: name at least one (only a reported study has none)")
            return self
        if self.benchmarks or self.curricula.recipes:
            what = "benchmarks" if self.benchmarks else "curricula.recipes"
            raise ValueError(f"a reported study runs nothing: remove {what} (its results are the paper's)")
        missing = [c for c in self.reported.corpora if c not in self.reported.corpus_sizes]
        if missing:
            raise ValueError(f"reported.corpus_sizes has no entry for corpus {missing[0]!r}")
        return self

    @model_validator(mode="after")
    def _trained_students_are_evaluated(self):
        for scale, params in self.students.scales.items():
            for recipe in params.trained or {}:
                key = f"students.scales.{scale}.trained.{recipe}"
                if recipe not in self.recipes:
                    raise ValueError(
                        f"{key}: the study does not evaluate {recipe!r} (recipes: {self.recipes})"
                    )
                needed = ("samples", "prompt_tokens", f"{recipe}_tokens")
                missing = [name for name in needed if getattr(self.estimates, name) is None]
                if missing:
                    raise ValueError(
                        f"{key}: its training FLOPs are estimated from estimates.{missing[0]}, which is unset"
                    )
        return self

    @model_validator(mode="after")
    def _curricula_scales_exist(self):
        for section in ("curricula", "granularity"):
            unknown = [s for s in getattr(self, section).scales if s not in self.students.scales]
            if unknown:
                raise ValueError(
                    f"{section}.scales names {', '.join(map(repr, unknown))}, not in students.scales"
                )
        selection, choice = self.selection, self.teacher_choice
        named = {
            "selection.scale": selection and selection.scale,
            "selection.probe.scale": selection and selection.probe and selection.probe.scale,
            "teacher_choice.scale": choice and choice.scale,
        }
        predict = self.analysis.predict
        for key in ("fit", "predict") if predict else ():
            for i, scale in enumerate(getattr(predict, key)):
                named[f"analysis.predict.{key}[{i}]"] = scale
        for key, scale in named.items():
            if scale and scale not in self.students.scales:
                known = ", ".join(self.students.scales)
                raise ValueError(f"{key} names {scale!r}, not in students.scales ({known})")
        untrained = set(self.students.scales) - set(self.trained_scales())
        for key, scale in {**named, **self._section_scales()}.items():
            if scale in untrained and not key.startswith("analysis.predict"):
                raise ValueError(
                    f"{key} names {scale!r}, which analysis.predict predicts without training it "
                    "(train: false); the IFT and reasoning students there are not trained"
                )
        return self

    def _section_scales(self) -> dict[str, str]:
        """The scales the curricula and coarser traces are trained at, where they train any."""
        trained = {"curricula": self.curricula.recipes, "granularity": self.granularity.levels}
        return {
            f"{section}.scales[{i}]": scale
            for section, students in trained.items()
            if students
            for i, scale in enumerate(getattr(self, section).scales)
        }

    @model_validator(mode="after")
    def _pool_fits_the_teacher(self):
        """The pool, the probe's and the teachers' questions are training questions (so benchmarks
        never draw them), from the programmatic teacher, which can rewrite and corrupt its traces."""
        if not (self.selection or self.teacher_choice):
            return self
        if self.teacher.kind != "synthetic":
            raise ValueError(
                "selection and teacher_choice need the synthetic teacher "
                "(it writes equivalent and wrong traces)"
            )
        choice, selection = self.teacher_choice, self.selection
        needed = {"teacher_choice.examples_per_family": choice and choice.examples_per_family}
        if selection:
            probe = selection.probe.examples_per_family if selection.probe else 0
            needed["selection.questions_per_family + probe.examples_per_family"] = (
                selection.questions_per_family + probe
            )
        available = self.teacher.train_per_family
        for key, count in needed.items():
            if count and count > available:
                raise ValueError(f"{key} ({count}) exceeds teacher.train_per_family ({available})")
        return self

    @model_validator(mode="after")
    def _benchmarks_are_taught(self):
        names = [b.name for b in self.benchmarks]
        if len(set(names)) != len(names):
            raise ValueError(f"benchmark names repeat: {names}")
        synthetic = [b for b in self.benchmarks if b.is_synthetic]
        if synthetic and self.teacher.kind != "synthetic":
            raise ValueError(
                f"benchmark {synthetic[0].name!r} names a family, which only the synthetic teacher "
                f"draws; paper benchmarks are named without one"
            )
        for benchmark in synthetic:
            if benchmark.family not in self.teacher.families:
                raise ValueError(
                    f"benchmark {benchmark.name!r} tests family {benchmark.family!r}, "
                    f"which teacher.families does not teach"
                )
        return self

    @field_validator("benchmarks")
    @classmethod
    def _paper_benchmarks_are_known(cls, benchmarks: list[BenchmarkParams]) -> list[BenchmarkParams]:
        check_paper_benchmarks([b.name for b in benchmarks if b.is_paper])
        return benchmarks


def _known_keys(model: type[BaseModel], location: tuple) -> list[str]:
    """Field names at `location` inside `model`, to suggest a close one for a typo."""
    for part in location[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def describe_validation_error(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        location = tuple(item["loc"])
        key = ".".join(str(part) for part in location) or "(top level)"
        if item["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(location[-1]), _known_keys(StudyParams, location), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"{source}: unknown key {key!r}{hint}")
        else:
            message = item["msg"].removeprefix("Value error, ")  # pydantic's prefix for our own checks
            lines.append(f"{source}: {key}: {message}")
    return "\n".join(lines)


def parse_study(data: object, source: str = "<parameters>") -> StudyParams:
    if not isinstance(data, dict):
        raise ParametersError(f"{source}: expected a mapping of keys at the top level")
    try:
        return StudyParams.model_validate(data)
    except ValidationError as error:
        raise ParametersError(describe_validation_error(error, source)) from None


def with_overrides(data: dict, assignments: list[str], source: str = "--set") -> dict:
    """A copy of `data` with each `KEY=VALUE` set: a dotted key (`training.epochs`) and a YAML value
    (`1`, `[0, 1]`, `{ift: 1e-3, reasoning: 2e-3}`); missing sections are created, and the result
    is validated like the file by `parse_study`."""
    data = copy.deepcopy(data)
    for assignment in assignments:
        key, equals, text = assignment.partition("=")
        if not equals or not key.strip():
            raise ParametersError(f"{source}: {assignment!r} is not KEY=VALUE")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ParametersError(f"{source}: {assignment!r}: the value is not valid YAML") from None
        *parents, leaf = key.strip().split(".")
        section = data
        for i, part in enumerate(parents):
            section = section.setdefault(part, {})
            if not isinstance(section, dict):
                raise ParametersError(f"{source}: {'.'.join(parents[: i + 1])!r} is not a section")
        section[leaf] = value
    return data


def load_study(path: str | Path, overrides: list[str] = ()) -> StudyParams:
    """Read and validate a parameters file, with `overrides` (`KEY=VALUE`, as `with_overrides`)
    applied; every failure names the file (and the key)."""
    file = paths.resolve(path)
    if not file.is_file():
        raise ParametersError(f"parameters file not found: {file}")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ParametersError(f"{file}: not valid YAML{where}: {problem}") from None
    if overrides and isinstance(data, dict):
        data = with_overrides(data, list(overrides))
    return parse_study(data, str(path))


def fingerprint(*parts: object) -> str:
    """A short stable hash of plain data (pydantic models are dumped first)."""
    plain = to_jsonable_python(parts)
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:10]
