"""Synthetic task families: the embedded teacher's curriculum, mirroring the paper's 2×2 grid.

Each generator draws one `Problem` from a seeded `random.Random`: a prompt, the canonical final
answer, and the worked steps that really compute that answer. The teacher (`teachers.py`) turns the
steps into a `<think>` trace or drops them for the IFT form.

| family       | kind of task                                   | IFT can shortcut it?           |
|--------------|------------------------------------------------|--------------------------------|
| `math_oe`    | 3-digit × 1-digit word problem, open answer    | hardly: needs carried digits   |
| `math_mc`    | the same with four lettered options            | partly: first digits differ    |
| `general_oe` | sort a short list of digits                    | yes: counting is attention     |
| `general_mc` | pick the largest of four numbers (lettered)    | yes: comparison is attention   |

Variants: `test` draws from the training distribution (held out: arithmetic by its operands,
the rest by prompt), `rephrased` uses prompt templates never used in training, `harder` uses
larger numbers or longer lists than training ever shows, `related` asks a related task never
trained on, in the training prompt style and with its own worked steps:

| family       | related task                                                                   |
|--------------|--------------------------------------------------------------------------------|
| `math_oe`    | factors in swapped roles: "holds 6 apples … in 347 crates" (1-digit × 3-digit) |
| `math_mc`    | the same with four lettered options                                            |
| `general_oe` | sort from largest to smallest                                                  |
| `general_mc` | pick the smallest of four numbers                                              |

Why swapped factors for arithmetic rather than, say, addition: every digit fact the related
trace needs (one digit × the one-digit factor, plus a carry) is one the student has trained on;
only the roles change (the multi-digit number now comes second), so a student that learned the
procedure rather than the prompt's surface has a fair chance. Addition would need sums of two
prompt digits, a fact no trace ever wrote, and would likely leave every student at the floor,
where a gap measures nothing. A swapped product is keyed by its operands in the trained order,
so it is never a product trained on.

Traces are designed for students of well under a million parameters: each line does one step
that reads a nearby token or compares and counts the prompt's digits (a digit fact plus carry, a
digit and how often it occurs), never a positional copy of a whole list, which such students
learn far more slowly. Measured while designing the suite: modular lookups such as "4 months after
March" stayed near chance for IFT students even alone, and list copies stalled reasoning students.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from ..config.families import BENCHMARK_VARIANTS, FAMILIES
from ..core.answers import BOXED_INSTRUCTION

VARIANTS = ("train", *BENCHMARK_VARIANTS)
OPTION_LETTERS = "ABCD"


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
    """Long multiplication by a one-digit factor, one digit per line: the digit fact, then the
    carry added on its own, then the carry out and the running result.

    The running result grows one digit per line, so the final answer is a copy of the last line:
    the grain at which a sub-million-parameter student can compute (NOTES-cpu.md). The carry is
    added in a step of its own because a fact and an addition in one ("7 × 9 + 8 = 71") was the
    step students got wrong: the largest embedded student wrote every first-digit fact right and
    only 39% of the lines adding a carry (issue 13).
    """
    steps = [f"{a} × {b}"]
    digits = str(a)[::-1]
    carry, so_far = 0, ""
    for position, digit in enumerate(digits):
        fact = int(digit) * b
        product = fact + carry
        line = f"{digit} × {b} = {fact}" + (f", {fact} + {carry} = {product}" if carry else "")
        if position == len(digits) - 1:
            so_far = str(product) + so_far
            steps.append(f"{line}, so far {so_far}")
        else:
            carry, so_far = product // 10, str(product % 10) + so_far
            steps.append(f"{line}, carry {carry}, so far {so_far}")
    assert int(so_far) == a * b
    return tuple(steps)


def _multiplication_operands(rng: random.Random, variant: str) -> tuple[int, int]:
    digits = 4 if variant == "harder" else 3
    return rng.randint(10 ** (digits - 1), 10**digits - 1), rng.randint(2, 9)


def _template(rng: random.Random, variant: str, seen: tuple[str, ...], unseen: tuple[str, ...]):
    return rng.choice(unseen if variant == "rephrased" else seen)


def first_digits_line(options: list[int]) -> str:
    """The options' first digits in letter order: largest-of-four scans them to find the largest."""
    return "first digits: " + ", ".join(str(option)[0] for option in options)


def _with_options(question: str, options: list[str]) -> str:
    lines = [f"{letter}) {option}" for letter, option in zip(OPTION_LETTERS, options, strict=True)]
    return question + "\n" + "\n".join(lines)


def multiplication_distractors(a: int, b: int, rng: random.Random) -> list[int]:
    """Three wrong products of the right one's length, each with a first digit of its own, random
    middle digits and the right one's last digit.

    The last digit cannot decide, so a student without a trace must estimate the leading digits
    from the operands' (the shortcut that keeps multiple choice "partly" reachable); one that
    computed the product finds its option by its first digit, among numbers that otherwise look
    different, as in largest-of-four. Distractors that differed from the product in the first
    digit alone left every student at chance: with the same digits in every option, no student
    learned to find the product's option (issue 13).
    """
    right = str(a * b)
    firsts = rng.sample([digit for digit in "123456789" if digit != right[0]], 3)
    middles = ["".join(rng.choice("0123456789") for _ in right[1:-1]) for _ in firsts]
    return [int(first + middle + right[-1]) for first, middle in zip(firsts, middles, strict=True)]


CHECK_WORDS = {
    "head": "{p} starts with {target}: ",
    "item": "{letter} {first} vs {target} {verdict}",
    "yes": "yes {letter}",
    "no": "no",
}


def option_check(
    product: int, options: list[int], chosen: int | None = None, words: dict = CHECK_WORDS
) -> str:
    """Every option checked in letter order against the product's first digit, each by its own
    first digit beside the product's ("672 starts with 6: A 1 vs 6 no, B 6 vs 6 yes B, C 7 vs 6
    no, D 2 vs 6 no"); `chosen` (default the product) is the option the trace picks, `words` its
    wording.

    Each check copies an option's first digit from the prompt, keyed by its letter, repeats the
    product's digit beside it so that the verdict compares two digits two tokens apart, and names
    the letter again after "yes" so that the boxed letter is a copy of the token after it. Every
    way of going from the product back to a letter failed the embedded students first (issue 13):
    "672 is option B", "672: 6 B" and "2 is option A" at chance where the product was right in
    76-95%; a lettered scan of first digits opening the trace, checked against the distant "starts
    with 6", left half the verdicts wrong, checked up to the match taught a shortcut (the last
    digit checked is always the product's), and checked in full left the letter before "yes"
    unfound in half the items. Without the scan, in this form, two 334k seeds scored 0.82 and 0.89.
    """
    chosen = product if chosen is None else chosen
    target = str(product)[0]
    checks = [
        words["item"].format(
            letter=letter,
            first=str(option)[0],
            target=target,
            verdict=(words["yes"] if option == chosen else words["no"]).format(letter=letter),
        )
        for letter, option in zip(OPTION_LETTERS, options, strict=True)
    ]
    return words["head"].format(p=product, target=target) + ", ".join(checks)


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
    steps = (*multiplication_steps(a, b), option_check(a * b, options))
    return Problem("math_mc", "multiply_choice", prompt + "\n" + BOXED_INSTRUCTION, letter, steps, f"{a}x{b}")


# --- ordering -------------------------------------------------------------------------------

SORT_TEMPLATES = (
    "Sort from smallest to largest: {numbers}.",
    "Put in increasing order: {numbers}.",
    "{name} wrote the digits {numbers}. Sort them from smallest to largest.",
    "Order these digits from low to high: {numbers}.",
)
SORT_TEMPLATES_UNSEEN = ("Arrange {numbers} in ascending order.",)
LARGEST_TEMPLATES = (
    "Which number is the largest?",
    "{name} has four cards. Which card shows the largest number?",
    "Pick the biggest of these numbers.",
)
LARGEST_TEMPLATES_UNSEEN = ("Find the maximum among the options.",)
NAMES = ("Ana", "Ben", "Chen", "Dara", "Eli", "Femi")
COUNT_WORDS = ("none", "once", "twice", "three times", "four times", "five times", "six times")


def _join(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def counting_sort_steps(numbers: list[int]) -> tuple[str, ...]:
    """One line per distinct digit, smallest first, with how often it occurs; then the list.

    Each line needs only a comparison and a count over the prompt's digits, never a positional
    copy of the list, which students this small learn far more slowly.
    """
    steps = [f"{digit} appears {COUNT_WORDS[numbers.count(digit)]}" for digit in sorted(set(numbers))]
    return (*steps, f"sorted: {_join(sorted(numbers))}")


def general_open_ended(rng: random.Random, variant: str) -> Problem:
    length = rng.randint(6, 7) if variant == "harder" else rng.randint(3, 5)
    numbers = [rng.randint(0, 9) for _ in range(length)]
    question = _template(rng, variant, SORT_TEMPLATES, SORT_TEMPLATES_UNSEEN)
    prompt = question.format(name=rng.choice(NAMES), numbers=_join(numbers)) + " " + BOXED_INSTRUCTION
    return Problem("general_oe", "sort", prompt, _join(sorted(numbers)), counting_sort_steps(numbers))


def extreme_steps(options: list[int], pick=max, word: str = "largest") -> tuple[str, ...]:
    """Numbers of equal length: compare first digits, then the rest among the tied; `pick` is
    max (the largest, trained) or min (the smallest, the related task)."""
    firsts = [int(str(n)[0]) for n in options]
    chosen = pick(firsts)
    tied = [n for n in options if int(str(n)[0]) == chosen]
    steps = [first_digits_line(options), f"{word} first digit {chosen}: {_join(tied)}"]
    if len(tied) > 1:
        steps.append(f"{word} of these: {pick(tied)}")
    return tuple(steps)


def largest_steps(options: list[int]) -> tuple[str, ...]:
    return extreme_steps(options, max, "largest")


def general_multiple_choice(rng: random.Random, variant: str) -> Problem:
    low, high = (100, 999) if variant == "harder" else (10, 99)
    options = rng.sample(range(low, high + 1), 4)
    best = max(options)
    letter = OPTION_LETTERS[options.index(best)]
    question = _template(rng, variant, LARGEST_TEMPLATES, LARGEST_TEMPLATES_UNSEEN).format(
        name=rng.choice(NAMES)
    )
    steps = (*largest_steps(options), f"{best} is option {letter}")
    prompt = _with_options(question, [str(o) for o in options]) + "\n" + BOXED_INSTRUCTION
    return Problem("general_mc", "largest", prompt, letter, steps)


GENERATORS: dict[str, Callable[[random.Random, str], Problem]] = {
    "math_oe": math_open_ended,
    "math_mc": math_multiple_choice,
    "general_oe": general_open_ended,
    "general_mc": general_multiple_choice,
}


# --- related tasks (variant `related`): never trained, same prompt style ----------------------
# Separate generators, so the trained variants draw exactly the random numbers they always drew.


def swapped_multiplication_steps(a: int, b: int) -> tuple[str, ...]:
    """`b × a` with b the one-digit factor: restate it in the trained order, then the trained
    digit-by-digit lines."""
    return (f"{b} × {a} = {a} × {b}", *multiplication_steps(a, b)[1:])


def _swapped_question(rng: random.Random) -> tuple[int, int, str]:
    """A product of the trained size (3-digit × 1-digit), asked with the one-digit factor first."""
    a, b = _multiplication_operands(rng, "related")
    question = rng.choice(MULTIPLY_TEMPLATES).format(a=b, b=a)
    return a, b, question


def related_math_open_ended(rng: random.Random) -> Problem:
    a, b, question = _swapped_question(rng)
    prompt, steps = question + " " + BOXED_INSTRUCTION, swapped_multiplication_steps(a, b)
    return Problem("math_oe", "multiply_swapped", prompt, str(a * b), steps, f"{a}x{b}")


def related_math_multiple_choice(rng: random.Random) -> Problem:
    a, b, question = _swapped_question(rng)
    options = [a * b, *multiplication_distractors(a, b, rng)]
    rng.shuffle(options)
    letter = OPTION_LETTERS[options.index(a * b)]
    prompt = _with_options(question, [str(o) for o in options]) + "\n" + BOXED_INSTRUCTION
    steps = (*swapped_multiplication_steps(a, b), option_check(a * b, options))
    return Problem("math_mc", "multiply_swapped_choice", prompt, letter, steps, f"{a}x{b}")


SORT_DESCENDING_TEMPLATES = (
    "Sort from largest to smallest: {numbers}.",
    "Put in decreasing order: {numbers}.",
    "{name} wrote the digits {numbers}. Sort them from largest to smallest.",
    "Order these digits from high to low: {numbers}.",
)
SMALLEST_TEMPLATES = (
    "Which number is the smallest?",
    "{name} has four cards. Which card shows the smallest number?",
    "Pick the lowest of these numbers.",
)


def descending_sort_steps(numbers: list[int]) -> tuple[str, ...]:
    """The counting trace of `counting_sort_steps`, walked from the largest digit down."""
    largest_first = sorted(set(numbers), reverse=True)
    steps = [f"{digit} appears {COUNT_WORDS[numbers.count(digit)]}" for digit in largest_first]
    return (*steps, f"sorted: {_join(sorted(numbers, reverse=True))}")


def related_general_open_ended(rng: random.Random) -> Problem:
    numbers = [rng.randint(0, 9) for _ in range(rng.randint(3, 5))]  # the trained lengths
    question = rng.choice(SORT_DESCENDING_TEMPLATES).format(name=rng.choice(NAMES), numbers=_join(numbers))
    prompt, answer = question + " " + BOXED_INSTRUCTION, _join(sorted(numbers, reverse=True))
    return Problem("general_oe", "sort_descending", prompt, answer, descending_sort_steps(numbers))


def smallest_steps(options: list[int]) -> tuple[str, ...]:
    return extreme_steps(options, min, "smallest")


def related_general_multiple_choice(rng: random.Random) -> Problem:
    options = rng.sample(range(10, 100), 4)  # the trained two-digit range
    least = min(options)
    letter = OPTION_LETTERS[options.index(least)]
    question = rng.choice(SMALLEST_TEMPLATES).format(name=rng.choice(NAMES))
    steps = (*smallest_steps(options), f"{least} is option {letter}")
    prompt = _with_options(question, [str(o) for o in options]) + "\n" + BOXED_INSTRUCTION
    return Problem("general_mc", "smallest", prompt, letter, steps)


RELATED_GENERATORS: dict[str, Callable[[random.Random], Problem]] = {
    "math_oe": related_math_open_ended,
    "math_mc": related_math_multiple_choice,
    "general_oe": related_general_open_ended,
    "general_mc": related_general_multiple_choice,
}


def generate_problem(family: str, variant: str, rng: random.Random) -> Problem:
    if variant == "related":
        return RELATED_GENERATORS[family](rng)
    return GENERATORS[family](rng, variant)


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
        problem = generate_problem(family, variant, rng)
        if problem.prompt in seen_prompts or problem.identity in exclude:
            continue
        if _admissible(problem, variant, seed):
            seen_prompts.add(problem.prompt)
            problems.append(problem)
            if len(problems) == count:
                return problems
    raise ValueError(f"family {family!r} ({variant}) has too few distinct prompts for {count} problems")
