"""`docs/parameters.md` is what the parameter models say: every key, its type, default and comment."""

from conftest import REPO
from scale_or_reason.config import params
from scale_or_reason.config.reference import reference, sections


def test_the_committed_reference_is_the_generated_one():
    committed = (REPO / "docs" / "parameters.md").read_text()
    assert committed == reference(), "docs/parameters.md is stale: run `make docs`"


def test_every_key_of_every_section_is_in_the_reference():
    text = reference()
    for key, model in sections(params.StudyParams):
        assert (f"## `{key}`" if key else "## Top level") in text
        for name in model.model_fields:
            assert f"| `{name}` |" in text, f"{key}.{name}"
    assert "| `max_length` | int or null | `None` |" in text  # a type and a default as YAML has them
