"""The stage notebooks: parameters first, no outputs, and nothing undeclared reaches them."""

import nbformat
import pytest

from scale_or_reason.config import paths
from scale_or_reason.orchestration.execution import UnknownNotebookParameter, check_notebook_parameters
from scale_or_reason.units import STAGE_NOTEBOOKS as NOTEBOOKS
from scale_or_reason.units import Unit

NOTEBOOK_FILES = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))


def test_every_stage_has_its_notebook():
    assert {p.name for p in NOTEBOOK_FILES} >= set(NOTEBOOKS.values())


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_first_code_cell_is_the_tagged_parameters_cell_and_no_outputs_are_committed(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert all(not c.outputs and c.execution_count is None for c in code)
    if path.name in NOTEBOOKS.values():  # a stage notebook; 00_explore reads any finished study
        assert "parameters_file" in code[0].source


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_notebooks_only_orchestrate(path):
    """Logic lives in the package: no function or class is defined in a notebook."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert "def " not in cell.source and "class " not in cell.source


def test_an_undeclared_parameter_is_an_error(tmp_path):
    unit = Unit(
        "train",
        "tiny-ift",
        tmp_path,
        {"parameters_file": "x.yaml", "scale": "tiny", "recipe": "ift", "lr": 1},
    )
    with pytest.raises(UnknownNotebookParameter, match=r"02_train\.ipynb declares no parameter 'lr'"):
        check_notebook_parameters(unit)
    check_notebook_parameters(
        Unit("train", "tiny-ift", tmp_path, {"parameters_file": "x.yaml", "scale": "tiny", "recipe": "ift"})
    )
