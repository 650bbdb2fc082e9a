"""Where a recorded call's instructions go: the cost per call of each function, read from the
Callgrind dump files of one process per arm (instructions.py keeps them in the run's callgrind/
directory, for callgrind_annotate or KCachegrind).

A dump file holds, per function, its own (self) cost and the inclusive cost of each call it made;
a function's inclusive cost is the sum of both (a call of itself is not added twice). As in
callgrind_annotate, a function that recurses through others (the interpreter's eval loop) can come
out above the whole. Per test, like the counts: (mean over the windows with calls - mean over the
empty windows) / calls, the first window discarded; the caller's thread and every other thread
(Retrace's writer) apart."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from retrace_bench import facts

CALLER, OTHERS = "caller", "others"
NAME_RE = re.compile(r"^\((\d+)\)(?: (.*))?$")


def _name(value: str, names: dict[str, str]) -> str:
    """A compressed name: '(id) name' defines id, '(id)' refers to it."""
    m = NAME_RE.match(value)
    if not m:
        return value
    ident, name = m.groups()
    if name is not None:
        names[ident] = name
        return name
    return names.get(ident, f"({ident})")


def read_functions(path: Path) -> dict[str, list]:
    """function -> [inclusive, self, object file's name] of one dump file."""
    names: dict[str, str] = {}
    objects: dict[str, str] = {}
    cost: dict[str, list] = {}
    current = callee = None
    obj = ""
    call_cost_next = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            head = line[:1]
            if head.isdigit() or head in "+-*":
                if current is None:
                    continue
                parts = line.split()
                ir = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                entry = cost.setdefault(current, [0, 0, obj])
                if call_cost_next:
                    call_cost_next = False
                    if callee != current:
                        entry[0] += ir
                else:
                    entry[0] += ir
                    entry[1] += ir
            elif line.startswith("fn="):
                current = _name(line[3:].rstrip("\n"), names)
            elif line.startswith("ob="):
                obj = Path(_name(line[3:].rstrip("\n"), objects)).name
            elif line.startswith("cob="):
                _name(line[4:].rstrip("\n"), objects)
            elif line.startswith("cfn="):
                callee = _name(line[4:].rstrip("\n"), names)
            elif line.startswith("calls="):
                call_cost_next = True
    return merge_levels(cost)


LEVEL_RE = re.compile(r"'\d+$")


def merge_levels(cost: dict[str, list]) -> dict[str, list]:
    """Callgrind names a function's recursion levels name'2, name'3 (--separate-recs): their self
    costs add up; the inclusive cost is the outer level's, which holds the inner ones."""
    merged: dict[str, list] = {}
    for function, (inclusive, own, obj) in cost.items():
        base = LEVEL_RE.sub("", function)
        entry = merged.setdefault(base, [0, 0, obj])
        entry[1] += own
        if function == base:
            entry[0] += inclusive
    for function, (inclusive, _, _) in cost.items():
        base = LEVEL_RE.sub("", function)
        if base not in cost:
            merged[base][0] = max(merged[base][0], inclusive)
    return merged


def window_functions(out_file: Path, read_dump) -> dict[str, dict[str, dict[str, list[int]]]]:
    """window name -> {caller, others} -> function -> [inclusive, self], from a process's dumps."""
    windows: dict[str, dict[str, dict[str, list[int]]]] = {}
    for path in out_file.parent.glob(f"{out_file.name}.*"):
        name, thread, _ = read_dump(path)
        if name is None:
            continue
        side = windows.setdefault(name, {CALLER: {}, OTHERS: {}})[CALLER if thread == 1 else OTHERS]
        for function, (inclusive, own, obj) in read_functions(path).items():
            entry = side.setdefault(function, [0, 0, obj])
            entry[0] += inclusive
            entry[1] += own
    return windows


def test_profile(test, windows: dict) -> dict[str, dict[str, list[float]]] | None:
    """{caller, others} -> function -> [inclusive, self, object] instructions per call of one test (its
    windows as in instruction_analysis.process_figures); only the functions that matter are kept:
    facts.PROFILE_KEPT_FUNCTIONS by inclusive cost and as many by self cost, per side."""
    counted = [w for w in (test.windows or [])[1:] if w.name in windows]
    full = [w for w in counted if w.calls]
    empty = [w for w in counted if not w.calls]
    if not full or not empty:
        return None
    calls = full[0].calls
    profile = {}
    for side in (CALLER, OTHERS):
        functions = set().union(*(windows[w.name][side] for w in counted))

        def per_call(function, column):
            def mean(group):
                return statistics.fmean(windows[w.name][side].get(function, (0, 0))[column] for w in group)
            return (mean(full) - mean(empty)) / calls
        objects = {fn: entry[2] for w in counted for fn, entry in windows[w.name][side].items()}
        figures = {fn: [per_call(fn, 0), per_call(fn, 1)] for fn in functions}
        outside = [fn for fn in figures if not interpreter(objects[fn]) and not unnamed(fn)]
        keep = set(sorted(figures, key=lambda fn: -abs(figures[fn][1]))[:facts.PROFILE_KEPT_FUNCTIONS])
        keep |= set(sorted(outside, key=lambda fn: -abs(figures[fn][0]))[:facts.PROFILE_KEPT_FUNCTIONS])
        profile[side] = {fn: [round(figures[fn][0], 1), round(figures[fn][1], 1), objects[fn]] for fn in sorted(keep)}
    return profile


def short_object(obj: str) -> str:
    """An object file's name without its ABI suffix (.cpython-311-x86_64-linux-gnu.so)."""
    return obj.split(".", 1)[0] or "?"


def short(function: str, width: int = 60) -> str:
    """A function's name for a table: C++ parameters dropped, cut to width."""
    name = function.split("(", 1)[0] + "()" if "(" in function and not function.startswith("(") else function
    return name if len(name) <= width else name[:width - 1] + "…"


INTERPRETER_RE = re.compile(r"^(lib)?python\d")


def interpreter(obj: str) -> bool:
    """Whether a function's object file is the Python interpreter itself (its eval loop and call
    machinery sit on the path to every operation)."""
    return bool(INTERPRETER_RE.match(obj))


def unnamed(function: str) -> bool:
    """An address Callgrind found no symbol for (a trampoline): it says nothing of where it goes."""
    return function.startswith("0x")


def top(side: dict[str, list], whole: float, count: int = facts.PROFILE_TOP) -> tuple[list, float]:
    """The `count` functions outside the interpreter (Retrace's, the C library's, an extension's)
    with the most inclusive cost per call, less those on the path to the operation (inclusive cost
    facts.PROFILE_SPINE_FRACTION of the whole or more: each is the whole, and says nothing of where
    it goes); and the interpreter's own cost per call (its eval loop running Retrace's Python code
    and the operation's)."""
    ranked = sorted(((fn, e) for fn, e in side.items() if not interpreter(e[2]) and not unnamed(fn)),
                    key=lambda item: -item[1][0])
    below = [(fn, inc, own, obj) for fn, (inc, own, obj) in ranked
             if not (whole > 0 and inc >= facts.PROFILE_SPINE_FRACTION * whole)]
    return below[:count], sum(e[1] for e in side.values() if interpreter(e[2]))


def changes(a: dict[str, list], b: dict[str, list], count: int = facts.PROFILE_TOP) -> list:
    """The functions whose own (self) cost per call changed most from a to b: (function, self in a,
    self in b, inclusive change, object). Self cost, because an inclusive change is shared by every
    caller up the stack; the function where instructions were added or removed is the one whose own
    cost moved."""
    none = [0, 0, ""]
    rows = [(fn, a.get(fn, none)[1], b.get(fn, none)[1], b.get(fn, none)[0] - a.get(fn, none)[0],
             (b.get(fn) or a.get(fn))[2]) for fn in sorted(a.keys() | b.keys())]
    rows.sort(key=lambda row: -abs(row[2] - row[1]))   # ties by name: the same text every time
    return [row for row in rows if abs(row[2] - row[1]) >= 0.5][:count]      # a change of a whole instruction
