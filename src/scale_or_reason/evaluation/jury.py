"""The optional LLM jury: up to three judges say whether a student's final answer matches the
reference, and the majority decides.

The paper scores its students this way (three judges, majority vote); rule-based extraction
(`scoring.py`) stays the default because it runs anywhere. The jury re-scores the generations an
evaluation already saved (`samples/<benchmark>.jsonl`) and reports how often the judges agree with
each other and with the rule-based score.

- A judge sees the question, the reference answer and the end of the student's response: the part
  after a closed think block, or the last `tail_chars` characters of a response whose think block
  never closed (cut to `tail_chars` either way). It answers `\\boxed{yes}` or `\\boxed{no}`.
- Two kinds of judge share `judge(items) -> list[bool | None]`: `BackendJudge` runs a local
  model through `backends.Backend` (thinking off where its chat template allows), and
  `ChatCompletionsJudge` asks an OpenAI-compatible server such as `vllm serve`.
- Vote: an item is correct when more than half of the whole jury says yes. A missing verdict (no
  `\\boxed{yes|no}` in the reply) counts as "not yes", so a tie (1–1 of two judges, or yes, no
  and nothing from three) is not correct: like a response without an answer under the rules.
- Agreement: per pair of judges, the share of items both judged alike and Cohen's kappa (on the
  items both gave a verdict for); Fleiss' kappa over the items every judge gave one for; each
  judge's and the jury's agreement (and kappa) with the rule-based `correct`.

    judges = [ChatCompletionsJudge("http://localhost:8000/v1", "Qwen/Qwen3-32B"), ...]
    rescore_folder(eval_folder, judges)  # writes jury/<benchmark>.jsonl and jury/agreement.json
    # or, for every evaluated student of a study whose parameters have a `jury:` section:
    sor jury parameters/paper.yaml
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import pandas as pd
import requests
import yaml

from .. import units
from ..config.params import ParametersError
from ..core import files
from ..core.thinking import after_thinking
from ..data.backends import Decoding, load_backend

# The end of a response the judge reads. Final answers after a think block are short; this keeps
# a rambling one (or the end of an unfinished trace) to about 500 tokens of the judge's context.
TAIL_CHARS = 2000
MAX_JUDGES = 3
JUDGE_MAX_TOKENS = 1024  # room for a judge that thinks anyway (its template has no switch)
RESERVED_COLUMNS = {"id", "answer", "extracted", "correct", "jury_correct"}
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}  # a busy or restarting server, worth waiting for

JUDGE_TEMPLATE = """You are checking a student's answer against the reference answer.

Question:
{question}

Reference answer:
{reference}

End of the student's response:
{tail}

Does the student's final answer mean the same as the reference answer? Judge only the final \
answer, not the working; equivalent forms count as the same (for example 1/2 and 0.5, or an \
option letter and that option's text). A response without a final answer is wrong. Reply with \
\\boxed{{yes}} or \\boxed{{no}}."""

# `\boxed{yes}`, `\boxed{ No. }`, `\boxed{\text{Yes}}`; not `\boxed{yesterday}`.
VERDICT = re.compile(r"\\boxed\{\s*(?:\\text\w*\{\s*)?(yes|no)\W*\}", re.IGNORECASE)


@dataclass(frozen=True)
class JuryItem:
    question: str
    reference: str
    response: str


class JudgeUnreachable(ConnectionError):
    """A chat-completions endpoint that did not answer, after every retry."""


# --- prompt and verdict ----------------------------------------------------------------------


def response_tail(response: str, tail_chars: int = TAIL_CHARS) -> str:
    """The end of a response a judge reads: after a closed think block, else the raw end."""
    final_part = after_thinking(response)
    text = (response if final_part is None else final_part).strip()
    if len(text) > tail_chars:
        return "…" + text[-tail_chars:]  # the ellipsis tells the judge the start is cut
    return text or "(empty)"


def judge_prompt(question: str, reference: str, response: str, tail_chars: int = TAIL_CHARS) -> str:
    return JUDGE_TEMPLATE.format(
        question=question.strip(), reference=str(reference).strip(), tail=response_tail(response, tail_chars)
    )


def item_prompt(item: JuryItem, tail_chars: int = TAIL_CHARS) -> str:
    return judge_prompt(item.question, item.reference, item.response, tail_chars)


def parse_verdict(text: str | None) -> bool | None:
    """The last `\\boxed{yes|no}` after the judge's think block; None if there is none."""
    final_part = after_thinking(text or "")
    matches = VERDICT.findall(final_part or "")
    return matches[-1].lower() == "yes" if matches else None


# --- judges ----------------------------------------------------------------------------------


def render_chat(tokenizer, prompt: str) -> str:
    """The prompt as one user turn in the tokenizer's chat template, thinking off if it can be."""
    template = tokenizer.chat_template
    if not template:
        raise ValueError("the judge's tokenizer has no chat template: use an instruction-tuned judge")
    thinking_off = {"enable_thinking": False} if "enable_thinking" in str(template) else {}
    messages = [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **thinking_off)


class BackendJudge:
    """A judge run locally through anything with the `backends.Backend` protocol (greedy)."""

    def __init__(
        self, backend, name: str, *, max_new_tokens: int = JUDGE_MAX_TOKENS, tail_chars: int = TAIL_CHARS
    ):
        self.backend, self.name = backend, name
        self.max_new_tokens, self.tail_chars = max_new_tokens, tail_chars

    def prompts(self, items: Sequence[JuryItem]) -> list[str]:
        tokenizer = self.backend.tokenizer
        return [render_chat(tokenizer, item_prompt(item, self.tail_chars)) for item in items]

    def judge(self, items: Sequence[JuryItem]) -> list[bool | None]:
        decoding = Decoding(temperature=0.0, top_p=1.0, top_k=0, max_new_tokens=self.max_new_tokens)
        generations = self.backend.generate(self.prompts(items), decoding, seed=0)
        return [parse_verdict(generation.text) for generation in generations]


def chat_completions_url(base_url: str) -> str:
    """`http://host:8000` and `http://host:8000/v1` (the OpenAI client's form) both work."""
    base = base_url.rstrip("/")
    return (base if base.endswith("/v1") else base + "/v1") + "/chat/completions"


class ChatCompletionsJudge:
    """A judge behind an OpenAI-compatible chat-completions endpoint (`vllm serve`, …).

    Temperature 0; `extra_body` is merged into each request (for vLLM, for example,
    `{"chat_template_kwargs": {"enable_thinking": False}}`; the OpenAI API refuses unknown keys, so
    nothing extra is sent by default). The API key, if any, is read from `api_key_env`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        name: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        max_tokens: int = JUDGE_MAX_TOKENS,
        tail_chars: int = TAIL_CHARS,
        timeout: float = 300.0,
        attempts: int = 5,
        backoff: float = 1.0,
        concurrency: int = 8,
        extra_body: dict | None = None,
    ):
        self.url, self.model, self.name = chat_completions_url(base_url), model, name or model
        self.api_key_env, self.max_tokens, self.tail_chars = api_key_env, max_tokens, tail_chars
        self.timeout, self.attempts, self.backoff = timeout, attempts, backoff
        self.concurrency, self.extra_body = concurrency, dict(extra_body or {})

    def headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    def request_body(self, item: JuryItem) -> dict:
        return {
            "model": self.model,
            "messages": [{"role": "user", "content": item_prompt(item, self.tail_chars)}],
            "temperature": 0,
            "max_tokens": self.max_tokens,
            **self.extra_body,
        }

    def post(self, body: dict) -> dict:
        """POST with exponential backoff on connection errors and busy-server statuses."""
        last_error: object = None
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = requests.post(self.url, json=body, headers=self.headers(), timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as error:
                last_error = error
                continue
            if response.status_code in RETRY_STATUSES:
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if not response.ok:
                status, text = response.status_code, response.text[:500]
                raise RuntimeError(f"judge endpoint {self.url} answered HTTP {status}: {text}")
            return response.json()
        raise JudgeUnreachable(
            f"judge endpoint {self.url} did not answer after {self.attempts} attempts: {last_error}"
        )

    def judge_one(self, item: JuryItem) -> bool | None:
        reply = self.post(self.request_body(item))
        return parse_verdict(reply["choices"][0]["message"].get("content"))

    def judge(self, items: Sequence[JuryItem]) -> list[bool | None]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(self.judge_one, item) for item in items]
            try:
                return [future.result() for future in futures]
            except BaseException:
                # Drop the queued items: otherwise each would retry a dead endpoint before the error shows.
                pool.shutdown(cancel_futures=True)
                raise


# --- the vote and agreement ------------------------------------------------------------------


def check_jury(judges: Sequence) -> list[str]:
    """The judges' column names; refuses an empty, oversized or ambiguous jury."""
    if not 1 <= len(judges) <= MAX_JUDGES:
        raise ValueError(f"a jury has 1 to {MAX_JUDGES} judges, got {len(judges)}")
    names = [judge.name for judge in judges]
    if len(set(names)) != len(names):
        raise ValueError(f"judges need distinct names, got {names}")
    clashes = RESERVED_COLUMNS.intersection(names)
    if clashes:
        raise ValueError(f"judge names {sorted(clashes)} clash with columns of the per-item table")
    return names


def majority(verdicts: Sequence[bool | None]) -> bool:
    """More than half of the jury says yes; a missing verdict is not a yes, a tie is not correct."""
    return sum(verdict is True for verdict in verdicts) * 2 > len(verdicts)


def cohen_kappa(first: Sequence[bool], second: Sequence[bool]) -> float | None:
    """Cohen's kappa of two yes/no raters; None when undefined (no items, or chance agreement 1)."""
    if not first:
        return None
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / len(first)
    yes_first, yes_second = sum(first) / len(first), sum(second) / len(second)
    chance = yes_first * yes_second + (1 - yes_first) * (1 - yes_second)
    return None if chance >= 1 - 1e-12 else (observed - chance) / (1 - chance)


def fleiss_kappa(ratings: Sequence[Sequence[bool]]) -> float | None:
    """Fleiss' kappa of yes/no ratings, one row per item (every rater rated every item)."""
    if not ratings or len(ratings[0]) < 2:
        return None
    raters = len(ratings[0])
    yes_counts = [sum(row) for row in ratings]
    per_item = [(y * y + (raters - y) ** 2 - raters) / (raters * (raters - 1)) for y in yes_counts]
    yes_share = sum(yes_counts) / (len(ratings) * raters)
    chance = yes_share**2 + (1 - yes_share) ** 2
    if chance >= 1 - 1e-12:
        return None
    return (sum(per_item) / len(per_item) - chance) / (1 - chance)


def paired(first: Sequence[bool | None], second: Sequence[bool | None]) -> dict:
    """Agreement and Cohen's kappa of two raters on the items both gave a verdict for."""
    pairs = [(a, b) for a, b in zip(first, second, strict=True) if a is not None and b is not None]
    if not pairs:
        return {"agreement": None, "cohen_kappa": None, "items": 0}
    a, b = (list(side) for side in zip(*pairs, strict=True))
    agreement = sum(x == y for x, y in pairs) / len(pairs)
    return {"agreement": agreement, "cohen_kappa": cohen_kappa(a, b), "items": len(pairs)}


def agreement_report(per_item: pd.DataFrame, names: list[str]) -> dict:
    """How the judges agree with each other (pairs, Fleiss) and with the rule-based score."""
    verdicts = {name: per_item[name].tolist() for name in names}
    rule_based = per_item["correct"].tolist()
    complete = [list(row) for row in zip(*verdicts.values(), strict=True) if None not in row]
    pairs = [{"judges": [a, b], **paired(verdicts[a], verdicts[b])} for a, b in combinations(names, 2)]
    with_rules = {name: paired(verdicts[name], rule_based) for name in names}
    with_rules["jury"] = paired(per_item["jury_correct"].tolist(), rule_based)
    accuracy = {name: sum(v is True for v in verdicts[name]) / len(per_item) for name in names}
    return {
        "items": len(per_item),
        "judges": names,
        "missing_verdicts": {name: sum(v is None for v in verdicts[name]) for name in names},
        "pairs": pairs,
        "fleiss_kappa": fleiss_kappa(complete) if len(names) > 1 else None,
        "fleiss_items": len(complete),
        "with_rule_based": with_rules,
        "accuracy": {
            "rule_based": sum(rule_based) / len(per_item),
            "jury": float(per_item["jury_correct"].mean()),
            **accuracy,
        },
    }


def question_column(samples: pd.DataFrame) -> str:
    for column in ("question", "prompt"):
        if column in samples.columns:
            return column
    raise ValueError("the samples need a 'question' or 'prompt' column for the judges to read")


def run_jury(samples: pd.DataFrame, judges: Sequence) -> tuple[pd.DataFrame, dict]:
    """Every judge's verdict per item, the majority (`jury_correct`) beside the rule-based
    `correct`, and the agreement report."""
    names = check_jury(judges)
    if samples.empty:
        raise ValueError("no samples to judge")
    question = question_column(samples)
    items = [
        JuryItem(str(row[question]), str(row["answer"]), str(row["response"]))
        for row in samples.to_dict("records")
    ]
    kept = [column for column in ("id", "answer", "extracted") if column in samples.columns]
    per_item = samples[kept].copy()
    per_item["correct"] = samples["correct"].astype(bool)
    for name, judge in zip(names, judges, strict=True):
        verdicts = judge.judge(items)
        if len(verdicts) != len(items):
            raise RuntimeError(f"judge {name} returned {len(verdicts)} verdicts for {len(items)} items")
        per_item[name] = pd.Series(verdicts, index=samples.index, dtype=object)
    per_item["jury_correct"] = [
        majority(row) for row in zip(*(per_item[name] for name in names), strict=True)
    ]
    return per_item, agreement_report(per_item, names)


# --- re-scoring an evaluated student ---------------------------------------------------------


class _TaskLoader(yaml.SafeLoader):
    """Reads the task YAMLs of `evaluate.py`, whose `!function` hook tag safe_load refuses."""


_TaskLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def benchmark_file(eval_folder: Path, benchmark: str, benchmarks_folder: Path | None) -> Path:
    """Where a benchmark's questions are: the given folder, else the file its task YAML reads."""
    if benchmarks_folder is not None:
        return Path(benchmarks_folder) / f"{benchmark}.jsonl"
    task_yaml = eval_folder / "tasks" / f"{benchmark}.yaml"
    if not task_yaml.is_file():
        raise FileNotFoundError(
            f"the samples hold no questions and {task_yaml} is missing: give benchmarks_folder"
        )
    config = yaml.load(task_yaml.read_text(), Loader=_TaskLoader)
    return Path(config["dataset_kwargs"]["data_files"]["test"])


def with_questions(
    samples: pd.DataFrame, eval_folder: Path, benchmark: str, benchmarks_folder: Path | None
) -> pd.DataFrame:
    """The samples with the prompt of each item, joined on `id` from the benchmark file."""
    if {"question", "prompt"} & set(samples.columns):
        return samples
    prompts = files.read_jsonl_table(benchmark_file(eval_folder, benchmark, benchmarks_folder)).set_index(
        "id"
    )["prompt"]
    missing = set(samples["id"]) - set(prompts.index)
    if missing:
        example = min(missing)
        raise KeyError(f"{len(missing)} ids of {benchmark} are not in its benchmark file, {example} first")
    return samples.assign(prompt=samples["id"].map(prompts))


def rescore_folder(
    eval_folder: Path, judges: Sequence, *, benchmarks_folder: Path | None = None
) -> pd.DataFrame:
    """Judge every `samples/<benchmark>.jsonl` of an evaluated student; writes
    `jury/<benchmark>.jsonl` and `jury/agreement.json`; returns accuracy per benchmark, rule-based
    against jury. Questions come from the samples, else from the benchmark files."""
    eval_folder = Path(eval_folder)
    check_jury(judges)  # before any judging: a bad jury should not cost a first benchmark
    sample_files = sorted((eval_folder / "samples").glob("*.jsonl"))
    if not sample_files:
        raise FileNotFoundError(f"no samples/*.jsonl in {eval_folder}: evaluate the student first")
    reports, rows = {}, []
    for path in sample_files:
        benchmark = path.stem
        samples = with_questions(files.read_jsonl_table(path), eval_folder, benchmark, benchmarks_folder)
        per_item, report = run_jury(samples, judges)
        files.write_jsonl(eval_folder / "jury" / f"{benchmark}.jsonl", per_item.to_dict("records"))
        reports[benchmark] = report
        rows.append(summary_row(benchmark, report))
    files.write_json(eval_folder / "jury" / "agreement.json", reports)
    return pd.DataFrame(rows)


def summary_row(benchmark: str, report: dict) -> dict:
    return {
        "benchmark": benchmark,
        "n": report["items"],
        "accuracy_rule_based": report["accuracy"]["rule_based"],
        "accuracy_jury": report["accuracy"]["jury"],
        "jury_agrees_with_rules": report["with_rule_based"]["jury"]["agreement"],
        "missing_verdicts": sum(report["missing_verdicts"].values()),
    }


def judges_from_params(jury_params, trust_remote_code: bool = False) -> list:
    """The judges a study's `jury:` section names (`params.JuryParams`)."""
    judges = []
    for judge in jury_params.judges:
        name = judge.name or judge.model
        if judge.kind == "openai":
            judges.append(ChatCompletionsJudge(judge.base_url, judge.model, name=name))
        else:
            backend = load_backend(
                judge.kind,
                judge.model,
                tensor_parallel_size=judge.tensor_parallel_size,
                trust_remote_code=trust_remote_code,
            )
            judges.append(BackendJudge(backend, name))
    return judges


def rescore_study(study) -> pd.DataFrame:
    """Re-score every evaluated student of `study` with its jury; writes `runs/<study>/jury.csv`."""
    if study.jury is None:
        raise ParametersError(f"{study.study} has no `jury:` section naming its judges")
    judges = judges_from_params(study.jury, study.trust_remote_code)
    tables = []
    for run in units.evaluated_runs(study):
        tables.append(rescore_folder(units.eval_dir(study, *run), judges).assign(**run._asdict()))
    if not tables:
        raise FileNotFoundError(f"{study.study}: no finished evaluation to re-score; run the study first")
    table = pd.concat(tables, ignore_index=True)
    files.write_csv(units.study_dir(study) / "jury.csv", table)
    return table
