"""Render instructions per call (instruction_analysis): the summary's text, summary.json's part,
benchmark-action.json's entries (unit "instructions") and instructions.png."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from retrace_bench import facts
from retrace_bench.arms import PLAIN
from retrace_bench.effects import Effect
from retrace_bench.instructions import profiles
from retrace_bench.instructions.analysis import (CALLER, OTHERS, TOTAL, Estimate, InstructionResult)
from retrace_bench.render import pyplot


def count_text(e: Estimate) -> str:
    """A figure with its spread: ±half-width in percent, or why it has none."""
    if e.low is None:
        return f"{e.value:>10,.0f} (one process: no interval)"
    half = (e.high - e.low) / 2
    if abs(e.value) < facts.INSTRUCTION_ABSOLUTE_BELOW:     # a percent of next to nothing says nothing
        return f"{e.value:>10,.0f} ±{half:,.0f}"
    return f"{e.value:>10,.0f} ±{half / abs(e.value) * 100:.1f}%"


def change_text(d: Effect) -> str:
    percent = f" ({d.percent:+.1f}%)" if d.percent is not None else ""
    if d.low is None:
        return f"{d.estimate:+,.0f}{percent}, no interval (one round): {d.verdict}"
    # The half-width as a share of A: what the ±2% resolution target of a versions run is judged on.
    half = f", ±{(d.high - d.low) / 2 / abs(d.reference) * 100:.1f}% of A" if d.reference else ""
    return (f"{d.estimate:+,.0f}{percent} [{d.confidence * 100:.3g}% CI {d.low:+,.0f} .. {d.high:+,.0f}{half}]: "
            f"{d.verdict}")


def method_lines(result: InstructionResult) -> list[str]:
    config = result.config
    took = f" The section took {config['seconds']:.0f} s." if isinstance(config.get("seconds"), (int, float)) else ""
    return [f"  Counted by Valgrind's Callgrind ({config.get('valgrind', 'valgrind')}): {config.get('rounds', '?')} "
            f"process(es) per arm, each test in {config.get('windows', '?')} windows of calls and as many empty",
            "  ones after a discarded window; per process (calls window - empty window) / calls. caller = the",
            "  thread that made the calls; others = every other thread (Retrace's writer and flusher; a test's",
            "  own threads); total = both. A recorded window closes once the trace stopped growing, so the",
            "  writer's deferred work is in it. ±: 95% Student-t half-width over processes. A difference is",
            "  called when its paired interval excludes 0 and it is at least "
            f"{facts.INSTRUCTION_MIN_EFFECT_FRACTION:.0%} of A, on the caller and on the total;",
            f"  each interval {result.comparison_confidence:.1%}, 95% over the run's tests (Bonferroni): a recorded "
            "call's count moves",
            "  1-2% between processes.",
            "  Instructions do not see waiting, kernel time or cache misses: wall time above is what a user feels."
            + took,
            *extension_lines(config)]


def extension_lines(config: dict) -> list[str]:
    """Which tests got more processes to reach the versions' target half-width, and how many."""
    extended, target = config.get("extended"), config.get("target_percent")
    if target is None:
        return []
    if not extended:
        return [f"  Every version comparison's caller half-width was within ±{target:g}% of the baseline after "
                f"{config.get('rounds', '?')} processes."]
    return [f"  Caller half-widths over ±{target:g}% between versions after {config.get('rounds', '?')} processes got more "
            "processes of the recorded arms,",
            "  each running its script up to the last of those tests with arguments as long as the first",
            "  processes' (a count moves with the process's memory layout); n below:",
            *(f"    {name} test(s) {', '.join(map(str, e['tests']))}: {e['processes']} per arm"
              + (f" (cut short when the section's {facts.INSTRUCTION_SECTION_BUDGET_S:g} s ran out)"
                 if e.get("cut_by_time") else "")
              for name, e in extended.items())]


def text_lines(result: InstructionResult | None, config: dict, checks=()) -> list[str]:
    if result is None:
        skipped = config.get("instructions_skipped")
        return (["", f"## Instructions per call: not counted ({skipped})"] if skipped else []) + \
            budget_lines(checks, config.get("budget", {}).get("file", "--budget"))
    lines = ["", "## Instructions per call (exact cost: what a regression gate can trust)", *method_lines(result)]
    lines += budget_lines(checks, config.get("budget", {}).get("file", "--budget"))
    for bench, arms in result.failures.items():
        for arm, reason in arms.items():
            lines.append(f"  FAILED ({bench}, {arm}): {reason}")
    for t in result.tests:
        calls = next(iter(t.arms.values())).calls if t.arms else 0
        lines += ["", f"  {t.benchmark}: {t.name}   ({calls:,} calls per window)"]
        for label, a in t.arms.items():
            lines.append(f"    {label:<18} caller {count_text(a.figures[CALLER])}   others "
                         f"{count_text(a.figures[OTHERS])}   total {count_text(a.figures[TOTAL])}")
        for c in t.comparisons:
            if c.kind == "versions":
                continue                        # in the versions section's table
            what = "overhead" if c.kind == "overhead" else "A/A"
            for measure, d in c.differences.items():
                lines.append(f"      {c.b} vs {c.a} {what}, {measure}: {change_text(d)}")
    return lines


def function_change_text(f) -> str:
    """One function's own cost per call in two arms or releases: before -> after (change; the
    change of its inclusive cost), its name and object file."""
    return (f"{f.own_a:>9,.0f} -> {f.own_b:>9,.0f} own ({f.own_b - f.own_a:+,.0f}; incl {f.inclusive_change:+,.0f})  "
            f"{profiles.short(f.function, 50)}  [{profiles.short_object(f.object)}]")


def profile_lines(result: InstructionResult | None) -> list[str]:
    """Where a recorded call's instructions go: per test where Retrace does work of its own, the top
    functions of each recorded arm's caller and other threads, and between versions the functions
    whose own cost changed most."""
    tests = [t for t in (result.tests if result else []) if t.profiles and t.profiled()]
    if not tests:
        return []
    lines = ["", "## Where the instructions go (Callgrind profile of each arm's first process)",
             "  Per call: incl = the function with what it called, own = in the function itself. Top "
             f"{facts.PROFILE_TOP} outside the",
             "  interpreter by inclusive cost, below the path to the operation (at "
             f"{facts.PROFILE_SPINE_FRACTION:.0%} of the whole or more); the",
             "  interpreter's own cost beside them (its eval loop: the operation's Python code and "
             "Retrace's). Shown where",
             f"  a recorded arm costs {facts.PROFILE_MIN_RATIO:g}x plain or more. Raw files: "
             f"{facts.CALLGRIND_DIRECTORY}/<script>/<arm>/ in the run's archive",
             "  (callgrind_annotate --inclusive=yes FILE; docs/instructions.md)."]
    for t in tests:
        lines += ["", f"  {t.benchmark}: {t.name}"]
        for label, sides in t.profiles.items():
            if label == PLAIN:
                continue
            for side in sides:
                lines.append(f"    {label} {side.side}: {side.whole:,.0f} per call, of which the interpreter's "
                             f"own {side.interpreter:,.0f}")
                lines += [f"      {f.inclusive:>9,.0f} incl {f.own:>8,.0f} own  {profiles.short(f.function, 50)}"
                          f"  [{profiles.short_object(f.object)}]" for f in side.top]
        for change in t.profile_changes:
            if change.functions:
                lines.append(f"    own cost changed most, {change.b} vs {change.a}, {change.side}:")
                lines += [f"      {function_change_text(f)}" for f in change.functions]
    return lines


def budget_lines(checks, source: str) -> list[str]:
    if not checks:
        return []
    over = [c for c in checks if c.exceeded]
    lines = ["", f"  Budgets ({source}): {len(checks) - len(over)} of {len(checks)} met"]
    for c in checks:
        if c.figure is None:
            lines.append(f"    MISSING {c.name} {c.measure}: no counted test of that name in this run")
        else:
            lines.append(f"    {'OVER  ' if c.exceeded else 'within'}  {c.name} {c.measure} ({c.arm}): "
                         f"{c.figure:,.0f} of {c.limit:,.0f} instructions per call ({c.figure / c.limit:.0%})")
    return lines


def versions_lines(result: InstructionResult | None) -> list[str]:
    """The versions section's headline: every test's caller and total change against the baseline."""
    rows = result.comparison("versions") if result else []
    if not rows:
        return []
    lines = ["  Instructions per call, B against the baseline A (exact; the regression gate's measure):",
             f"  {'test':<44} {'':<7} {'A':>10} {'B':>10} {'n':>3}   change"]
    for t, c in rows:
        lines.append(f"  {t.benchmark}: {t.name} ({c.b} vs {c.a})"[:80])
        for measure, d in c.differences.items():
            b = d.reference + d.estimate
            lines.append(f"  {'':<44} {measure:<7} {d.reference:>10,.0f} {b:>10,.0f} {d.rounds:>3}   {change_text(d)}")
    return lines + [""]


def format_2(effect: dict) -> dict:
    """An Effect (as a dict) in summary.json's instructions section, as archives carry it."""
    out = {("measure" if k == "what" else k): v for k, v in effect.items() if k not in ("unit", "target")}
    out["percent"] = out["estimate"] / out["reference"] * 100 if out["reference"] else None
    return out


def to_json(result: InstructionResult | None) -> dict | None:
    if result is None:
        return None
    data = asdict(result)
    for t in data["tests"]:
        for c in t["comparisons"]:
            c["differences"] = {m: format_2(d) for m, d in c["differences"].items()}
    data["unit"] = "instructions per call"
    data["min_effect_fraction"] = facts.INSTRUCTION_MIN_EFFECT_FRACTION
    return data


def action_entries(result: InstructionResult | None) -> list[dict]:
    """github-action-benchmark's customSmallerIsBetter entries: each arm's caller and total per call."""
    if result is None:
        return []
    entries = []
    for t in result.tests:
        for label, a in t.arms.items():
            for measure in (CALLER, TOTAL):
                e = a.figures[measure]
                entries.append({"name": f"{t.benchmark}: {t.name}: instructions {measure} {label}",
                                "unit": "instructions", "value": round(e.value),
                                "range": f"{e.low:,.0f}..{e.high:,.0f}" if e.low is not None else "n/a"})
    return entries


def render_chart(result: InstructionResult | None, path: Path) -> bool:
    """Per test and arm, the caller's and the other threads' instructions per call, stacked."""
    if result is None or not result.tests:
        return False
    plt = pyplot()
    if plt is None:
        return False
    rows = [(f"{t.benchmark}: {t.name} [{label}]", a) for t in result.tests for label, a in t.arms.items()]
    fig, ax = plt.subplots(figsize=(11, 0.32 * len(rows) + 1.8))
    ys = list(range(len(rows)))
    callers = [a.figures[CALLER].value for _, a in rows]
    others = [max(0.0, a.figures[OTHERS].value) for _, a in rows]
    ax.barh(ys, callers, height=0.7, color="#2c6fbb", label="caller's thread")
    ax.barh(ys, others, left=callers, height=0.7, color="#e08a2c", label="other threads (Retrace's writer)")
    for y, c, o in zip(ys, callers, others):
        ax.text(c + o, y, f" {c + o:,.0f}", va="center", fontsize=7)
    ax.set_yticks(ys)
    ax.set_yticklabels([label for label, _ in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("instructions per call (Callgrind)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
