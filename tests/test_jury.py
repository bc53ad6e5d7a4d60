"""The LLM jury: prompts, verdicts, both kinds of judge (a real local HTTP server, a scripted
backend), the majority vote, agreement numbers worked out by hand, and re-scoring a folder."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pandas as pd
import pytest

from scale_or_reason.core.answers import is_correct
from scale_or_reason.evaluation.jury import (
    BackendJudge,
    ChatCompletionsJudge,
    JudgeUnreachable,
    JuryItem,
    benchmark_file,
    chat_completions_url,
    judge_prompt,
    majority,
    parse_verdict,
    render_chat,
    rescore_folder,
    response_tail,
    run_jury,
)


class ListJudge:
    """Fixed verdicts, in item order; remembers what it was shown."""

    def __init__(self, name, verdicts):
        self.name, self.verdicts, self.seen = name, list(verdicts), []

    def judge(self, items):
        self.seen.extend(items)
        return self.verdicts[: len(items)]


class RuleJudge:
    """A verdict computed from each item, for folders of unknown size."""

    def __init__(self, name, rule):
        self.name, self.rule, self.seen = name, rule, []

    def judge(self, items):
        self.seen.extend(items)
        return [self.rule(item) for item in items]


def samples_table(correct, responses=None):
    n = len(correct)
    return pd.DataFrame(
        {
            "id": [f"q{i}" for i in range(n)],
            "prompt": [f"Question {i}?" for i in range(n)],
            "answer": [str(i) for i in range(n)],
            "response": responses or [f"\\boxed{{{i}}}" for i in range(n)],
            "correct": correct,
        }
    )


# --- prompt and verdict ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply,verdict",
    [
        ("\\boxed{yes}", True),
        ("It differs. \\boxed{NO}", False),
        ("\\boxed{\\text{Yes}}", True),
        ("\\boxed{ no. }", False),
        ("<think>first \\boxed{yes}, but wait</think>\n\\boxed{no}", False),
        ("\\boxed{no} ... on reflection \\boxed{yes}", True),
        ("<think>still deciding \\boxed{yes}", None),  # the think block never closed
        ("\\boxed{yesterday}", None),
        ("\\boxed{42}", None),
        ("yes", None),
        (None, None),  # a server reply with no content
    ],
)
def test_parse_verdict(reply, verdict):
    assert parse_verdict(reply) is verdict


def test_the_judge_reads_the_question_the_reference_and_the_end_of_the_response():
    prompt = judge_prompt("What is 6 × 7?", "42", "<think>\nsix sevens are many\n</think>\n\n\\boxed{42}")
    assert "What is 6 × 7?" in prompt and "Reference answer:\n42\n" in prompt
    assert "\\boxed{42}" in prompt and "six sevens" not in prompt  # after the closed think block only
    assert prompt.rstrip().endswith("\\boxed{yes} or \\boxed{no}.")


def test_response_tail_cuts_an_open_trace_and_a_long_answer_from_the_end():
    unfinished = "<think>\n" + "a" * 50 + "the end"
    assert response_tail(unfinished, tail_chars=10) == "…aaathe end"
    assert response_tail("<think>x</think>\n" + "b" * 30 + "\\boxed{1}", tail_chars=12) == "…bbb\\boxed{1}"
    assert response_tail("\\boxed{1}", tail_chars=12) == "\\boxed{1}"
    assert response_tail("<think>x</think>\n  ") == "(empty)"


# --- the chat-completions judge against a real local server ----------------------------------


class ScriptedChatServer(BaseHTTPRequestHandler):
    """Answers POST /v1/chat/completions from the answer it reads; the first request gets 503."""

    received: ClassVar[list[dict]] = []  # shared by every handler the server makes
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            first = not self.received
            self.received.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.path != "/v1/chat/completions":
            return self.reply(404, {"error": "no such route"})
        if first:
            return self.reply(503, {"error": "warming up"})  # the judge must retry
        content = body["messages"][0]["content"]
        if "\\boxed{42}" in content:
            text = "Same number. \\boxed{yes}"
        elif "\\boxed{41}" in content:
            text = "<think>maybe \\boxed{yes}</think>\nOff by one. \\boxed{No}"
        else:
            text = "I cannot tell."
        self.reply(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]})

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def no_proxy_for_localhost(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # a proxy set in the environment must not intercept


@pytest.fixture
def chat_server():
    ScriptedChatServer.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ScriptedChatServer.received
    server.shutdown()
    server.server_close()


def test_chat_completions_judge_posts_the_prompt_and_reads_the_verdicts(chat_server, monkeypatch):
    url, received = chat_server
    monkeypatch.setenv("SOR_TEST_JUDGE_KEY", "secret-key")
    judge = ChatCompletionsJudge(
        url + "/v1/",
        "judge-model",
        api_key_env="SOR_TEST_JUDGE_KEY",
        backoff=0.01,
        concurrency=2,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    items = [
        JuryItem("What is 6 × 7?", "42", "<think>\nhidden working\n</think>\n\n\\boxed{42}"),
        JuryItem("What is 6 × 7, again?", "42", "\\boxed{41}"),
        JuryItem("Name a colour.", "red", "<think>\nno end to this"),
    ]
    assert judge.judge(items) == [True, False, None]
    assert judge.name == "judge-model"
    answered = [r for r in received if r["path"] == "/v1/chat/completions"]
    assert len(answered) == 4  # three items, one of them sent twice after the 503
    bodies = {r["body"]["messages"][0]["content"].split("\n")[3]: r["body"] for r in answered}
    assert set(bodies) == {"What is 6 × 7?", "What is 6 × 7, again?", "Name a colour."}
    first = bodies["What is 6 × 7?"]
    assert first["model"] == "judge-model" and first["temperature"] == 0
    assert first["chat_template_kwargs"] == {"enable_thinking": False}
    assert first["messages"][0]["role"] == "user" and len(first["messages"]) == 1
    content = first["messages"][0]["content"]
    assert "Reference answer:\n42" in content and "\\boxed{42}" in content and "hidden working" not in content
    assert "no end to this" in bodies["Name a colour."]["messages"][0]["content"]  # open trace: its end
    assert {r["auth"] for r in answered} == {"Bearer secret-key"}


def test_an_unreachable_endpoint_names_its_url():
    with socket.socket() as probe:  # a port nobody listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    judge = ChatCompletionsJudge(f"http://127.0.0.1:{port}", "judge-model", attempts=2, backoff=0.01)
    url = rf"http://127\.0\.0\.1:{port}/v1/chat/completions"
    with pytest.raises(JudgeUnreachable, match=url + ".*after 2 attempts"):
        judge.judge([JuryItem("q", "a", "\\boxed{a}")])


def test_an_error_status_is_not_retried_and_names_the_url(chat_server):
    url, received = chat_server
    received.append({"path": "warm", "body": {}, "auth": None})  # no 503 for this test
    judge = ChatCompletionsJudge(url + "/wrong", "judge-model", attempts=3, backoff=0.01)
    with pytest.raises(RuntimeError, match=r"/wrong/v1/chat/completions answered HTTP 404"):
        judge.judge([JuryItem("q", "a", "\\boxed{a}")])
    assert len(received) == 2


def test_chat_completions_url_accepts_the_base_with_or_without_v1():
    assert chat_completions_url("http://h:8000") == "http://h:8000/v1/chat/completions"
    assert chat_completions_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"


# --- the local-backend judge -----------------------------------------------------------------


class ScriptedBackend:
    """The Backend protocol with canned replies: yes to `\\boxed{42}`, no to `\\boxed{7}`, else none."""

    def __init__(self, tokenizer):
        self.tokenizer, self.calls = tokenizer, []

    def generate(self, prompts, decoding, seed=0):
        from scale_or_reason.data.backends import Generation

        self.calls.append((list(prompts), decoding, seed))
        return [Generation(text=self.reply(prompt), tokens=3, finished=True) for prompt in prompts]

    @staticmethod
    def reply(prompt):
        if "\\boxed{42}" in prompt:
            return "\\boxed{yes}"
        return "\\boxed{no}" if "\\boxed{7}" in prompt else "hm"


def test_backend_judge_renders_prompts_with_thinking_off_and_decodes_greedily():
    from scale_or_reason.core.thinking import EMPTY_THINK_BLOCK
    from scale_or_reason.data.tokenizer import build_tokenizer

    backend = ScriptedBackend(build_tokenizer(["What is 6 x 7? boxed yes no"], 300))
    judge = BackendJudge(backend, "local", max_new_tokens=64)
    items = [
        JuryItem("What is 6 x 7?", "42", "\\boxed{42}"),
        JuryItem("Again?", "42", "\\boxed{7}"),
        JuryItem("Say it.", "42", "forty-two"),
    ]
    assert judge.judge(items) == [True, False, None]
    [(prompts, decoding, seed)] = backend.calls
    assert decoding.temperature == 0 and decoding.max_new_tokens == 64 and seed == 0
    assert prompts[0].startswith("<|im_start|>user\n") and "What is 6 x 7?" in prompts[0]
    assert prompts[0].endswith("<|im_start|>assistant\n" + EMPTY_THINK_BLOCK)  # thinking off


class PlainTemplateTokenizer:
    """A tokenizer whose template has no thinking switch: it must not be passed one."""

    chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"

    def __init__(self):
        self.calls = []

    def apply_chat_template(self, messages, **kwargs):
        self.calls.append(kwargs)
        return "rendered: " + messages[0]["content"]


def test_render_chat_passes_the_thinking_switch_only_to_templates_that_know_it():
    tokenizer = PlainTemplateTokenizer()
    assert render_chat(tokenizer, "judge this") == "rendered: judge this"
    assert tokenizer.calls == [{"tokenize": False, "add_generation_prompt": True}]
    tokenizer.chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        render_chat(tokenizer, "judge this")


# --- majority vote and agreement -------------------------------------------------------------


@pytest.mark.parametrize(
    "verdicts,expected",
    [
        ([True], True),
        ([False], False),
        ([None], False),
        ([True, True], True),
        ([True, False], False),
        ([True, None], False),
        ([None, None], False),
        ([True, True, None], True),
        ([True, False, None], False),
        ([True, None, None], False),
        ([False, True, True], True),
        ([False, False, True], False),
    ],
)
def test_majority_needs_more_than_half_of_the_jury(verdicts, expected):
    assert majority(verdicts) is expected


def test_run_jury_with_one_and_two_judges():
    samples = samples_table([True, False, True])
    per_item, report = run_jury(samples, [ListJudge("solo", [True, None, False])])
    assert per_item["jury_correct"].tolist() == [True, False, False]
    assert report["fleiss_kappa"] is None and report["pairs"] == []
    assert report["missing_verdicts"] == {"solo": 1}
    pair = [ListJudge("a", [True, True, None]), ListJudge("b", [True, False, True])]
    per_item, report = run_jury(samples, pair)
    assert per_item["jury_correct"].tolist() == [True, False, False]  # 1-1 tie and yes + missing: not correct
    assert report["pairs"] == [{"judges": ["a", "b"], "agreement": 0.5, "cohen_kappa": 0.0, "items": 2}]


def test_agreement_numbers_worked_out_by_hand():
    samples = samples_table([True, True, False, False, False])
    judges = [
        ListJudge("A", [True, True, False, False, True]),
        ListJudge("B", [True, False, False, None, True]),
        ListJudge("C", [True, True, False, True, False]),
    ]
    per_item, report = run_jury(samples, judges)
    assert per_item["jury_correct"].tolist() == [True, True, False, False, True]
    assert per_item["correct"].tolist() == [True, True, False, False, False]
    assert per_item["B"].tolist() == [True, False, False, None, True]
    assert judges[0].seen[2] == JuryItem("Question 2?", "2", "\\boxed{2}")
    pairs = {tuple(pair["judges"]): pair for pair in report["pairs"]}
    # A-B on the 4 items B judged: agree 3; yes rates 3/4 and 2/4, chance 1/2, kappa (3/4 - 1/2) / (1/2)
    assert pairs["A", "B"] == {"judges": ["A", "B"], "agreement": 0.75, "cohen_kappa": 0.5, "items": 4}
    # A-C agree on 3 of 5; both say yes 3/5: chance 0.52, kappa 0.08 / 0.48
    assert pairs["A", "C"]["agreement"] == 0.6 and pairs["A", "C"]["cohen_kappa"] == pytest.approx(1 / 6)
    assert pairs["B", "C"]["agreement"] == 0.5 and pairs["B", "C"]["cohen_kappa"] == pytest.approx(0.0)
    # Fleiss on the 4 complete items (yes counts 3, 2, 0, 2): mean P 2/3, chance (7/12)² + (5/12)²
    assert report["fleiss_kappa"] == pytest.approx(11 / 35) and report["fleiss_items"] == 4
    rules = report["with_rule_based"]
    assert rules["A"]["agreement"] == 0.8 and rules["A"]["cohen_kappa"] == pytest.approx(8 / 13)
    assert rules["B"] == {"agreement": 0.5, "cohen_kappa": 0.0, "items": 4}
    assert rules["jury"]["agreement"] == 0.8 and rules["jury"]["items"] == 5
    assert report["accuracy"] == {"rule_based": 0.4, "jury": 0.6, "A": 0.6, "B": 0.4, "C": 0.6}
    assert report["missing_verdicts"] == {"A": 0, "B": 1, "C": 0}


@pytest.mark.parametrize("count", [0, 4])
def test_a_jury_has_one_to_three_judges(count, tmp_path):
    judges = [ListJudge(f"j{i}", [True]) for i in range(count)]
    with pytest.raises(ValueError, match="1 to 3 judges"):
        run_jury(samples_table([True]), judges)
    with pytest.raises(ValueError, match="1 to 3 judges"):
        rescore_folder(tmp_path, judges)
    assert not (tmp_path / "jury").exists()


def test_judge_names_must_be_distinct_and_not_table_columns():
    with pytest.raises(ValueError, match="distinct"):
        run_jury(samples_table([True]), [ListJudge("x", [True]), ListJudge("x", [True])])
    with pytest.raises(ValueError, match="clash"):
        run_jury(samples_table([True]), [ListJudge("correct", [True])])


# --- re-scoring an evaluated student ---------------------------------------------------------


def write_lines(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def evaluated_student(tmp_path):
    """An evaluation folder as evaluate.py leaves it: samples without questions, task YAMLs
    (with their `!function` hook) pointing at the benchmark files."""
    questions = {
        "mc": [("mc-0", "Pick B.", "B"), ("mc-1", "Pick C.", "C")],
        "oe": [("oe-0", "Write 007.", "007"), ("oe-1", "Write 12.", "12"), ("oe-2", "Write 3.", "3")],
    }
    responses = {
        "mc-0": "\\boxed{b}",
        "mc-1": "<think>\nC?\n</think>\n\n\\boxed{C}",
        "oe-0": "\\boxed{007}",
        "oe-1": "<think>\n12",
        "oe-2": "\\boxed{4}",
    }
    folder = tmp_path / "evaluate" / "xs-reasoning-abc"
    for benchmark, rows in questions.items():
        data_file = tmp_path / "data" / f"{benchmark}.jsonl"
        write_lines(data_file, [{"id": i, "prompt": q, "answer": a} for i, q, a in rows])
        samples = [
            {"id": i, "answer": a, "response": responses[i], "correct": is_correct(responses[i], a)}
            for i, _, a in rows
        ]
        write_lines(folder / "samples" / f"{benchmark}.jsonl", samples)
        (folder / "tasks").mkdir(exist_ok=True)
        (folder / "tasks" / f"{benchmark}.yaml").write_text(
            f"task: sor_{benchmark}\ndataset_path: json\n"
            f"dataset_kwargs:\n  data_files:\n    test: {data_file}\n"
            "process_results: !function sor_hooks.process_results\n"
        )
    return folder


def case_blind(item):
    """Yes when the boxed answer matches the reference ignoring case; no verdict without one."""
    if "\\boxed{" not in item.response or item.response.rfind("<think>") > item.response.rfind("</think>"):
        return None
    return item.response.rsplit("\\boxed{", 1)[1].rstrip("}").lower() == item.reference.lower()


def test_rescore_folder_writes_per_item_verdicts_agreement_and_a_summary(tmp_path):
    folder = evaluated_student(tmp_path)
    judges = [
        RuleJudge("lenient", case_blind),
        RuleJudge("also-lenient", case_blind),
        RuleJudge("never", lambda item: False),
    ]
    summary = rescore_folder(folder, judges)
    assert summary["benchmark"].tolist() == ["mc", "oe"]
    # mc: rule-based misses "b" for B (1/2); the two lenient judges accept it (2/2)
    # oe: 007 right, the unfinished trace and 4 wrong: 1/3 either way
    assert summary["accuracy_rule_based"].tolist() == pytest.approx([0.5, 1 / 3])
    assert summary["accuracy_jury"].tolist() == pytest.approx([1.0, 1 / 3])
    assert summary["jury_agrees_with_rules"].tolist() == pytest.approx([0.5, 1.0])
    assert summary["missing_verdicts"].tolist() == [0, 2]  # both lenient judges on the open trace
    questions = [item.question for item in judges[0].seen]
    assert questions == ["Pick B.", "Pick C.", "Write 007.", "Write 12.", "Write 3."]
    rows = [json.loads(line) for line in (folder / "jury" / "oe.jsonl").read_text().splitlines()]
    assert rows[0] == {
        "id": "oe-0",
        "answer": "007",
        "correct": True,
        "lenient": True,
        "also-lenient": True,
        "never": False,
        "jury_correct": True,
    }
    assert rows[1]["lenient"] is None and rows[1]["jury_correct"] is False
    agreement = json.loads((folder / "jury" / "agreement.json").read_text())
    assert set(agreement) == {"mc", "oe"}
    assert agreement["mc"]["judges"] == ["lenient", "also-lenient", "never"]
    assert agreement["mc"]["with_rule_based"]["never"]["agreement"] == 0.5
    assert sorted(p.name for p in (folder / "jury").iterdir()) == ["agreement.json", "mc.jsonl", "oe.jsonl"]


def test_questions_come_from_a_benchmarks_folder_when_given(tmp_path):
    assert benchmark_file(tmp_path / "eval", "mc", tmp_path / "data") == tmp_path / "data" / "mc.jsonl"
    folder = evaluated_student(tmp_path)
    for task_yaml in (folder / "tasks").iterdir():
        task_yaml.unlink()
    with pytest.raises(FileNotFoundError, match="give benchmarks_folder"):
        rescore_folder(folder, [RuleJudge("one", case_blind)])
    summary = rescore_folder(folder, [RuleJudge("one", case_blind)], benchmarks_folder=tmp_path / "data")
    assert summary["n"].tolist() == [2, 3]


@pytest.mark.slow
def test_sor_jury_rescores_every_evaluated_student_of_a_study(chat_server, smoke_reference, tmp_path):
    import shutil

    import yaml

    from conftest import PARAMETERS, run_sor

    url, received = chat_server
    runs = tmp_path / "runs"
    shutil.copytree(smoke_reference, runs)  # the shared reference stays as it was
    data = yaml.safe_load((PARAMETERS / "smoke.yaml").read_text())
    data["jury"] = {
        "judges": [{"kind": "openai", "model": "judge-model", "base_url": url, "name": "scripted"}]
    }
    params = tmp_path / "smoke-jury.yaml"
    params.write_text(yaml.safe_dump(data))
    finished = run_sor("jury", str(params), runs_dir=runs, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    table = pd.read_csv(runs / "smoke" / "jury.csv")
    students = len(data["recipes"]) * len(data["students"]["scales"]) + len(data["curricula"]["recipes"])
    assert len(table) == students * len(data["benchmarks"])
    assert {"accuracy_rule_based", "accuracy_jury", "scale", "recipe"} <= set(table.columns)
    assert len(received) >= table["n"].sum()  # one request per judged item (plus retries)
    without_jury = run_sor("jury", "parameters/smoke.yaml", runs_dir=runs, timeout=120)
    assert without_jury.returncode == 2 and "no `jury:` section" in without_jury.stderr
