"""The parameters reference (`docs/parameters.md`), generated from the parameter models: every key
of a study's parameters file with its type, its default and the comment that explains it.

    python -m scale_or_reason.config.reference > docs/parameters.md   # or: make docs

The comments are the models' own (`config/params.py`): a section's docstring, the comment lines
above a field and the comment at the end of its line. `tests/test_reference.py` fails when the
committed file differs from what this writes.
"""

from __future__ import annotations

import inspect
import io
import re
import tokenize
import types
import typing
from functools import cache

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from . import params

HEADER = """# Parameters reference

Every key of a study's parameters file (`parameters/*.yaml`), generated from the parameter models
in `src/scale_or_reason/config/params.py` by `make docs`; do not edit by hand. A key without a
default is required. Any key may be changed for one run with `--set KEY=VALUE` (dotted keys, YAML
values) on `sor study`, `sor check` and `sor doctor`.
"""


@cache
def field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Field name → the comment lines just above it and the comment at the end of its line."""
    source = inspect.getsource(model)
    comments: dict[str, str] = {}
    above: list[str] = []
    line_comment: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            line_comment[token.start[0]] = token.string.lstrip("#").strip()
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        field = re.match(r"^    (\w+):", line)
        if field and field.group(1) in model.model_fields:
            parts = [*above, line_comment.get(number, "")] if not stripped.startswith("#") else above
            comments[field.group(1)] = " ".join(part for part in parts if part)
        above = []
    return comments


def type_name(annotation) -> str:
    """A field's type as a reader of YAML would write it."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in args if arg is not type(None)) + (
            " or null" if type(None) in args else ""
        )
    if origin is typing.Literal:
        return " | ".join(repr(arg) for arg in args)
    if origin is list:
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {type_name(args[0])} to {type_name(args[1])}" if args else "mapping"
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return f"section ({annotation.__name__})"
    return getattr(annotation, "__name__", str(annotation))


def default_text(field) -> str:
    if field.is_required():
        return "required"
    default = field.get_default(call_default_factory=True)
    if default is PydanticUndefined:
        return "required"
    if isinstance(default, BaseModel):
        return "see below" if default.model_dump() else "{}"
    return f"`{default!r}`" if default not in (None, [], {}) else f"`{default}`"


def sections(model: type[BaseModel], prefix: str = "") -> list[tuple[str, type[BaseModel]]]:
    """Every section under `model`, depth first, with its dotted key."""
    found = [(prefix, model)]
    for name, field in model.model_fields.items():
        for inner in _models_in(field.annotation):
            key = f"{prefix}.{name}" if prefix else name
            if inner is params.StudentScale:
                key += ".<scale>"
            found += sections(inner, key)
    return found


def _models_in(annotation) -> list[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def reference() -> str:
    """The whole reference, one table per section."""
    lines = [HEADER]
    seen: set[tuple[str, type]] = set()
    for key, model in sections(params.StudyParams):
        if (key, model) in seen:
            continue
        seen.add((key, model))
        doc = " ".join((inspect.getdoc(model) or "").split()) if model is not params.StudyParams else ""
        lines += [f"## `{key}`" if key else "## Top level", ""]
        if doc and not doc.startswith(BaseModel.__doc__.split("\n")[0][:20]):
            lines += [doc, ""]
        lines += ["| key | type | default | what it is |", "|---|---|---|---|"]
        comments = field_comments(model)
        for name, field in model.model_fields.items():
            cells = [f"`{name}`", type_name(field.annotation), default_text(field), comments.get(name, "")]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(reference(), end="")
