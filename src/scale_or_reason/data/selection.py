"""Data-efficient selection (issue 7; arXiv 2508.09883): a candidate pool with several traces per
question, and strategies that pick a training set of a given size from it.

The pool: the programmatic teacher writes each question's trace several ways that compute the
same thing (`equivalent_traces`), and a controlled share of the traces is made wrong by one wrong
step whose consequences the rest of the trace follows (`inject_errors`), so that filters have
something to remove. Every trace is regenerated from what the question states (the operands, the
list, the options) in a *style*, a wording and an order of the lines, optionally with a *slip*:

- `multiply`: no line can move (carries run right to left), so its traces differ in wording.
  Slips: a digit fact off by −10, −1, +1, +2 or +10, or the carry into a digit forgotten.
- `multiply_choice`: as `multiply`, then every option's first digit checked beside the
  product's (`tasks.option_check`); keeping the slips whose wrong product is an option;
  failing any (the usual case), the right product checked to a wrong option.
- `sort`: the digit counts can come in any order (none depends on another); the list is still
  written out smallest first. Slip: a digit counted once too often or (if twice or more) too rarely.
- `largest`: the options can be scanned in any order. Slips: the second-largest first digit taken
  for the largest, or the smaller number of a tie taken for the larger.

Wording 0 in the canonical order is the teacher's own trace (`tasks.py`); every task has
`WORDINGS` wordings. `trace_chars` counts the characters of the reasoning target, the length the
`length_cap` strategy caps: the embedded tokenizer gives every digit its own token, so characters
follow its token counts more closely than words do ("7·6+4=28" is one word and eight tokens).
"""

from __future__ import annotations

import difflib
import math
import random
import re
from collections.abc import Callable
from itertools import combinations, permutations

from ..core.answers import is_correct
from .tasks import CHECK_WORDS, COUNT_WORDS, Problem, draw_problems, option_check
from .teachers import pair_row, reasoning_text

WORDINGS = 4
OPTION_LINE = re.compile(r"^([A-D])\) (\d+)$", re.M)

# --- multiplication ------------------------------------------------------------------------------

MULTIPLY_WORDINGS = (
    {
        "header": "{a} × {b}",
        "fact": "{d} × {b}",
        "plus": ", {p} + {c}",
        "is": " = {p}",
        "carry": ", carry {k}, so far {s}",
        "last": ", so far {s}",
        "check": CHECK_WORDS,
    },
    {
        "header": "{a} times {b}",
        "fact": "{d} times {b}",
        "plus": ", {p} plus {c}",
        "is": " is {p}",
        "carry": ", carry {k}, result {s}",
        "last": ", result {s}",
        "check": {
            "head": "{p} begins with {target}: ",
            "item": "option {letter} {first} against {target} {verdict}",
            "yes": "match {letter}",
            "no": "no match",
        },
    },
    {
        "header": "{b} × {a}",
        "fact": "{b} × {d}",
        "plus": "; {p} + {c}",
        "is": " = {p}",
        "carry": "; carry {k}; so far {s}",
        "last": "; so far {s}",
        "check": {
            "head": "first digit of {p} is {target}; ",
            "item": "{letter}={first} vs {target} {verdict}",
            "yes": "yes {letter}",
            "no": "no",
        },
    },
    {
        "header": "multiply {a} by {b}",
        "fact": "{d}·{b}",
        "plus": " {p}+{c}",
        "is": "={p}",
        "carry": " carry {k} → {s}",
        "last": " → {s}",
        "check": {
            "head": "{p} → {target}: ",
            "item": "{letter}:{first}/{target} {verdict}",
            "yes": "✓ {letter}",
            "no": "✗",
        },
    },
)


def multiplication_lines(a: int, b: int, wording: int, slip: tuple | None = None) -> tuple[list[str], int]:
    """The header and digit lines of a × b (a digit fact, the carry added, the carry out), and the
    product they reach. `slip`: ("fact", position, delta) puts that digit's fact off by delta;
    ("carry", position) forgets the carry into that digit."""
    words = MULTIPLY_WORDINGS[wording]
    lines, carry, so_far = [words["header"].format(a=a, b=b)], 0, ""
    digits = str(a)[::-1]
    for position, digit in enumerate(digits):
        added = 0 if slip == ("carry", position) else carry
        delta = slip[2] if slip and slip[:2] == ("fact", position) else 0
        fact = int(digit) * b + delta
        if fact < 0:
            raise ValueError(f"slip {slip} makes a digit product negative")
        product = fact + added
        line = words["fact"].format(d=digit, b=b) + words["is"].format(p=fact)
        if added:
            line += words["plus"].format(p=fact, c=added) + words["is"].format(p=product)
        if position == len(digits) - 1:
            so_far = str(product) + so_far
            lines.append(line + words["last"].format(s=so_far))
        else:
            carry, so_far = product // 10, str(product % 10) + so_far
            lines.append(line + words["carry"].format(k=carry, s=so_far))
    if so_far != str(int(so_far)):
        raise ValueError(f"slip {slip} leaves a leading zero")
    return lines, int(so_far)


def _slipped_product(a: int, b: int, slip: tuple) -> int | None:
    try:
        return multiplication_lines(a, b, 0, slip)[1]
    except ValueError:
        return None


def multiplication_slips(a: int, b: int) -> dict[tuple, int]:
    """Every one-line slip a trace could show that changes the product, with the product it reaches."""
    slips = [("fact", position, delta) for position in range(len(str(a))) for delta in (-10, -1, 1, 2, 10)]
    slips += [("carry", position) for position in range(1, len(str(a)))]
    reached = {slip: _slipped_product(a, b, slip) for slip in slips}
    return {slip: product for slip, product in reached.items() if product not in (None, a * b)}


def _options(prompt: str) -> dict[str, int]:
    return {letter: int(number) for letter, number in OPTION_LINE.findall(prompt)}


def _operands(key: str) -> tuple[int, int]:
    a, b = key.split("x")  # tasks.py keys arithmetic by its operands: "47x6"
    return int(a), int(b)


def _write_multiply(facts: dict, wording: int, order: str, slip: tuple | None) -> tuple[list[str], str]:
    lines, product = multiplication_lines(*facts["operands"], wording, slip)
    return lines, str(product)


def _write_multiply_choice(facts: dict, wording: int, order: str, slip: tuple | None):
    computed = slip if slip and slip[0] != "option" else None
    lines, product = multiplication_lines(*facts["operands"], wording, computed)
    letter_of = {number: letter for letter, number in facts["options"].items()}
    letter = slip[1] if slip and slip[0] == "option" else letter_of[product]
    options = [facts["options"][option_letter] for option_letter in sorted(facts["options"])]
    check = option_check(product, options, facts["options"][letter], MULTIPLY_WORDINGS[wording]["check"])
    return [*lines, check], letter


def _multiply_slips(facts: dict) -> list[tuple]:
    return list(multiplication_slips(*facts["operands"]))


def _multiply_choice_slips(facts: dict) -> list[tuple]:
    """Computing slips whose wrong product is one of the options; failing any, a right product
    matched to a wrong option (the distractors share only their length and last digit with the
    product, so a slip rarely reaches one and the fallback is the usual wrong trace)."""
    options = facts["options"]
    reached = multiplication_slips(*facts["operands"])
    slips = [slip for slip, product in reached.items() if product in options.values()]
    right = facts["operands"][0] * facts["operands"][1]
    return slips or [("option", letter) for letter, number in options.items() if number != right]


# --- sorting -------------------------------------------------------------------------------------

SORT_WORDINGS = (
    {"count": "{d} appears {n}", "sorted": "sorted: {numbers}"},
    {"count": "{d} occurs {n}", "sorted": "in order: {numbers}"},
    {"count": "digit {d}: {n}", "sorted": "ascending: {numbers}"},
    {"count": "the digit {d} is there {n}", "sorted": "from low to high: {numbers}"},
)


def _write_sort(facts: dict, wording: int, order: str, slip: tuple | None) -> tuple[list[str], str]:
    """One count line per distinct digit, in `order` (counts do not depend on one another), then
    the list written out from the counts, smallest first. `slip`: ("count", digit, delta)."""
    counts = {digit: facts["numbers"].count(digit) for digit in set(facts["numbers"])}
    if slip:
        counts[slip[1]] += slip[2]
    words = SORT_WORDINGS[wording]
    lines = [words["count"].format(d=digit, n=COUNT_WORDS[counts[int(digit)]]) for digit in order]
    written = ", ".join(str(digit) for digit in sorted(counts) for _ in range(counts[digit]))
    return [*lines, words["sorted"].format(numbers=written)], written


def _sort_slips(facts: dict) -> list[tuple]:
    numbers = facts["numbers"]
    digits = sorted(set(numbers))
    slips = [("count", digit, 1) for digit in digits if numbers.count(digit) + 1 < len(COUNT_WORDS)]
    # Down to "appears none" would not be a count line a trace writes: only counts of two or more drop.
    return slips + [("count", digit, -1) for digit in digits if numbers.count(digit) > 1]


def _sort_orders(facts: dict) -> list[str]:
    return ["".join(map(str, order)) for order in permutations(sorted(set(facts["numbers"])))]


# --- largest of four -----------------------------------------------------------------------------

LARGEST_WORDINGS = (
    {
        "scan": "first digits: {items}",
        "item": "{first}",
        "top": "largest first digit {top}: {tied}",
        "tie": "largest of these: {best}",
        "option": "{best} is option {letter}",
    },
    {
        "scan": "leading digits: {items}",
        "item": "{first}",
        "top": "top leading digit {top}: {tied}",
        "tie": "largest among them: {best}",
        "option": "option {letter} is {best}",
    },
    {
        "scan": "first digits: {items}",
        "item": "{letter} {first}",
        "top": "highest first digit {top} in {tied}",
        "tie": "the largest is {best}",
        "option": "{best} matches option {letter}",
    },
    {
        "scan": "first digit of each: {items}",
        "item": "{letter}={first}",
        "top": "{top} is the largest first digit: {tied}",
        "tie": "biggest of them: {best}",
        "option": "{best} → option {letter}",
    },
)


def _first_digits(options: dict[str, int]) -> dict[str, int]:
    return {letter: int(str(number)[0]) for letter, number in options.items()}


def _first_digits_scan(options: dict[str, int], words: dict[str, str], order: str) -> str:
    """The options' first digits in `order`, in `words`' scan and item wording (largest-of-four
    scans them to find the largest)."""
    firsts = _first_digits(options)
    return words["scan"].format(
        items=", ".join(words["item"].format(letter=letter, first=firsts[letter]) for letter in order)
    )


def _write_largest(facts: dict, wording: int, order: str, slip: tuple | None) -> tuple[list[str], str]:
    """The first digits scanned in `order` (any order finds the same maximum), the options with the
    largest, the largest of a tie, the option. `slip`: ("top", digit) or ("tie", number) taken
    for the largest."""
    options, words = facts["options"], LARGEST_WORDINGS[wording]
    firsts = _first_digits(options)
    top = slip[1] if slip and slip[0] == "top" else max(firsts.values())
    tied = [options[letter] for letter in order if firsts[letter] == top]
    best = slip[1] if slip and slip[0] == "tie" else max(tied)
    letter = next(letter for letter, number in options.items() if number == best)
    lines = [
        _first_digits_scan(options, words, order),
        words["top"].format(top=top, tied=", ".join(map(str, tied))),
    ]
    if len(tied) > 1:
        lines.append(words["tie"].format(best=best))
    return [*lines, words["option"].format(best=best, letter=letter)], letter


def _largest_slips(facts: dict) -> list[tuple]:
    """At least one always exists: if every first digit is the same, all four options tie."""
    options = facts["options"]
    firsts = sorted(set(_first_digits(options).values()))
    tied = sorted(number for number in options.values() if int(str(number)[0]) == firsts[-1])
    return [("top", digit) for digit in firsts[-2:-1]] + [("tie", number) for number in tied[:-1]]


def _largest_orders(facts: dict) -> list[str]:
    return ["".join(order) for order in permutations(sorted(facts["options"]))]


# --- one table for every task --------------------------------------------------------------------

Writer = Callable[[dict, int, str, "tuple | None"], tuple[list[str], str]]
WRITERS: dict[str, tuple[Writer, Callable[[dict], list[tuple]], Callable[[dict], list[str]]]] = {
    "multiply": (_write_multiply, _multiply_slips, lambda facts: [""]),
    "multiply_choice": (_write_multiply_choice, _multiply_choice_slips, lambda facts: [""]),
    "sort": (_write_sort, _sort_slips, _sort_orders),
    "largest": (_write_largest, _largest_slips, _largest_orders),
}


def question_facts(task: str, key: str, prompt: str, answer: str) -> dict:
    """What a trace writer needs of a question, recovered from a pair row's columns (the `answer`
    column is the right answer even when the trace is wrong)."""
    if task not in WRITERS:
        raise ValueError(f"no trace writer for task {task!r}; known: {', '.join(WRITERS)}")
    if task.startswith("multiply"):
        return {"operands": _operands(key), "options": _options(prompt)}
    if task == "sort":
        return {"numbers": [int(number) for number in answer.split(", ")]}
    return {"options": _options(prompt)}


def styles(task: str, facts: dict) -> list[str]:
    """Every style ("wording:order") of a question's trace; the teacher's own comes first."""
    orders = WRITERS[task][2](facts)
    return [f"{wording}:{order}" for wording in range(WORDINGS) for order in orders]


def write_trace(task: str, facts: dict, style: str, slip: tuple | None = None) -> str:
    """The reasoning target (think block, then the boxed answer the trace reaches) in `style`."""
    wording, order = style.split(":")
    lines, answer = WRITERS[task][0](facts, int(wording), order, slip)
    return reasoning_text(lines, answer)


def _problem_facts(problem: Problem) -> dict:
    return question_facts(problem.task, problem.identity, problem.prompt, problem.answer)


def equivalent_styles(problem: Problem, count: int, seed: int) -> list[tuple[str, str]]:
    """`count` distinct traces of one question as (style, reasoning): the teacher's own first, the
    others drawn at random (seeded per question) among all wordings and orders."""
    facts = _problem_facts(problem)
    own, *others = styles(problem.task, facts)
    random.Random(f"{seed}:traces:{problem.identity}").shuffle(others)
    chosen, seen = [], set()
    for style in [own, *others]:
        text = write_trace(problem.task, facts, style)
        if text not in seen:  # two orders can read the same (options with equal first digits)
            seen.add(text)
            chosen.append((style, text))
            if len(chosen) == count:
                return chosen
    raise ValueError(f"question {problem.identity!r} has only {len(chosen)} distinct traces, not {count}")


def equivalent_traces(problem: Problem, count: int, seed: int) -> list[str]:
    """`count` different reasoning targets for `problem` that compute the same answer."""
    return [text for _, text in equivalent_styles(problem, count, seed)]


def _corrupted(row: dict, rng: random.Random) -> dict:
    task = row["task"]
    facts = question_facts(task, row["key"], row["prompt"], row["answer"])
    style = row.get("trace_style") or styles(task, facts)[0]
    text = write_trace(task, facts, style, rng.choice(WRITERS[task][1](facts)))
    return {**row, "reasoning": text, "trace_correct": False, "trace_chars": len(text)}


def inject_errors(rows: list[dict], rate: float, seed: int) -> list[dict]:
    """Copies of `rows` in which exactly round(rate × n) traces, drawn with `seed`, carry one slip
    and end in the wrong answer it leads to (`trace_correct` False). Rows need the pair columns
    `task`, `key`, `prompt`, `answer`; a `trace_style` keeps the trace's wording and order."""
    if not 0 <= rate <= 1:
        raise ValueError(f"error rate must lie in [0, 1], not {rate}")
    rng = random.Random(f"{seed}:errors")
    wrong = set(rng.sample(range(len(rows)), round(rate * len(rows))))
    result = []
    for index, row in enumerate(rows):
        row = {**row, "trace_correct": row.get("trace_correct", True), "trace_chars": len(row["reasoning"])}
        result.append(_corrupted(row, rng) if index in wrong else row)
    return result


def candidate_pool(
    family: str, count: int, traces_per_question: int, error_rate: float, seed: int
) -> list[dict]:
    """`count` training questions of `family` with `traces_per_question` equivalent traces each, a
    share `error_rate` of all traces then made wrong. Rows: the pair schema (`reasoning` is this
    trace, `answer` and `ift` the right answer) plus `question_key`, `trace_id` (0 is the
    teacher's own trace), `trace_style`, `trace_correct` and `trace_chars` (characters)."""
    rows = []
    for question, problem in enumerate(draw_problems(family, "train", count, seed)):
        for trace, (style, text) in enumerate(equivalent_styles(problem, traces_per_question, seed)):
            row = pair_row(problem, "train", question)
            row.update(id=f"{family}-pool-{question:05d}-{trace}", reasoning=text)
            row.update(question_key=problem.identity)
            row.update(trace_id=trace, trace_style=style, trace_correct=True, trace_chars=len(text))
            rows.append(row)
    return inject_errors(rows, error_rate, seed)


# --- selection strategies ------------------------------------------------------------------------


def _fill(rows: list[dict], budget: int, seed: int) -> list[dict]:
    """`budget` of `rows` drawn at random with `seed` (all if fewer), in pool order. Every strategy
    draws from the same seeded stream, so strategies differ by what they admit, not by luck."""
    if budget < 0:
        raise ValueError(f"budget must be a non-negative number of rows, not {budget}")
    rng = random.Random(f"{seed}:select")
    return [rows[i] for i in sorted(rng.sample(range(len(rows)), min(budget, len(rows))))]


def select_random(pool: list[dict], budget: int, seed: int) -> list[dict]:
    return _fill(pool, budget, seed)


def select_correct_only(pool: list[dict], budget: int, seed: int) -> list[dict]:
    """Only traces whose final answer is the question's answer (the teacher knows it)."""
    return _fill([row for row in pool if is_correct(row["reasoning"], row["answer"])], budget, seed)


def nearest_rank(values: list[float], percentile: float) -> float:
    """The `percentile`-th percentile by nearest rank: a value that occurs, no interpolation."""
    if not values or not 0 < percentile <= 100:
        raise ValueError(f"need values and a percentile in (0, 100], not {percentile}")
    return sorted(values)[max(1, math.ceil(percentile / 100 * len(values))) - 1]


def select_length_cap(pool: list[dict], budget: int, seed: int, percentile: float = 50.0) -> list[dict]:
    """Only traces at most the pool's `percentile`-th percentile of `trace_chars` long."""
    cap = nearest_rank([row["trace_chars"] for row in pool], percentile)
    return _fill([row for row in pool if row["trace_chars"] <= cap], budget, seed)


def select_unsolved(pool: list[dict], budget: int, seed: int, *, solved: set[str] | frozenset) -> list[dict]:
    """Only questions not in `solved` (keys a cheap student already answers; computed elsewhere)."""
    return _fill([row for row in pool if row["question_key"] not in solved], budget, seed)


def trace_dissimilarity(first: str, second: str) -> float:
    """1 − difflib's similarity ratio, in [0, 1]. No edit-distance library (rapidfuzz,
    Levenshtein) is installed; autojunk is off, as it would drop frequent characters (digits,
    spaces) from traces of 200 characters or more; the pair is ordered so the result is symmetric."""
    first, second = sorted((first, second))
    return 1 - difflib.SequenceMatcher(None, first, second, autojunk=False).ratio()


def most_distant(texts: list[str], keep: int) -> list[int]:
    """Indices (ascending) of `keep` texts far apart: the most distant pair, then repeatedly the text
    whose nearest kept text is farthest; ties go to the earlier text."""
    if len(texts) <= keep:
        return list(range(len(texts)))
    if keep < 2:
        return list(range(keep))  # one trace has no distance to maximise: the teacher's own
    pairs = combinations(range(len(texts)), 2)
    distance = {(i, j): trace_dissimilarity(texts[i], texts[j]) for i, j in pairs}
    chosen = list(max(distance, key=distance.get))
    while len(chosen) < keep:
        rest = [i for i in range(len(texts)) if i not in chosen]
        chosen.append(max(rest, key=lambda i: min(distance[min(i, j), max(i, j)] for j in chosen)))
    return sorted(chosen)


def select_diverse(pool: list[dict], budget: int, seed: int, per_question: int = 2) -> list[dict]:
    """Per question the `per_question` traces furthest apart (`trace_dissimilarity`), then `budget`
    of those."""
    questions: dict[str, list[dict]] = {}
    for row in pool:
        questions.setdefault(row["question_key"], []).append(row)
    kept = set()
    for rows in questions.values():
        kept |= {id(rows[i]) for i in most_distant([row["reasoning"] for row in rows], per_question)}
    return _fill([row for row in pool if id(row) in kept], budget, seed)


STRATEGIES = {
    "random": select_random,
    "correct_only": select_correct_only,
    "length_cap": select_length_cap,
    "unsolved": select_unsolved,
    "diverse": select_diverse,
}
