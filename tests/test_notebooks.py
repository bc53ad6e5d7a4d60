"""The stage notebooks: parameters first, no outputs, and nothing undeclared reaches them."""

import copy
import json
import shutil
import subprocess

import nbformat
import papermill
import pytest
from jupyter_server.services.contents.filemanager import FileContentsManager
from traitlets.config import PyFileConfigLoader

from conftest import REPO
from scale_or_reason.config import paths
from scale_or_reason.orchestration.interface import UnknownNotebookParameter
from scale_or_reason.orchestration.lab import strip_notebook
from scale_or_reason.orchestration.notebooks import check_notebook_parameters, declared_parameters
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


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_the_declared_parameters_are_what_papermill_finds(path):
    assert declared_parameters(path) == list(papermill.inspect_notebook(str(path)))


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


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_committed_notebooks_are_what_the_lab_saves(path):
    """The pre-save hook's form, byte for byte: saving an unchanged notebook changes no file."""
    notebook = nbformat.read(path, as_version=4)
    assert nbformat.writes(strip_notebook(notebook)) + "\n" == path.read_text()


def lab_saved(notebook: nbformat.NotebookNode) -> dict:
    """What JupyterLab sends to the server after a run, as JSON: outputs, counts, its kernel's
    details."""
    ran = copy.deepcopy(notebook)
    ran.metadata["language_info"] = {"name": "python", "version": "3.11.7", "file_extension": ".py"}
    ran.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    for count, cell in enumerate(c for c in ran.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.metadata["scrolled"] = True
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    return json.loads(nbformat.writes(ran))


# jupyter_server validates a configured hook twice and warns that it replaces itself.
@pytest.mark.filterwarnings("ignore:Overriding existing pre_save_hook")
def test_saving_in_the_lab_keeps_git_status_clean_and_untracked_outputs(tmp_path):
    config_folder = REPO / "parameters" / "jupyter"
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(config_folder)).load_config()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    shutil.copy(NOTEBOOK_FILES[0], tmp_path / "tracked.ipynb")
    shutil.copy(REPO / ".gitignore", tmp_path / ".gitignore")  # the lab's checkpoints are ignored
    subprocess.run([*git, "add", "tracked.ipynb", ".gitignore"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "notebook"], cwd=tmp_path, check=True)
    manager = FileContentsManager(config=config, root_dir=str(tmp_path))
    ran = lab_saved(nbformat.read(NOTEBOOK_FILES[0], as_version=4))
    for name in ("tracked.ipynb", "scratch.ipynb"):
        manager.save({"type": "notebook", "format": "json", "content": copy.deepcopy(ran)}, name)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=tmp_path, capture_output=True, text=True)
    assert status.stdout == "?? scratch.ipynb\n"
    scratch = nbformat.read(tmp_path / "scratch.ipynb", as_version=4)
    assert any(cell.get("outputs") for cell in scratch.cells), "an untracked notebook keeps its outputs"
