"""Study parameters: one YAML file in `parameters/`, validated before any work starts.

Every section forbids unknown keys, so a typo stops the study with the key's dotted path and the
closest known name. Values are plain data (safe YAML loading); paths inside are resolved by
`paths.resolve`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic_core import to_jsonable_python
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import paths
from .recipes import RECIPE_PATTERN
from .tasks import FAMILIES, VARIANTS

Family = Literal["math_oe", "math_mc", "general_oe", "general_mc"]
Variant = Literal["test", "rephrased", "harder"]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
assert set(Family.__args__) == set(FAMILIES) and set(Variant.__args__) < set(VARIANTS)


class ParametersError(ValueError):
    """A parameters file that cannot be used; the message names the file and the key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeacherParams(Section):
    kind: Literal["synthetic"] = "synthetic"
    families: list[Family] = list(FAMILIES)
    train_per_family: PositiveInt = 2000
    test_per_family: PositiveInt = 100


class TokenizerParams(Section):
    vocab_size: Annotated[int, Field(ge=300)] = 512


class BenchmarkParams(Section):
    name: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    family: Family
    variant: Variant = "test"


class PerFormat(Section):
    ift: PositiveFloat
    reasoning: PositiveFloat


class StudentScale(Section):
    hidden_size: PositiveInt
    num_layers: PositiveInt
    num_heads: PositiveInt
    num_kv_heads: PositiveInt
    intermediate_size: PositiveInt
    # Peak learning rate of this size, overriding training.learning_rate (the paper tunes it per
    # size and format).
    learning_rate: PerFormat | None = None

    @model_validator(mode="after")
    def _heads_divide(self):
        if self.hidden_size % self.num_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must divide hidden_size ({self.hidden_size})")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_kv_heads ({self.num_kv_heads}) must divide num_heads ({self.num_heads})")
        return self


class StudentParams(Section):
    scales: dict[Annotated[str, Field(pattern=r"^[a-z0-9]+$")], StudentScale]


class TrainingParams(Section):
    epochs: PositiveInt = 1
    batch_size: PositiveInt = 32
    learning_rate: PerFormat = PerFormat(ift=1e-3, reasoning=1e-3)
    warmup_ratio: Fraction = 0.05
    decay_ratio: Fraction = 0.2
    min_lr_ratio: Fraction = 0.1
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    adam_beta2: Annotated[float, Field(gt=0, lt=1)] = 0.999
    max_length: PositiveInt | None = None
    threads: PositiveInt = 1


class EvaluationParams(Section):
    batch_size: PositiveInt = 64
    max_gen_toks: PositiveInt | None = None
    limit: PositiveInt | None = None
    threads: PositiveInt = 1


RecipeName = Annotated[str, Field(pattern=RECIPE_PATTERN)]


class CurriculaParams(Section):
    """Recipes mixing both formats, trained only at some scales (they multiply the cost)."""

    recipes: list[RecipeName] = []
    scales: list[str] = []


class AnalysisParams(Section):
    flops: Literal["paper", "exact"] = "paper"  # the FLOPs count on the figures' x-axes
    # The fits' ceiling (α + β ≤ it): the programmatic teacher is always right.
    teacher_accuracy: Annotated[float, Field(gt=0, le=1)] = 1.0
    figures_dir: str | None = None


class RunnerParams(Section):
    jobs: PositiveInt = 1


class StudyParams(Section):
    study: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    seed: int = 0
    teacher: TeacherParams = TeacherParams()
    tokenizer: TokenizerParams = TokenizerParams()
    benchmarks: list[BenchmarkParams]
    students: StudentParams
    recipes: list[RecipeName] = ["ift", "reasoning"]
    curricula: CurriculaParams = CurriculaParams()
    training: TrainingParams = TrainingParams()
    evaluation: EvaluationParams = EvaluationParams()
    analysis: AnalysisParams = AnalysisParams()
    runner: RunnerParams = RunnerParams()

    def students_to_train(self) -> list[tuple[str, str]]:
        """Every (scale, recipe) of the study: the recipes at every scale, then the curricula."""
        students = [(scale, recipe) for scale in self.students.scales for recipe in self.recipes]
        curricula = [(s, r) for s in self.curricula.scales for r in self.curricula.recipes]
        return students + [student for student in curricula if student not in students]

    def check_student(self, scale: str, recipe: str) -> None:
        """Refuse a (scale, recipe) the study does not define, naming what it does define."""
        if scale not in self.students.scales:
            raise ParametersError(f"unknown scale {scale!r}; {self.study} has {', '.join(self.students.scales)}")
        if (scale, recipe) not in self.students_to_train():
            trained = sorted({r for s, r in self.students_to_train() if s == scale})
            raise ParametersError(f"{self.study} trains no recipe {recipe!r} at scale {scale!r} (it trains {', '.join(trained)})")

    def family_panels(self) -> dict[str, str]:
        """Each family's in-distribution benchmark (the first with variant `test`): the one its
        verdicts, fits and figure panels use."""
        panels: dict[str, str] = {}
        for benchmark in self.benchmarks:
            if benchmark.variant == "test":
                panels.setdefault(benchmark.family, benchmark.name)
        return panels

    def learning_rate(self, scale: str, recipe: str) -> float:
        """The peak learning rate of a student; a curriculum takes the reasoning rate, since its
        schedule ends on (sequential) or mixes in (mixed) reasoning targets."""
        rates = self.students.scales[scale].learning_rate or self.training.learning_rate
        return rates.ift if recipe == "ift" else rates.reasoning

    @model_validator(mode="after")
    def _curricula_scales_exist(self):
        unknown = [s for s in self.curricula.scales if s not in self.students.scales]
        if unknown:
            raise ValueError(f"curricula.scales names {', '.join(map(repr, unknown))}, not in students.scales")
        return self

    @model_validator(mode="after")
    def _benchmarks_are_taught(self):
        names = [b.name for b in self.benchmarks]
        if len(set(names)) != len(names):
            raise ValueError(f"benchmark names repeat: {names}")
        for benchmark in self.benchmarks:
            if benchmark.family not in self.teacher.families:
                raise ValueError(
                    f"benchmark {benchmark.name!r} tests family {benchmark.family!r}, "
                    f"which teacher.families does not teach"
                )
        return self


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
            lines.append(f"{source}: {key}: {item['msg']}")
    return "\n".join(lines)


def parse_study(data: object, source: str = "<parameters>") -> StudyParams:
    if not isinstance(data, dict):
        raise ParametersError(f"{source}: expected a mapping of keys at the top level")
    try:
        return StudyParams.model_validate(data)
    except ValidationError as error:
        raise ParametersError(describe_validation_error(error, source)) from None


def load_study(path: str | Path) -> StudyParams:
    """Read and validate a parameters file; every failure names the file (and the key)."""
    file = paths.resolve(path)
    if not file.is_file():
        raise ParametersError(f"parameters file not found: {file}")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        raise ParametersError(f"{file}: not valid YAML: {error}") from None
    return parse_study(data, str(path))


def fingerprint(*parts: object) -> str:
    """A short stable hash of plain data (pydantic models are dumped first)."""
    plain = to_jsonable_python(parts)
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:10]
