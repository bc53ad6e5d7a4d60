import pytest

from scale_or_reason.core.answers import final_answer, is_correct, last_boxed
from scale_or_reason.core.thinking import after_thinking
from scale_or_reason.evaluation.scoring import SYNTHETIC_METRIC, process_results


@pytest.mark.parametrize(
    "response,expected",
    [
        ("\\boxed{282}", "282"),
        ("<think>\n47 × 6 ... \\boxed{99}\n</think>\n\n\\boxed{282}", "282"),
        ("<think>\nstill working \\boxed{282}", None),  # never closed: no answer
        ("</think>\n\n\\boxed{B}", "B"),  # IFT: the empty block sat in the prompt
        ("no box here", None),
        ("\\boxed{1, 3, 7} then \\boxed{2}", "2"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{12", None),  # cut by the token cap
    ],
)
def test_final_answer(response, expected):
    assert final_answer(response) == expected


def test_whitespace_does_not_matter_but_content_does():
    assert is_correct("\\boxed{1,3, 7}", "1, 3, 7")
    assert not is_correct("\\boxed{1, 7, 3}", "1, 3, 7")
    assert not is_correct("<think>\\boxed{C}", "C")


def test_helpers_and_lm_eval_hook():
    assert after_thinking("<think>a</think>b") == "b"
    assert last_boxed("x") is None
    assert process_results({"answer": "C"}, ["<think>\nC\n</think>\n\n\\boxed{C}"]) == {SYNTHETIC_METRIC: 1.0}
    assert process_results({"answer": "C"}, ["\\boxed{D}"]) == {SYNTHETIC_METRIC: 0.0}
