"""Render a --history run (history.analyse): summary.txt's text, summary.json and history.png (one
panel per operation: caller and other threads stacked, per release)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from retrace_bench import facts
from retrace_bench.instructions.analysis import CALLER, OTHERS, TOTAL
from retrace_bench.instructions.report import count_text, function_change_text
from retrace_bench.ops.history import HistoryResult, Step
from retrace_bench.render import RULE, pyplot
from retrace_bench.results import write_atomically



def step_text(s: Step) -> str:
    e = s.effect
    return (f"{s.a} -> {s.b}, {e.what}: {e.estimate:+,.0f} ({e.percent:+.1f}%) "
            f"[{e.confidence * 100:.3g}% CI {e.low:+,.0f} .. {e.high:+,.0f}]: {e.verdict}")


def duration_text(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def render(result: HistoryResult) -> str:
    config = result.config
    method = config.get("method", {})
    measured = [r for r in result.releases if r.release != "plain"]
    ok = [r for r in measured if r.status == "ok"]
    lines = [RULE, f"RETRACE RELEASE HISTORY: instructions per call per operation ({result.spec})", RULE,
             f"Releases: {len(measured)} asked, {len(ok)} measured"
             f" ({sum(r.from_cache for r in ok)} from the cache, {sum(not r.from_cache for r in ok)} now), "
             f"{len(measured) - len(ok)} failed. Python {config.get('python', '?')}; suite {config.get('suite_commit', '?')}.",
             f"Counted by Callgrind ({method.get('valgrind', 'valgrind')}): {method.get('rounds', '?')} processes per "
             f"release, {method.get('windows', '?')} windows each; ± is the 95% half-width over processes.",
             "A step: adjacent measured releases whose Welch interval excludes 0 and whose change is at least "
             f"{facts.INSTRUCTION_MIN_EFFECT_FRACTION:.0%} (caller and total each at 95% over",
             "the tests, Bonferroni, as in a run's instruction verdicts).",
             f"Cache: {config.get('cache', '?')}/ (delete it to measure again). This run took "
             f"{duration_text(config.get('seconds', 0))}.", ""]
    steps = result.steps()
    lines.append(f"## Steps ({len(steps)})")
    if not steps:
        lines.append("  none: no operation's caller or total cost changed beyond the resolution between adjacent "
                     "measured releases")
    for t, s in steps:
        lines.append(f"  {t.benchmark}: {t.name}: {step_text(s)}")
    lines += ["", "## Releases"]
    for r in result.releases:
        if r.status == "ok":
            where = (f"from the cache (measured {r.measured_at})" if r.from_cache
                     else f"measured now in {r.seconds or 0:.0f}s")
            lines.append(f"  {r.release:<10} ok, {where}")
        else:
            lines.append(f"  {r.release:<10} FAILED: {r.error}")
    lines += ["", "## Per operation (instructions per call: caller, other threads = Retrace's writer, total)",
              "  The chart: history.png."]
    for t in result.tests:
        plain = f"plain total {t.plain.figures[TOTAL].value:,.0f}" if t.plain else "plain: not measured"
        lines += ["", f"  {t.benchmark}: {t.name}   ({plain})",
                  f"    {'release':<10} {'caller':>22}   {'others':>22}   {'total':>22}"]
        for release in result.measured:
            a = t.points.get(release)
            if a is None:
                continue
            mark = " <- step" if any(s.b == release for s in t.steps) else ""
            lines.append(f"    {release:<10} {count_text(a.figures[CALLER]):>22}   {count_text(a.figures[OTHERS]):>22}   "
                         f"{count_text(a.figures[TOTAL]):>22}{mark}")
    with_functions: dict[tuple, list[Step]] = {}           # one list per test and pair of releases
    for t, s in steps:
        if s.functions:
            with_functions.setdefault((t.benchmark, t.name, s.a, s.b), []).append(s)
    if with_functions:
        lines += ["", "## The functions behind each step (own cost per call, from each release's profile)"]
        for (benchmark, name, a, b), found in with_functions.items():
            lines.append(f"  {benchmark}: {name}: {a} -> {b}, "
                         + ", ".join(f"{s.effect.what} {s.effect.estimate:+,.0f}" for s in found))
            for side, changes in found[0].functions.items():
                lines += [f"    {side:<7} {function_change_text(f)}" for f in changes]
    newest = [t for t in result.tests if t.newest and t.profiled()]
    if newest:
        a, b = result.measured[-2:]
        lines += ["", f"## What changed in the newest release, {b} against {a}, per operation (own cost per call; "
                      "whatever the verdicts)"]
        for t in newest:
            lines.append(f"  {t.benchmark}: {t.name}")
            for side, changes in t.newest.items():
                lines += [f"    {side:<7} {function_change_text(f)}" for f in changes[:facts.PROFILE_NEWEST_TOP]]
    lines += ["", "Raw Callgrind files of the releases measured now: callgrind/<release>/ in the run's archive "
              "(docs/instructions.md).", RULE, ""]
    return "\n".join(lines)


def to_json(result: HistoryResult) -> dict:
    data = asdict(result)
    for release in data["releases"]:
        del release["benchmarks"]                # every process's record: in history.json
    for t, test in zip(data["tests"], result.tests):
        t["steps"] = [{"a": step.a, "b": step.b, "measure": step.effect.what,
                       **{k: getattr(step.effect, k) for k in ("estimate", "low", "high", "reference", "verdict",
                                                                "confidence")},
                       "functions": s["functions"], "percent": step.effect.percent}
                      for s, step in zip(t["steps"], test.steps)]
    return {"history": data, "unit": "instructions per call"}


def render_chart(result: HistoryResult, path: Path) -> bool:
    """One panel per operation: per measured release, the caller's and the other threads'
    instructions per call stacked, the total's interval, plain as a line; steps marked."""
    if not result.tests or not result.measured:
        return False
    plt = pyplot()
    if plt is None:
        return False
    columns = 3
    rows = (len(result.tests) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.0 * rows), squeeze=False)
    releases = result.measured
    xs = list(range(len(releases)))
    for ax, t in zip(axes.flat, result.tests):
        caller = [t.points[r].figures[CALLER].value if r in t.points else 0 for r in releases]
        others = [max(0.0, t.points[r].figures[OTHERS].value) if r in t.points else 0 for r in releases]
        ax.bar(xs, caller, color="#2c6fbb", label="caller's thread")
        ax.bar(xs, others, bottom=caller, color="#e08a2c", label="other threads (writer)")
        for x, r in zip(xs, releases):
            e = t.points[r].figures[TOTAL] if r in t.points else None
            if e is not None and e.low is not None:
                ax.errorbar(x, e.value, yerr=[[e.value - e.low], [e.high - e.value]], color="black", capsize=2,
                            linewidth=0.8)
        for s in t.steps:
            x = releases.index(s.b)
            ax.annotate(f"{s.effect.percent:+.0f}%", (x, caller[x] + others[x]), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=7, color="#b00020")
        if t.plain:
            ax.axhline(t.plain.figures[TOTAL].value, color="grey", linestyle="--", linewidth=0.8, label="plain total")
        ax.set_title(f"{t.benchmark}: {t.name}"[:48], fontsize=8)
        ax.set_xticks(xs)
        ax.set_xticklabels(releases, rotation=60, fontsize=6)
        ax.tick_params(axis="y", labelsize=6)
    for ax in list(axes.flat)[len(result.tests):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, loc="lower left")
    fig.suptitle("Instructions per call per Retrace release (Callgrind; red: a step)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write(result: HistoryResult, directory: Path, progress=print) -> list[str]:
    """summary.txt, summary.json and history.png into the run directory."""
    text = render(result)
    write_atomically(directory / "summary.txt", text)
    write_atomically(directory / "summary.json", json.dumps(to_json(result), indent=1, ensure_ascii=False))
    written = ["summary.txt", "summary.json"]
    if render_chart(result, directory / "history.png"):
        written.append("history.png")
    progress(text)
    progress(f"Wrote {', '.join(written)}")
    return written
