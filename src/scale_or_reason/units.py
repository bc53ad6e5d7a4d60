"""The study's unit graph: which units of work a study has, where each writes, and what each
waits for. The local runner, Slurm, the dry-run plan, preflight and the analysis all ask here;
nothing else computes a unit folder or a dependency.

| stage        | notebook                   | unit                                       | waits for        |
|--------------|----------------------------|--------------------------------------------|------------------|
| `generate`   | `01_generate.ipynb`        | the study's data                           | nothing          |
| `train`      | `02_train.ipynb`           | one run: a student (scale, recipe), a seed | the data         |
| `evaluate`   | `03_evaluate.ipynb`        | one trained run                            | its training     |
| `analyze`    | `04_pareto.ipynb`          | the study (if it has recipes)              | every evaluation |
| `curriculum` | `05_curriculum.ipynb`      | the study (if it trains curricula)         | every evaluation |
| `transfer`   | `06_transfer.ipynb`        | the study (if it has transfer sets)        | every evaluation |
| `efficiency` | `07_data_efficiency.ipynb` | the study (if it selects data or teachers) | every evaluation |

The `unsolved` selections of a data-efficiency study also wait for the probe's evaluation.
A student is trained once per seed of the study (`seeds`; when unset, once, with `seed`). A study
writes under `runs/<study>/`; each unit owns a folder whose name ends with a fingerprint of the
parameters that shape its outputs, so changed parameters get a new folder and unchanged ones find
their finished work. A unit writes `complete.json` last; a folder without it is treated as
unfinished and started again from scratch (a training unit keeps its periodic checkpoints).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import NamedTuple

import yaml

from .config import paths
from .config.families import IN_DISTRIBUTION
from .config.params import ParametersError, StudyParams, fingerprint
from .config.recipes import granularity_recipe, parse_recipe
from .core import files, flops
from .core.model_configs import PACKAGED_CONFIGS, student_architecture

STAGE_NOTEBOOKS = {
    "generate": "01_generate.ipynb",
    "train": "02_train.ipynb",
    "evaluate": "03_evaluate.ipynb",
    "analyze": "04_pareto.ipynb",
    "curriculum": "05_curriculum.ipynb",
    "transfer": "06_transfer.ipynb",
    "efficiency": "07_data_efficiency.ipynb",
}
STAGES = tuple(STAGE_NOTEBOOKS)
COMPLETE = "complete.json"
CHECKPOINTS = "checkpoints"  # a training unit's periodic checkpoints: kept when it restarts
# Part of every fingerprint: bump it when what a unit writes changes shape, so that finished units
# of the old shape are not reused (v2: FLOPs counted both ways and MFU; v3: epochs laid out in
# the recipe's rows, curricula; v4: 3-digit multiplication, its carry added on a line of its
# own, first-digit distractors; v5: multiple choice checks the options against the product; v6:
# every option checked beside the product's digit, batches packed).
ARTIFACT_VERSION = 6
# Part of the study-wide analyses' fingerprints only: bump it when what they write changes, so
# they run again over finished runs (v2: results per seed, intervals, frontier probabilities).
ANALYSIS_VERSION = 2
# The candidate pool is generated data, and the tokenizer learns its traces.
POOL_FIELDS = {"questions_per_family", "traces_per_question", "error_rate"}


# --- the students and their runs ---------------------------------------------------------------


class Run(NamedTuple):
    """One training of a student: its scale, its recipe and the seed of its initialisation and
    data order."""

    scale: str
    recipe: str
    seed: int


def students(study: StudyParams) -> list[tuple[str, str]]:
    """Every (scale, recipe) of the study: the recipes at every trained scale (all but those
    `analysis.predict` predicts untrained: `StudyParams.trained_scales`), then the curricula, the
    coarser traces and the data-efficiency students, each once."""
    ladder = [(scale, recipe) for scale in study.trained_scales() for recipe in study.recipes]
    curricula = [(scale, recipe) for scale in study.curricula.scales for recipe in study.curricula.recipes]
    levels = study.granularity.levels
    coarser = [(scale, granularity_recipe(level)) for scale in study.granularity.scales for level in levels]
    extra = curricula + coarser + pool_students(study)
    return ladder + [student for i, student in enumerate(extra) if student not in ladder + extra[:i]]


def pool_students(study: StudyParams) -> list[tuple[str, str]]:
    """The data-efficiency students: the probe, each selection and its references, the
    teachers' smoke tests and their untrained baseline."""
    found = []
    if study.selection:
        selection = study.selection
        if selection.probe:
            found.append((selection.probe.scale, "probe"))
        found += [(selection.scale, recipe) for recipe in [*selection.reference, *selection.recipes()]]
    if study.teacher_choice:
        found += [(study.teacher_choice.scale, recipe) for recipe in study.teacher_choice.recipes()]
    return found


def samples_per_family(study: StudyParams, recipe: str) -> int:
    """Training rows per family in one epoch: every pair, or what a data-efficiency recipe
    takes (a selection: at most its budget; the untrained `base`: none)."""
    pool_rows = {"base": 0}
    if study.selection and study.selection.probe:
        pool_rows["probe"] = study.selection.probe.examples_per_family
    if study.teacher_choice:
        choice = study.teacher_choice
        pool_rows.update(dict.fromkeys(choice.recipes()[1:], choice.examples_per_family))
    budget = parse_recipe(recipe).budget
    return budget if budget is not None else pool_rows.get(recipe, study.teacher.train_per_family)


def run_seeds(study: StudyParams, recipe: str, scale: str | None = None) -> list[int]:
    """The seeds a student is trained with: every seed of the study, but the probe (an instrument of
    data selection, not a compared student) and a student trained elsewhere (one checkpoint) once,
    with the data's seed."""
    once = recipe == "probe" or (scale is not None and trained_source(study, scale, recipe) is not None)
    return [study.seed] if study.seeds is None or once else list(study.seeds)


def trained_source(study: StudyParams, scale: str, recipe: str) -> str | None:
    """The hub id or folder of a student trained elsewhere (`students.scales.<s>.trained`), if it is one."""
    return (study.students.scales[scale].trained or {}).get(recipe)


def model_source(study: StudyParams, scale: str, recipe: str, seed: int | None = None) -> str:
    """Where a run's weights are: its training unit's `model/`, or the student trained elsewhere
    (a local folder resolved against the project, else a hub id)."""
    source = trained_source(study, scale, recipe)
    if source is None:
        return str(train_dir(study, scale, recipe, seed) / "model")
    local = paths.resolve(source)
    return str(local) if local.exists() else source


def runs(study: StudyParams) -> list[Run]:
    """Every run of the study: each student, once per seed (none in a reported study)."""
    if study.reported:
        return []
    return [
        Run(scale, recipe, seed)
        for scale, recipe in students(study)
        for seed in run_seeds(study, recipe, scale)
    ]


def check_student(study: StudyParams, scale: str, recipe: str, seed: int | None = None) -> None:
    """Refuse a (scale, recipe, seed) the study does not define, naming what it does define."""
    if scale not in study.students.scales:
        raise ParametersError(
            f"unknown scale {scale!r}; {study.study} has {', '.join(study.students.scales)}"
        )
    if (scale, recipe) not in students(study):
        trained = sorted({r for s, r in students(study) if s == scale})
        raise ParametersError(
            f"{study.study} trains no recipe {recipe!r} at scale {scale!r} (it trains {', '.join(trained)})"
        )
    if seed is not None and seed not in run_seeds(study, recipe, scale):
        known = ", ".join(map(str, run_seeds(study, recipe, scale)))
        raise ParametersError(f"{study.study} trains {scale}-{recipe} with seed(s) {known}, not {seed}")


# --- folders and fingerprints -----------------------------------------------------------------


def study_dir(study: StudyParams) -> Path:
    return paths.runs_dir() / study.study


def results_csv(study: StudyParams) -> Path:
    return study_dir(study) / "results.csv"


OPTIONAL_BENCHMARK_KEYS = ("items", "task", "include_path", "group")


def data_fingerprint(study: StudyParams) -> str:
    # A benchmark's `items` (and a task's keys) count only when set: studies written before them keep
    # their folders.
    benchmarks = [
        b.model_dump(exclude={key for key in OPTIONAL_BENCHMARK_KEYS if getattr(b, key) is None})
        for b in study.benchmarks
    ]
    # The teacher's `columns` counts only when set, for the same reason.
    teacher = study.teacher.model_dump(exclude={"columns"} if study.teacher.columns is None else set())
    parts = [ARTIFACT_VERSION, study.seed, teacher, study.tokenizer, benchmarks]
    if study.selection:
        parts.append(study.selection.model_dump(include=POOL_FIELDS))
    return fingerprint(*parts)


def data_dir(study: StudyParams) -> Path:
    return study_dir(study) / f"generate-{data_fingerprint(study)}"


def _pool_recipe_settings(study: StudyParams, recipe: str) -> dict:
    """The settings beyond the data that shape a data-efficiency recipe's rows."""
    parsed = parse_recipe(recipe)
    if parsed.kind == "teacher":
        return {"examples_per_family": study.teacher_choice.examples_per_family}
    if parsed.kind == "probe":
        return {"probe": study.selection.probe, "pool_questions": study.selection.questions_per_family}
    if parsed.kind == "select":
        settings = study.selection.model_dump(include={"length_percentile", "diverse_per_question"})
        return {**settings, "probe": study.selection.probe} if parsed.strategy == "unsolved" else settings
    return {}


def run_name(study: StudyParams, scale: str, recipe: str, seed: int | None = None) -> str:
    """`scale-recipe`, and `-seed<n>` in a study with `seeds`."""
    return f"{scale}-{recipe}" if study.seeds is None else f"{scale}-{recipe}-seed{_seed(study, seed)}"


def _seed(study: StudyParams, seed: int | None) -> int:
    return study.seed if seed is None else seed


def curves_name(study: StudyParams, scale: str, recipe: str, seed: int | None = None) -> str:
    """A run's name in TensorBoard and W&B, seed always included: `scale-recipe-seed<n>`."""
    return f"{scale}-{recipe}-seed{_seed(study, seed)}"


LATER_TRAINING_FIELDS = ("init_std", "balanced_batches", "average_decay", "max_grad_norm")


def train_fingerprint(study: StudyParams, scale: str, recipe: str, seed: int | None = None) -> str:
    # Settings added later count only when changed, so that runs trained before them keep their folders.
    fields = type(study.training).model_fields
    unset = {name for name in LATER_TRAINING_FIELDS if getattr(study.training, name) == fields[name].default}
    training = study.training.model_dump(exclude={"threads", "report_to", *unset})
    # What this run depends on: not the checkpoints of the scale trained elsewhere (`trained`).
    scale_config = study.students.scales[scale].model_dump(exclude={"trained"})
    pool_settings = _pool_recipe_settings(study, recipe)
    extra = (pool_settings,) if pool_settings else ()  # the pairs' recipes keep their folders' names
    return fingerprint(data_fingerprint(study), scale_config, recipe, training, _seed(study, seed), *extra)


def train_dir(study: StudyParams, scale: str, recipe: str, seed: int | None = None) -> Path:
    key = train_fingerprint(study, scale, recipe, seed)
    return study_dir(study) / "train" / f"{run_name(study, scale, recipe, seed)}-{key}"


def tensorboard_dir(study: StudyParams, scale: str, recipe: str, seed: int | None = None) -> Path:
    """A training run's TensorBoard event files (`training.report_to: tensorboard`)."""
    return train_dir(study, scale, recipe, seed) / "tensorboard"


def tensorboard_runs(study: StudyParams) -> dict[str, Path]:
    """Every trained run's event folder that exists, by `scale-recipe-seed<n>`."""
    folders = {
        curves_name(study, *run): tensorboard_dir(study, *run)
        for run in runs(study)
        if trained_source(study, run.scale, run.recipe) is None
    }
    return {name: folder for name, folder in folders.items() if folder.is_dir()}


def eval_fingerprint(study: StudyParams, scale: str, recipe: str, seed: int | None = None) -> str:
    evaluation = study.evaluation.model_dump(exclude={"threads"})
    upstream = trained_source(study, scale, recipe) or train_fingerprint(study, scale, recipe, seed)
    return fingerprint(upstream, evaluation, _seed(study, seed))


def eval_dir(study: StudyParams, scale: str, recipe: str, seed: int | None = None) -> Path:
    key = eval_fingerprint(study, scale, recipe, seed)
    return study_dir(study) / "evaluate" / f"{run_name(study, scale, recipe, seed)}-{key}"


def _evaluations(study: StudyParams) -> list[str]:
    return [eval_fingerprint(study, *run) for run in runs(study)]


def analysis_dir(study: StudyParams) -> Path:
    key = fingerprint(ARTIFACT_VERSION, ANALYSIS_VERSION, _evaluations(study), study.analysis, study.reported)
    return study_dir(study) / f"analysis-{key}"


def curriculum_dir(study: StudyParams) -> Path:
    key = fingerprint(
        ARTIFACT_VERSION, ANALYSIS_VERSION, _evaluations(study), study.analysis, study.curricula
    )
    return study_dir(study) / f"curriculum-{key}"


def transfer_dir(study: StudyParams) -> Path:
    variants = [b.variant for b in study.benchmarks]
    key = fingerprint(ARTIFACT_VERSION, ANALYSIS_VERSION, _evaluations(study), study.analysis, variants)
    return study_dir(study) / f"transfer-{key}"


def efficiency_dir(study: StudyParams) -> Path:
    sections = (study.analysis, study.selection, study.teacher_choice)
    key = fingerprint(ARTIFACT_VERSION, ANALYSIS_VERSION, _evaluations(study), *sections)
    return study_dir(study) / f"efficiency-{key}"


# --- completion -------------------------------------------------------------------------------


def is_complete(folder: Path) -> bool:
    return (folder / COMPLETE).is_file()


def mark_complete(folder: Path, **facts) -> None:
    """The last write of a unit: from here on its outputs are trusted and reused."""
    files.write_json(folder / COMPLETE, {"finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **facts})


def reset(folder: Path, keep: tuple[str, ...] = ()) -> None:
    """Start an unfinished unit again from nothing but the entries named in `keep` (a training
    unit's periodic checkpoints, from which it resumes)."""
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name not in keep:
                files.remove(entry)
    folder.mkdir(parents=True, exist_ok=True)


def require_complete(folder: Path, what: str) -> Path:
    if not is_complete(folder):
        raise FileNotFoundError(f"{what} has not finished: no {COMPLETE} in {folder}")
    return folder


def evaluated_runs(study: StudyParams) -> list[Run]:
    """The runs whose evaluation has finished, in the study's order."""
    return [run for run in runs(study) if is_complete(eval_dir(study, *run))]


# --- the graph --------------------------------------------------------------------------------


@dataclass
class Unit:
    stage: str
    name: str
    folder: Path
    parameters: dict  # the notebook's parameters
    needs: tuple[str, ...] = ()  # keys of the units it waits for
    cost: float = 1.0  # relative, to start the longest units first
    threads: int = 1

    @property
    def key(self) -> str:
        return f"{self.stage}:{self.name}"

    @property
    def notebook(self) -> Path:
        return paths.NOTEBOOKS_DIR / STAGE_NOTEBOOKS[self.stage]


def relative_cost(study: StudyParams, scale: str, recipe: str) -> float:
    """Parameters × a rough length factor: enough to start the longest units first."""
    s = study.students.scales[scale]
    if s.from_config:
        size = s.num_layers * 12 * s.hidden_size**2
    elif s.model in PACKAGED_CONFIGS:
        size = flops.parameter_counts(student_architecture(study, scale))["total"]
    else:
        size = 1.0  # an unknown hub model: its config is not fetched just to order the queue
    rows = samples_per_family(study, recipe) / study.teacher.train_per_family
    return size * (1.0 + 2.0 * parse_recipe(recipe).reasoning_share) * rows


def run_units(study: StudyParams, file: str, run: Run) -> list[Unit]:
    """The training and the evaluation unit of one run."""
    name, cost = run_name(study, *run), relative_cost(study, run.scale, run.recipe)
    selector = {"parameters_file": file, **run._asdict()}
    needs = ("generate:data",)
    if parse_recipe(run.recipe).strategy == "unsolved":  # drops what the probe solves: after its evaluation
        needs += (f"evaluate:{run_name(study, study.selection.probe.scale, 'probe', study.seed)}",)
    threads, eval_threads = study.training.threads, study.evaluation.threads
    if trained_source(study, run.scale, run.recipe):  # trained elsewhere: its evaluation alone
        data = needs if any(b.is_synthetic for b in study.benchmarks) else ()
        return [Unit("evaluate", name, eval_dir(study, *run), selector, data, cost, eval_threads)]
    train = Unit("train", name, train_dir(study, *run), selector, needs, cost, threads)
    evaluate = Unit("evaluate", name, eval_dir(study, *run), selector, (train.key,), cost, eval_threads)
    return [train, evaluate]


def analysis_units(study: StudyParams, file: str, evaluations: tuple[str, ...]) -> list[Unit]:
    """The study-wide analyses the study's sections ask for, each after every evaluation."""
    wanted = {
        "analyze": (analysis_dir, bool(study.recipes)),  # the paper's analysis compares recipes across scales
        "curriculum": (curriculum_dir, bool(study.curricula.recipes)),
        "transfer": (transfer_dir, any(b.variant != IN_DISTRIBUTION for b in study.benchmarks)),
        "efficiency": (efficiency_dir, bool(study.selection or study.teacher_choice)),
    }
    whole_study = {"parameters_file": file}
    return [
        Unit(stage, "study", folder(study), whole_study, needs=evaluations)
        for stage, (folder, wanted_here) in wanted.items()
        if wanted_here
    ]


def plan(study: StudyParams, parameters_file: str | Path) -> list[Unit]:
    """Every unit of the study, in an order that respects dependencies."""
    file = str(paths.resolve(parameters_file))
    if study.reported:  # the paper's published numbers: nothing to generate, train or evaluate
        return analysis_units(study, file, ())
    units = [unit for run in runs(study) for unit in run_units(study, file, run)]
    generate = Unit("generate", "data", data_dir(study), {"parameters_file": file}, cost=1e12)
    if any(generate.key in unit.needs for unit in units):  # students trained elsewhere need no data
        units.insert(0, generate)
    evaluations = tuple(u.key for u in units if u.stage == "evaluate")
    return units + analysis_units(study, file, evaluations)


def only(planned: list[Unit], patterns: Iterable[str]) -> list[Unit]:
    """The units whose key matches one of `patterns` (shell style: `train:xs-*`, `evaluate:*-ift*`)
    and every unit they need, in plan order."""
    by_key = {unit.key: unit for unit in planned}
    chosen: set[str] = set()
    for pattern in patterns:
        matched = [key for key in by_key if fnmatchcase(key, pattern)]
        if not matched:
            raise ParametersError(
                f"--only {pattern!r} matches no unit of the study; its units: {', '.join(by_key)}"
            )
        while matched:
            key = matched.pop()
            if key not in chosen:
                chosen.add(key)
                matched.extend(by_key[key].needs)
    return [unit for unit in planned if unit.key in chosen]


def saved_parameters(study: StudyParams) -> Path:
    """The study's parameters as validated (a file's, with its `--set` overrides), written into
    its folder under their fingerprint: what its units read, so that a run with overrides is
    recorded and resumed as it ran."""
    return write_parameters(study, study_dir(study) / f"parameters-{fingerprint(study)}.yaml")


def write_parameters(study: StudyParams, path: Path) -> Path:
    """The study's validated parameters as a parameters file (defaults filled in)."""
    return files.write_text(path, yaml.safe_dump(study.model_dump(mode="json"), sort_keys=False))
