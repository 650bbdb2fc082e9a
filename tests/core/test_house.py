"""The library's layout (docs/development.md): three workloads side by side, each one folder of the same
shape; below them the instructions measure and the shared core; above them the analyzer and the
driver. No workload imports another, no module imports a layer above its own, no import circle (at
any depth, counting imports inside functions too), and imports stand at the top of a file unless a
comment says why one is lazy."""

import ast
from pathlib import Path

from conftest import ROOT

LIBRARY = ROOT / "retrace_bench"
WORKLOADS = ("ops", "programs", "production")
#: The modules above the workloads: they read every workload's results (the analyzer, the driver).
TOP = ("driver", "summary", "glance", "html_page", "compare", "selfcheck", "selfcheck_plan")
#: Layers, lowest first: a module imports its own layer and the ones below, never above.
LAYERS = ("core", "instructions", "workload", "top")
SHAPE = ("run.py", "data.py", "analysis.py", "report.py")


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


def layer_of(module: str) -> tuple[str, str | None]:
    """(layer, workload) of a module of the library."""
    parts = module.split(".")[1:]
    if parts and parts[0] in WORKLOADS:
        return "workload", parts[0]
    if parts and parts[0] == "instructions":
        return "instructions", None
    if parts and parts[0] in TOP:
        return "top", None
    return "core", None


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Every import of a workload by another workload, or of a layer above the importer's."""
    found = []
    for module, imported in sorted(edges.items()):
        mine, workload = layer_of(module)
        for other in sorted(imported):
            theirs, their_workload = layer_of(other)
            if other == "retrace_bench":
                continue
            if LAYERS.index(theirs) > LAYERS.index(mine):
                found.append(f"{module} imports {other}, a layer above ({theirs} over {mine})")
            elif mine == theirs == "workload" and workload != their_workload:
                found.append(f"{module} imports {other}: a workload imports another")
    return found


def unexplained_lazy_imports() -> list[str]:
    """Imports inside functions without a comment on their line saying why they are lazy."""
    found = []
    for path in sorted(LIBRARY.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)) and "# lazy:" not in lines[sub.end_lineno - 1]:
                        found.append(f"{path.relative_to(ROOT)}:{sub.lineno}: {lines[sub.lineno - 1].strip()}")
    return found


def test_the_layer_rule_finds_a_planted_upward_and_sideways_import():
    edges = {"retrace_bench.facts": {"retrace_bench.ops.run"},                 # core -> workload
             "retrace_bench.programs.run": {"retrace_bench.production.load"},  # workload -> workload
             "retrace_bench.instructions.report": {"retrace_bench.summary"},   # instructions -> top
             "retrace_bench.ops.run": {"retrace_bench.instructions.callgrind", "retrace_bench.facts"},
             "retrace_bench.summary": {"retrace_bench.ops.run", "retrace_bench.production.report"}}
    assert len(violations(edges)) == 3


def test_the_workloads_are_peers_and_nothing_imports_upward():
    edges = graph()
    assert {layer_of(m)[1] for m in edges} >= set(WORKLOADS), "the import graph lacks a workload"
    assert violations(edges) == []


def test_imports_are_at_the_top_of_files_or_say_why_not():
    assert unexplained_lazy_imports() == []


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
                   if any(word in p.stem for word in ("production", "program", "engine", "analysis", "report")))
    assert stray == [], f"workload modules outside their folder: {stray}"


def test_each_workload_hands_the_summary_one_section():
    """The summary loops over the workloads' sections: each workload's report has `section`, and
    summary.sections names every workload's."""
    import importlib
    import inspect
    from retrace_bench import summary
    source = inspect.getsource(summary.sections)
    for workload in WORKLOADS:
        report = importlib.import_module(f"retrace_bench.{workload}.report")
        assert callable(getattr(report, "section", None)), f"retrace_bench/{workload}/report.py has no section()"
        assert f"{workload}_report.section(" in source, f"summary.sections leaves out {workload}"


def test_the_driver_runs_every_workload_in_its_own_process_not_a_child():
    """The driver calls each workload's run module; it never starts a top-level entry script (the
    production workload ran as `production_benchmark.py` in a child process before)."""
    tree = ast.parse((LIBRARY / "driver.py").read_text())
    named = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    entry_scripts = {p.name for p in ROOT.glob("*.py")}
    assert not named & entry_scripts, named & entry_scripts
    calls = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert "measure" in calls
