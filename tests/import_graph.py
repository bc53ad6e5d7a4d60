"""The package's import graph, by layer: what the layering test checks, and what `make layers` prints.

    python tests/import_graph.py          # every layer, its modules and the layers they import

Every import between the package's own modules counts, the ones inside functions included (a cycle
hidden in a function is still a cycle); imports under `if TYPE_CHECKING:` do not. A module's layer
is its sub-package (`scale_or_reason.data.tasks` is in `data`) or, at the top, its own name.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "scale_or_reason"
SOURCE = Path(__file__).resolve().parents[1] / "src"
# Bottom to top: a module may import its own layer and the layers before it, never one after.
LAYERS = (
    "config",
    "core",
    "units",
    "data",
    "training",
    "evaluation",
    "analysis",
    "orchestration",
    "interface",
)
# Top-level modules that are the package's interface: the CLI and the README's public names.
INTERFACE = ("cli", "pareto", "teachers")


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str, package: str = PACKAGE) -> str:
    """The layer of a module of `package`; the package's own `__init__` is below every layer."""
    parts = module.split(".")[1:]
    if not parts:
        return "package"
    return "interface" if parts[0] in INTERFACE else parts[0]


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                skipped |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
    return skipped


def _function_nodes(tree: ast.AST) -> set[int]:
    functions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, functions)
        for statement in ast.iter_child_nodes(node)
        for inner in ast.walk(statement)
    }


def _targets(node: ast.AST, module: str, is_package: bool, modules: set[str]) -> list[str]:
    """The package modules an import statement names (`from pkg import submodule` names it)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    named = [f"{prefix}.{alias.name}" for alias in node.names]
    return [name if name in modules else prefix for name in named]


def imports(root: Path = SOURCE, package: str = PACKAGE) -> tuple[set[str], list[Import]]:
    """Every module of `package` under `root`, and every import between them."""
    files = {module_name(path, root): path for path in (root / package).rglob("*.py")}
    modules, found = set(files), []
    for module, path in sorted(files.items()):
        tree = ast.parse(path.read_text(), filename=str(path))
        skipped, in_functions = _type_checking_nodes(tree), _function_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            for target in _targets(node, module, path.name == "__init__.py", modules):
                if target in modules and target != module:
                    found.append(Import(module, target, node.lineno, id(node) in in_functions))
    return modules, found


def cycles(modules: set[str], edges: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph = defaultdict(set)
    for edge in edges:
        graph[edge.source].add(edge.target)
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(modules) + 100))
    for node in sorted(modules):
        if node not in index:
            visit(node)
    return found


def rank(layer: str) -> int:
    return -1 if layer == "package" else LAYERS.index(layer)


def upward(edges: list[Import], package: str = PACKAGE) -> list[Import]:
    """Imports of a layer above the importing module's own."""
    return [e for e in edges if rank(layer_of(e.target, package)) > rank(layer_of(e.source, package))]


def unknown_layers(modules: set[str], package: str = PACKAGE) -> list[str]:
    return sorted(m for m in modules if layer_of(m, package) not in (*LAYERS, "package"))


def report(root: Path = SOURCE, package: str = PACKAGE) -> str:
    """Every layer, bottom first: its modules and the layers (and modules) they import."""
    modules, edges = imports(root, package)
    lines = []
    for layer in LAYERS:
        members = sorted(m for m in modules if layer_of(m, package) == layer)
        short = [m.removeprefix(package + ".") for m in members]
        used = sorted({layer_of(e.target, package) for e in edges if e.source in members}, key=rank)
        below = [u for u in used if u != layer]
        lines.append(f"{layer:<14} imports {', '.join(below) or 'nothing of the package'}")
        lines.append(f"{'':<14} {', '.join(short)}")
    problems = cycles(modules, edges) + [[f"{e.source} → {e.target}"] for e in upward(edges, package)]
    in_functions = sum(e.in_function for e in edges)
    lines.append(
        f"\n{len(modules)} modules, {len(edges)} imports ({in_functions} inside functions), "
        f"{len(cycles(modules, edges))} cycles, {len(upward(edges, package))} upward imports"
    )
    lines += [f"problem: {' '.join(problem)}" for problem in problems]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
