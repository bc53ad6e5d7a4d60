import pytest

from scale_or_reason.core.thinking import EMPTY_THINK_BLOCK
from scale_or_reason.data.sft_rows import chat_example
from scale_or_reason.data.teachers import synthetic_pairs


def render(tokenizer, messages, thinking, generation_prompt=False):
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation_prompt, enable_thinking=thinking
    )


def test_thinking_off_ends_the_generation_prompt_with_an_empty_think_block(small_tokenizer):
    user = [{"role": "user", "content": "Sort 3, 1."}]
    assert render(small_tokenizer, user, False, True).endswith("<|im_start|>assistant\n" + EMPTY_THINK_BLOCK)
    assert render(small_tokenizer, user, True, True).endswith("<|im_start|>assistant\n")
    default = small_tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    assert default.endswith("<|im_start|>assistant\n"), "thinking is on unless switched off"


@pytest.mark.parametrize("recipe", ["ift", "reasoning"])
def test_the_prompt_is_a_token_prefix_of_prompt_plus_completion(small_tokenizer, recipe):
    for row in synthetic_pairs("math_mc", "test", 20, seed=5):
        example = chat_example(row["prompt"], row[recipe], thinking=recipe == "reasoning")
        kwargs = example["chat_template_kwargs"]
        prompt = small_tokenizer.apply_chat_template(example["prompt"], add_generation_prompt=True, **kwargs)
        whole = small_tokenizer.apply_chat_template(example["prompt"] + example["completion"], **kwargs)
        prompt_ids, whole_ids = prompt["input_ids"], whole["input_ids"]
        assert whole_ids[: len(prompt_ids)] == prompt_ids
        completion = small_tokenizer.decode(whole_ids[len(prompt_ids) :])
        assert completion == row[recipe] + "<|im_end|>\n"


def test_think_tags_survive_decoding_without_special_tokens(small_tokenizer):
    text = "<think>\n2 × 3 = 6\n</think>\n\n\\boxed{6}"
    ids = small_tokenizer(text + "<|im_end|>", add_special_tokens=False)["input_ids"]
    assert small_tokenizer.decode(ids, skip_special_tokens=True) == text


def test_every_digit_is_its_own_token(small_tokenizer):
    tokens = small_tokenizer.tokenize("carry 12345")
    digits = [t for t in tokens if any(ch.isdigit() for ch in t)]
    assert len(digits) == 5


def test_end_of_turn_is_eos_and_padding_is_separate(small_tokenizer):
    assert small_tokenizer.eos_token == "<|im_end|>"
    assert small_tokenizer.pad_token_id != small_tokenizer.eos_token_id


def test_a_saved_student_loads_back_the_same_tokenizer(small_tokenizer, tmp_path, smoke_study):
    """transformers 5 picks a checkpoint's tokenizer class from its model type: the reloaded
    tokenizer must cut text exactly as the one the student was trained with."""
    from scale_or_reason.core.hub import load_tokenizer
    from scale_or_reason.training.students import build_student, student_config

    build_student(
        student_config(smoke_study.students.scales["tiny"], small_tokenizer, 64), 0
    ).save_pretrained(tmp_path)
    small_tokenizer.save_pretrained(tmp_path)
    reloaded = load_tokenizer(tmp_path)
    messages = [
        {"role": "user", "content": "A box has 47 pencils. How many in 6 boxes?"},
        {"role": "assistant", "content": "<think>\n7 × 6 = 42\n</think>\n\n\\boxed{282}"},
    ]
    for thinking in (True, False):
        assert reloaded.apply_chat_template(
            messages, enable_thinking=thinking
        ) == small_tokenizer.apply_chat_template(messages, enable_thinking=thinking)
    assert reloaded.eos_token_id == small_tokenizer.eos_token_id
