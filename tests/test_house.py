"""The library's layout: one folder per workload, of the same shape, and no import circle (a module
importing one that imports it back, at any depth, counting imports inside functions too)."""

import ast
from pathlib import Path

from conftest import ROOT

LIBRARY = ROOT / "retrace_bench"
WORKLOADS = ("ops", "programs", "service")
SHAPE = ("run.py", "analysis.py", "report.py")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The suite's modules that `path` imports, wherever the import statement is."""
    found = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
    return (found & modules) - {module_name(path)}


def graph() -> dict[str, set[str]]:
    paths = [p for p in LIBRARY.rglob("*.py")]
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_planted_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_library_has_no_import_circle():
    edges = graph()
    assert "retrace_bench.ops.run" in edges and edges["retrace_bench.ops.run"], "the import graph is empty"
    assert cycles(edges) == []


def test_each_workload_is_one_folder_of_the_same_shape():
    for workload in WORKLOADS:
        folder = LIBRARY / workload
        missing = [name for name in SHAPE if not (folder / name).is_file()]
        assert not missing, f"retrace_bench/{workload}/ lacks {missing}"
    stray = sorted(p.name for p in LIBRARY.glob("*.py")
                   if any(word in p.stem for word in ("service", "program", "engine", "analysis", "report")))
    assert stray == [], f"workload modules outside their folder: {stray}"
