"""Synthetic task families: the embedded teacher's curriculum, mirroring the paper's 2×2 grid.

Each generator draws one `Problem` from a seeded `random.Random`: a prompt, the canonical final
answer, and the worked steps that really compute that answer. The teacher (`teachers.py`) turns the
steps into a `<think>` trace or drops them for the IFT form.

| family       | kind of task                                   | IFT can shortcut it?           |
|--------------|------------------------------------------------|--------------------------------|
| `math_oe`    | multiplication word problem, open answer       | hardly: needs carried digits   |
| `math_mc`    | the same with four lettered options            | partly: magnitudes differ      |
| `general_oe` | month arithmetic ("4 months after March")      | yes: a small lookup table      |
| `general_mc` | weekday arithmetic with four lettered options  | yes: a small lookup table      |

Variants: `test` draws from the training distribution (held out: arithmetic by its operands,
calendar questions by prompt), `rephrased` uses prompt templates never used in training, `harder`
uses larger operands or offsets longer than a cycle, which training never shows.

Traces are designed for students of well under a million parameters: each line does one step
that reads a nearby token (a digit fact plus carry, the next month), never a positional copy of a
whole list, which such students learn far more slowly.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

FAMILIES = ("math_oe", "math_mc", "general_oe", "general_mc")
VARIANTS = ("train", "test", "rephrased", "harder")
BOXED_INSTRUCTION = "Put the final answer in \\boxed{}."
OPTION_LETTERS = "ABCD"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True)
class Problem:
    family: str
    task: str
    prompt: str
    answer: str
    steps: tuple[str, ...]
    key: str = ""  # what makes two problems the same question; the prompt unless set

    @property
    def identity(self) -> str:
        return self.key or self.prompt


# --- multiplication --------------------------------------------------------------------------

MULTIPLY_TEMPLATES = (
    "A crate holds {a} apples. How many apples are in {b} crates?",
    "Each bus carries {a} people. How many people ride in {b} buses?",
    "A book has {a} pages. How many pages are in {b} copies of the book?",
    "A farm packs {a} eggs a day. How many eggs does it pack in {b} days?",
    "A box has {a} pencils. How many pencils are in {b} boxes?",
    "A train car seats {a} passengers. How many seats do {b} cars have?",
    "A shelf holds {a} jars. How many jars fit on {b} shelves?",
    "A runner does {a} laps a week. How many laps does she do in {b} weeks?",
)
MULTIPLY_TEMPLATES_UNSEEN = (
    "Find the total number of items in {b} groups of {a} items each.",
    "What do you get when {b} boxes each contain {a} marbles? Count the marbles.",
)


def multiplication_steps(a: int, b: int) -> tuple[str, ...]:
    """Long multiplication by a one-digit factor, one digit fact plus carry per line.

    The running result grows one digit per line, so the final answer is a copy of the last line:
    the grain at which a sub-million-parameter student can compute (NOTES-cpu.md).
    """
    steps = [f"{a} × {b}"]
    digits = str(a)[::-1]
    carry, so_far = 0, ""
    for position, digit in enumerate(digits):
        product = int(digit) * b + carry
        fact = f"{digit} × {b}" + (f" + {carry}" if carry else "") + f" = {product}"
        if position == len(digits) - 1:
            so_far = str(product) + so_far
            steps.append(f"{fact}, so far {so_far}")
        else:
            carry, so_far = product // 10, str(product % 10) + so_far
            steps.append(f"{fact}, carry {carry}, so far {so_far}")
    assert int(so_far) == a * b
    return tuple(steps)


def _multiplication_operands(rng: random.Random, variant: str) -> tuple[int, int]:
    digits = 3 if variant == "harder" else 2
    return rng.randint(10 ** (digits - 1), 10**digits - 1), rng.randint(2, 9)


def _template(rng: random.Random, variant: str, seen: tuple[str, ...], unseen: tuple[str, ...]):
    return rng.choice(unseen if variant == "rephrased" else seen)


def _with_options(question: str, options: list[str]) -> str:
    lines = [f"{letter}) {option}" for letter, option in zip(OPTION_LETTERS, options)]
    return question + "\n" + "\n".join(lines)


def multiplication_distractors(a: int, b: int, rng: random.Random) -> list[int]:
    """Three wrong products sharing the right one's last digit, so it alone cannot decide.

    Candidates are the classic slips: a carry dropped at one position, and misplaced tens or
    hundreds.
    """
    right = a * b
    digits = [int(d) for d in str(a)[::-1]]
    candidates = set()
    for dropped in range(len(digits) - 1):
        total, carry = 0, 0
        for position, digit in enumerate(digits):
            product = digit * b + carry
            carry = 0 if position == dropped else product // 10
            total += (product % 10 if position < len(digits) - 1 else product) * 10**position
        candidates.add(total)
    candidates |= {right + 10, right - 10, right + 100, right - 100, right + 20}
    candidates = sorted(c for c in candidates if c > 0 and c != right)
    return rng.sample(candidates, 3)


def math_open_ended(rng: random.Random, variant: str) -> Problem:
    a, b = _multiplication_operands(rng, variant)
    question = _template(rng, variant, MULTIPLY_TEMPLATES, MULTIPLY_TEMPLATES_UNSEEN)
    prompt = question.format(a=a, b=b) + " " + BOXED_INSTRUCTION
    return Problem("math_oe", "multiply", prompt, str(a * b), multiplication_steps(a, b), f"{a}x{b}")


def math_multiple_choice(rng: random.Random, variant: str) -> Problem:
    a, b = _multiplication_operands(rng, variant)
    question = _template(rng, variant, MULTIPLY_TEMPLATES, MULTIPLY_TEMPLATES_UNSEEN)
    options = [a * b, *multiplication_distractors(a, b, rng)]
    rng.shuffle(options)
    letter = OPTION_LETTERS[options.index(a * b)]
    prompt = _with_options(question.format(a=a, b=b), [str(o) for o in options])
    steps = (*multiplication_steps(a, b), f"{a * b} is option {letter}")
    return Problem("math_mc", "multiply_choice", prompt + "\n" + BOXED_INSTRUCTION, letter, steps, f"{a}x{b}")


# --- calendars ------------------------------------------------------------------------------

MONTH_TEMPLATES = (
    "{name} moved in {month}. What month was it {n} months later?",
    "{name}'s project starts in {month} and takes {n} months. In which month does it end?",
    "{name} planted a tree in {month}. Which month is it {n} months after that?",
    "{name} starts a course in {month}. The course lasts {n} months. When does it end?",
    "{name} saved money from {month} for {n} months. In which month did the saving stop?",
)
MONTH_TEMPLATES_UNSEEN = ("Count {n} months forward from {month}. Which month is it?",)
NAMES = ("Ana", "Ben", "Chen", "Dara", "Eli", "Femi")
WEEKDAY_TEMPLATES = (
    "Today is {day}. What day of the week will it be in {n} days?",
    "A trip starts on a {day} and lasts {n} days. On what day of the week does it end?",
)
WEEKDAY_TEMPLATES_UNSEEN = ("Which weekday comes {n} days after a {day}?",)


def calendar_steps(names: tuple[str, ...], start: int, n: int) -> tuple[str, ...]:
    """Walk `n` steps forward through a cycle of names, one name per step.

    Whole cycles are removed first (`n = 12 × q + r`), so the walk is never longer than a cycle.
    """
    cycle = len(names)
    rest = n % cycle
    steps = [f"{n} = {cycle} × {n // cycle} + {rest}"] if n >= cycle else []
    if rest:
        walk = ", ".join(names[(start + k) % cycle] for k in range(1, rest + 1))
        steps.append(f"{names[start]} + {rest}: {walk}")
    else:
        steps.append(f"whole cycles: still {names[start]}")
    return tuple(steps)


def general_open_ended(rng: random.Random, variant: str) -> Problem:
    month = rng.randrange(12)
    n = rng.randint(12, 30) if variant == "harder" else rng.randint(1, 11)
    question = _template(rng, variant, MONTH_TEMPLATES, MONTH_TEMPLATES_UNSEEN)
    prompt = question.format(name=rng.choice(NAMES), month=MONTHS[month], n=n) + " " + BOXED_INSTRUCTION
    answer = MONTHS[(month + n) % 12]
    return Problem("general_oe", "months", prompt, answer, calendar_steps(MONTHS, month, n))


def general_multiple_choice(rng: random.Random, variant: str) -> Problem:
    day = rng.randrange(7)
    n = rng.randint(7, 20) if variant == "harder" else rng.randint(1, 6)
    right = WEEKDAYS[(day + n) % 7]
    options = [right, *rng.sample([d for d in WEEKDAYS if d != right], 3)]
    rng.shuffle(options)
    letter = OPTION_LETTERS[options.index(right)]
    question = _template(rng, variant, WEEKDAY_TEMPLATES, WEEKDAY_TEMPLATES_UNSEEN)
    prompt = _with_options(question.format(day=WEEKDAYS[day], n=n), options)
    steps = (*calendar_steps(WEEKDAYS, day, n), f"{right} is option {letter}")
    return Problem("general_mc", "weekday", prompt + "\n" + BOXED_INSTRUCTION, letter, steps)


GENERATORS: dict[str, Callable[[random.Random, str], Problem]] = {
    "math_oe": math_open_ended,
    "math_mc": math_multiple_choice,
    "general_oe": general_open_ended,
    "general_mc": general_multiple_choice,
}


HELD_OUT_SHARE = 0.2


def is_held_out(key: str, seed: int) -> bool:
    """Whether a keyed question (e.g. the operands `47x6`) is reserved for the test sets.

    Arithmetic is keyed by its operands, so a test product was never trained on under any
    phrasing: a student must compute it, not recall it. Other questions are keyed by their prompt.
    """
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") < HELD_OUT_SHARE * 2**32


def _admissible(problem: Problem, variant: str, seed: int) -> bool:
    if not problem.key:
        return True
    return is_held_out(problem.key, seed) != (variant == "train")


def draw_problems(
    family: str, variant: str, count: int, seed: int, exclude: set[str] | frozenset = frozenset()
) -> list[Problem]:
    """`count` distinct problems, none whose identity is in `exclude`; deterministic in `seed`.

    Keyed problems (arithmetic) are split by key: training draws only keys that are not held
    out, test variants only keys that are. The generator stream is seeded by a string, which
    `random` hashes with SHA-512, so the draw depends neither on PYTHONHASHSEED nor the platform.
    """
    if family not in GENERATORS:
        raise ValueError(f"unknown task family {family!r}; known: {', '.join(FAMILIES)}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    rng = random.Random(f"{seed}:{family}:{variant}")
    problems, seen_prompts = [], set()
    for _ in range(count * 50):
        problem = GENERATORS[family](rng, variant)
        if problem.prompt in seen_prompts or problem.identity in exclude:
            continue
        if _admissible(problem, variant, seed):
            seen_prompts.add(problem.prompt)
            problems.append(problem)
            if len(problems) == count:
                return problems
    raise ValueError(
        f"family {family!r} ({variant}) has too few distinct prompts for {count} problems"
    )
