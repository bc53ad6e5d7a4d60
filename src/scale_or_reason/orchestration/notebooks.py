"""What a stage notebook takes: the names its `parameters` cell assigns, read from the file without
papermill or a kernel, so that the plan (`sor study --dry-run`) checks every unit in a second.

papermill only warns about a parameter the notebook does not declare; a unit refuses it instead.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from ..units import Unit
from .interface import UnknownNotebookParameter


def declared_parameters(notebook: Path) -> list[str]:
    """The names assigned at the top level of the notebook's cell tagged `parameters`, in order
    (what papermill's `inspect_notebook` lists for a Python notebook)."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    cell = next((c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return []
    names = []
    for statement in ast.parse("".join(cell["source"])).body:
        if isinstance(statement, ast.Assign):
            names += [target.id for target in statement.targets if isinstance(target, ast.Name)]
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names.append(statement.target.id)
    return names


def check_notebook_parameters(unit: Unit) -> None:
    declared = declared_parameters(unit.notebook)
    unknown = sorted(set(unit.parameters) - set(declared))
    if unknown:
        raise UnknownNotebookParameter(
            f"{unit.notebook.name} declares no parameter {', '.join(map(repr, unknown))} "
            f"(its parameters cell has: {', '.join(declared) or 'none'})"
        )
