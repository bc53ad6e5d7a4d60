"""How much teacher data a study will train on, before any of it is generated or tokenized: for
the plan (`sor study --dry-run`) and the doctor.

    from scale_or_reason.data.corpus_size import teacher_data
    teacher_data(study)  # samples, mean token lengths, and where the numbers come from

Counted from the teacher's local files when the source is one (rows, and mean characters of each
column over `CHARS_PER_TOKEN`); for the paper's released pair datasets on the hub, the numbers
shipped in `paper_data/released_corpora.csv` (rows and mean sizes from the datasets' cards);
otherwise the study's `estimates`, labelled as assumptions. `teacher.limit` caps the samples.
Lengths measured by the study's own tokenizer, once its data unit has run, replace all of these
(`orchestration.estimates`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.json
import pyarrow.parquet as pq

from .. import units
from ..config import paths
from ..config.params import CorpusSize, StudyParams
from ..config.recipes import FORMATS, parse_recipe
from ..core import flops
from ..core.files import DATA_FILE_TYPES, read_json
from ..core.model_configs import student_architecture
from ..core.thinking import split_reasoning

RELEASED_CORPORA_FILE = paths.PAPER_DATA_DIR / "released_corpora.csv"
CHARS_PER_TOKEN = 4.0  # a common figure for English text and a 150k-token BPE vocabulary
ARROW_READERS = {"parquet": pq.read_table, "json": pyarrow.json.read_json, "csv": pyarrow.csv.read_csv}
READERS = {suffix: ARROW_READERS[kind] for suffix, kind in DATA_FILE_TYPES.items()}
LENGTH_COLUMNS = ("prompt", *FORMATS)


@dataclass(frozen=True)
class TeacherData:
    """What the plan counts: training samples, mean token lengths (prompt, ift, reasoning; None
    where unknown), and a sentence saying where each comes from."""

    samples: int | None
    lengths: dict[str, float] | None
    source: str


def released_corpora() -> pd.DataFrame:
    return pd.read_csv(RELEASED_CORPORA_FILE)


def released_size(source: str) -> CorpusSize | None:
    """The shipped numbers of one of the paper's released pair datasets, by its hub id."""
    table = released_corpora()
    match = table[table["source"] == source]
    if match.empty:
        return None
    row = match.iloc[0]
    return CorpusSize(
        samples=int(row["pairs"]),
        prompt_chars=float(row["prompt_chars"]),
        ift_chars=float(row["ift_chars"]),
        reasoning_chars=float(row["reasoning_chars"]),
    )


def data_files(path: Path) -> list[Path]:
    files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.suffix in READERS)
    if not files or any(f.suffix not in READERS for f in files):
        raise ValueError(f"{path}: the teacher's data is read from {', '.join(READERS)} files")
    return files


def counted_size(path: Path, columns: dict[str, str] | None = None) -> tuple[int, dict[str, float]]:
    """Rows, and the mean characters of the prompt and each answer the files hold (`columns`: the
    teacher's mapping of roles to columns; a `response` counts whole as the reasoning answer, and
    its part after the think block as the IFT answer)."""
    columns = columns or {role: role for role in LENGTH_COLUMNS}
    rows, characters = 0, dict.fromkeys(LENGTH_COLUMNS, 0)
    present: set[str] = set()
    for file in data_files(path):
        table: pa.Table = READERS[file.suffix](file)
        rows += table.num_rows
        for role, column in columns.items():
            if column not in table.column_names:
                continue
            text = pc.cast(table[column], pa.string())
            if role == "response":
                answers = [split_reasoning(response or "")[1] for response in text.to_pylist()]
                characters["ift"] += sum(map(len, answers))
                present.add("ift")
                role = "reasoning"
            present.add(role)
            characters[role] += pc.sum(pc.utf8_length(text)).as_py() or 0
    return rows, {
        column: characters[column] / rows for column in LENGTH_COLUMNS if column in present and rows
    }


def teacher_data(study: StudyParams) -> TeacherData:
    """The samples and mean token lengths of the study's training data, before it is generated."""
    teacher, estimates = study.teacher, study.estimates
    if teacher.kind == "synthetic":  # lengths known once the data unit has run; assumed before
        samples = teacher.train_per_family * len(teacher.families)
        return _capped(study, samples, _assumed(study) or None, "assumed (estimates)")
    path = paths.resolve(teacher.source)
    if path.exists():
        rows, characters = counted_size(path, teacher.columns)
        lengths = {k: v / CHARS_PER_TOKEN for k, v in characters.items()}
        source = (
            f"counted in {teacher.source}: {rows:,} rows, mean lengths in characters ÷ {CHARS_PER_TOKEN:g}"
        )
        if teacher.kind != "released":
            lengths = {**_assumed(study), **{k: v for k, v in lengths.items() if k == "prompt"}}
            source += " (the prompts); answer lengths assumed (estimates)"
        return _capped(study, rows, lengths or None, source)
    size = released_size(teacher.source)
    if size is not None:
        lengths = {k: getattr(size, f"{k}_chars") / CHARS_PER_TOKEN for k in LENGTH_COLUMNS}
        source = (
            f"the released corpus {teacher.source}: {size.samples:,} pairs and mean sizes from its dataset "
            f"card (paper_data/{RELEASED_CORPORA_FILE.name}), characters ÷ {CHARS_PER_TOKEN:g}"
        )
        if teacher.kind != "released":  # the released prompts, answered by an LLM teacher
            lengths = {**_assumed(study), "prompt": lengths["prompt"]}
            source += " (the prompts); answer lengths assumed (estimates)"
        return _capped(study, size.samples, lengths, source)
    return _capped(study, estimates.samples, _assumed(study) or None, "assumed (estimates)")


def _assumed(study: StudyParams) -> dict[str, float]:
    estimates = study.estimates
    values = {k: getattr(estimates, f"{k}_tokens") for k in LENGTH_COLUMNS}
    return {k: v for k, v in values.items() if v is not None}


def _capped(study: StudyParams, samples: int | None, lengths: dict | None, source: str) -> TeacherData:
    limit = study.teacher.limit
    if limit is not None and (samples is None or limit < samples):
        return TeacherData(limit, lengths, f"{source}; teacher.limit {limit:,}")
    return TeacherData(samples, lengths, source)


# --- what the plan and a prediction count from: the data unit's measurements, else the above -----


def token_lengths(study: StudyParams) -> dict[str, float] | None:
    """Mean prompt, IFT and reasoning lengths in tokens: measured if the data exists, else counted
    or known from the teacher's data (`teacher_data`), else assumed; None if any is unknown."""
    data = units.data_dir(study)
    if units.is_complete(data):
        stats = pd.read_csv(data / "token_stats.csv")
        train = stats[stats["table"] == "train"]
        weights = train["n"] / train["n"].sum()
        return {k: float((train[f"{k}_tokens"] * weights).sum()) for k in LENGTH_COLUMNS}
    lengths = teacher_data(study).lengths or {}
    return lengths if set(LENGTH_COLUMNS) <= set(lengths) else None


def lengths_source(study: StudyParams) -> str:
    if units.is_complete(units.data_dir(study)):
        return "measured on the generated data"
    return teacher_data(study).source


def training_samples(study: StudyParams) -> int | None:
    data = units.data_dir(study)
    if units.is_complete(data):
        rows = read_json(data / units.COMPLETE).get("train_rows")
        if rows is not None:
            return int(rows)
    return teacher_data(study).samples


def planned_train_flops(
    study: StudyParams, scale: str, recipe: str, lengths: dict | None, count: str = "paper"
) -> float | None:
    """Training FLOPs of one student before it trains, from its config and the mean lengths
    (`token_lengths`), every row at the mean length of its recipe's mix: the paper's formula, or
    the exact count (`count`); None where the lengths or the samples are unknown."""
    samples = training_samples(study)
    if lengths is None or samples is None:
        return None
    if study.teacher.kind == "synthetic":  # a data-efficiency recipe trains on fewer rows than every pair
        samples = units.samples_per_family(study, recipe) * len(study.teacher.families)
    share = parse_recipe(recipe).reasoning_share
    target = share * lengths["reasoning"] + (1 - share) * lengths["ift"]
    length = round(lengths["prompt"] + target)
    paper, exact = flops.corpus_training_flops(
        student_architecture(study, scale), samples * study.training.epochs, length
    )
    return float(paper if count == "paper" else exact)


# --- a published corpus known by its size and mean characters (`reported.corpus_sizes`) ----------


def mean_tokens(corpus: CorpusSize, fmt: str, chars_per_token: float) -> float:
    """Mean tokens of one training sequence (prompt and answer) of `fmt`, from characters."""
    return (corpus.prompt_chars + getattr(corpus, f"{fmt}_chars")) / chars_per_token


def train_flops_estimate(
    arch: flops.Architecture, corpus: CorpusSize, fmt: str, chars_per_token: float
) -> float:
    """The paper's training FLOPs for one epoch over the corpus, every sequence at the mean length
    (an underestimate of the quadratic attention terms for a spread of lengths)."""
    length = round(mean_tokens(corpus, fmt, chars_per_token))
    return float(flops.corpus_training_flops(arch, corpus.samples, length)[0])
