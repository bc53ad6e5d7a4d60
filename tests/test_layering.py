"""The package is layered: configuration, core, the unit graph, then one sub-package per stage,
orchestration and the interface on top. A module imports its own layer or layers below it, inside
functions included, and no import cycle exists."""

import textwrap

import pytest

from import_graph import LAYERS, PACKAGE, SOURCE, cycles, imports, layer_of, report, unknown_layers, upward


@pytest.fixture(scope="module")
def graph():
    return imports()


def test_every_module_is_in_a_layer(graph):
    modules, _ = graph
    assert len(modules) > 40
    assert unknown_layers(modules) == []
    assert {layer_of(m) for m in modules} == {*LAYERS, "package"}


def test_no_import_cycle(graph):
    assert cycles(*graph) == []


def test_no_module_imports_a_layer_above_its_own(graph):
    _, edges = graph
    assert [f"{e.source}:{e.line} imports {e.target}" for e in upward(edges)] == []


def test_no_module_of_the_package_is_imported_inside_a_function(graph):
    """Function-level imports are for optional heavy packages (vLLM), never to dodge a cycle. The
    one exception is the command line: nothing imports it, so no cycle can hide there, and each
    command loads its stages (and torch, papermill, lm-eval under them) only when it runs, so that
    `sor --help` answers at once."""
    modules, edges = graph
    assert f"{PACKAGE}.cli" in modules and not [e for e in edges if e.target == f"{PACKAGE}.cli"]
    inside = [f"{e.source}:{e.line} imports {e.target}" for e in edges if e.in_function]
    assert [line for line in inside if not line.startswith(f"{PACKAGE}.cli:")] == []


def test_only_the_unit_graph_computes_unit_folders_and_fingerprints():
    unit_folders = ("data_dir", "train_dir", "eval_dir", "analysis_dir", "curriculum_dir", "transfer_dir")
    for path in (SOURCE / PACKAGE).rglob("*.py"):
        if path.name == "units.py" or path.parent.name == "config":  # config defines `fingerprint`
            continue
        text = path.read_text()
        assert "fingerprint(" not in text, path
        assert not any(f"def {name}(" in text for name in unit_folders), path


def _write_package(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_checks_see_cycles_hidden_in_functions_and_upward_imports(tmp_path):
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/config/__init__.py": "",
            "pkg/config/params.py": """
                def late():
                    from ..data import tasks  # upward, and closes a cycle
            """,
            "pkg/data/__init__.py": "",
            "pkg/data/tasks.py": "from ..config import params\n",
            "pkg/core/__init__.py": "",
            "pkg/core/text.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from ..data import tasks  # only for type checkers: not counted
            """,
        },
    )
    modules, edges = imports(tmp_path, "pkg")
    assert cycles(modules, edges) == [["pkg.config.params", "pkg.data.tasks"]]
    assert [(e.source, e.target, e.in_function) for e in upward(edges, "pkg")] == [
        ("pkg.config.params", "pkg.data.tasks", True)
    ]
    assert not any(e.source == "pkg.core.text" for e in edges)


def test_the_report_prints_every_layer_and_no_problem():
    text = report()
    for layer in LAYERS:
        assert any(line.startswith(layer) for line in text.splitlines())
    assert "0 cycles, 0 upward imports" in text and "problem:" not in text
