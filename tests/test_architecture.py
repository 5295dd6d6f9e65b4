"""The layering holds: the import contract can fail, no import cycles, no oversized module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gateway"
MAX_LINES = 350
WRONG_IMPORT = "gateway.core.model -> gateway.cli"


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the project copy at ``project`` with its own pyproject.toml."""
    command = [str(Path(sys.executable).with_name("lint-imports")),
               "--config", str(project / "pyproject.toml"), "--no-cache"]
    # The copy must shadow the installed (editable) gateway package.
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "gateway",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_a_core_module_importing_an_edge_breaks_both_contracts(project_copy: Path) -> None:
    untouched = lint_imports(project_copy)
    assert WRONG_IMPORT not in untouched.stdout, untouched.stdout

    model = project_copy / "gateway" / "core" / "model.py"
    model.write_text(model.read_text() + "\nimport gateway.cli\n")
    broken = lint_imports(project_copy)

    assert broken.returncode != 0, broken.stdout
    report = broken.stdout
    assert WRONG_IMPORT in report, report
    assert "gateway.core is not allowed to import gateway.cli" in report, report
    broken_section = report.split("Broken contracts", 1)[-1]
    assert "The core imports nothing of the project" in broken_section, report
    assert "Layers: imports point down" in broken_section, report


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so that a deep import chain cannot exhaust the stack."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            if successors:
                nxt = successors.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": ["b"], "b": ["c"], "c": []}, []),
        ({"a": ["b"], "b": ["a"], "c": ["a"]}, [["a", "b"]]),
        ({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["e"], "e": ["d"]}, [["a", "b", "c"],
                                                                        ["d", "e"]]),
    ],
    ids=["chain", "pair", "two-cycles"],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, list[str]],
                                       expected: list[list[str]]) -> None:
    found = sorted(c for c in strongly_connected(graph) if len(c) > 1)
    assert found == expected


def gateway_graph() -> grimp.ImportGraph:
    # Imports made only for the type checker never run, so they cannot form a cycle; the
    # layer contract still forbids the upward ones.
    return grimp.build_graph("gateway", exclude_type_checking_imports=True, cache_dir=None)


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    return [c for c in strongly_connected(edges) if len(c) > 1]


def test_an_import_back_up_the_graph_is_a_cycle() -> None:
    graph = gateway_graph()
    importer, imported = next(
        (importer, imported) for importer in sorted(graph.modules)
        for imported in sorted(graph.find_modules_directly_imported_by(importer)))
    graph.add_import(importer=imported, imported=importer)
    assert any({importer, imported} <= set(cycle) for cycle in import_cycles(graph))


def test_no_import_cycles_between_the_modules_of_the_gateway() -> None:
    cycles = import_cycles(gateway_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_module_of_the_gateway_is_over_the_line_limit() -> None:
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines())
             for path in sorted(PACKAGE.rglob("*.py"))}
    assert sizes, PACKAGE
    offenders = {path: lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert not offenders, f"modules over {MAX_LINES} lines: " + ", ".join(
        f"{path} ({lines})" for path, lines in sorted(offenders.items(), key=lambda i: -i[1]))
