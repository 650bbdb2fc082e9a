"""Render the programs workload: a row per program and arm, the geometric means, the chart."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from pathlib import Path

from retrace_bench import facts
from retrace_bench.arms import recorded_labels
from retrace_bench.inputs import InputError, read_text
from retrace_bench.instructions.analysis import CALLER, OTHERS, TOTAL
from retrace_bench.instructions.report import count_text
from retrace_bench.programs import analysis
from retrace_bench.programs.analysis import NOT_INSTALLED, UNMEASURED
from retrace_bench.programs.data import PROGRAMS_FILE
from retrace_bench.render import RULE, pyplot, ratio_text
from retrace_bench.section import Section


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(value) >= scale or unit == "ns":
            shown = value / scale
            return f"{shown:.3g} {unit}" if shown < 100 else f"{shown:.0f} {unit}"
    return "n/a"


def program_row_lines(row, labels: list[str]) -> list[str]:
    head = f"  {row.name}" + (f" ({row.category})" if row.category else "")
    if row.status in UNMEASURED:
        return [f"{head}: {row.status}: {row.detail}"]
    plain = row.arms[0]
    figure = "time per iteration" if row.kind == "pyperformance" else "wall time"
    lines = [f"{head}: {figure} plain {fmt_seconds(plain.time_s)}, CPU {fmt_seconds(plain.cpu_s)}, "
             f"RSS {rss_text(plain.peak_rss_mb)} ({plain.processes} processes; medians, for scale: the ratios "
             "below carry the intervals)"]
    for arm in row.arms[1:]:
        if arm.failure and not arm.processes:
            word = {"stopped": "STOPPED by the disk guard", "fails": "FAILS UNDER RECORDING",
                    "did not record": "DID NOT RECORD (no figure)"}[arm.failure_kind]
            lines.append(f"    {arm.label:<16} {word}: {arm.failure}")
            continue
        lines.append(f"    {arm.label:<16} {fmt_seconds(arm.time_s):>9}  {ratio_text(row.time_ratio.get(arm.label))}")
        trace = (f"trace {arm.trace_mb:.2f} MB ({arm.trace_mb_per_s:.2f} MB/s)"
                 if arm.trace_mb is not None and arm.trace_mb_per_s is not None else "trace n/a")
        lines.append(f"    {'':<16} CPU {fmt_seconds(arm.cpu_s)} = {ratio_text(row.cpu_ratio.get(arm.label))}; "
                     f"RSS {rss_text(arm.peak_rss_mb)}; {trace}")
        if arm.failure:
            lines.append(f"    {'':<16} {arm.failure_kind} in a later round: {arm.failure}")
        if arm.trace_note:
            lines.append(f"    {'':<16} note: {arm.trace_note}")
        if arm.label in row.version_ratio:
            lines.append(f"    {'':<16} against the baseline {recorded_labels(labels)[0]}: "
                         f"{ratio_text(row.version_ratio[arm.label])}")
        replay = row.replay.get(arm.label)
        if replay:
            lines.append(f"    {'':<16} replay of round 1: {replay['verdict']}"
                         + (f" ({replay['detail']})" if replay.get("detail") else "")
                         + f", {replay['seconds']:.1f} s against {replay['recorded_s'] or 0:.1f} s recorded")
    if row.output:
        lines.append(f"    output: {row.output}")
    return lines + program_instruction_lines(row, labels)


def program_instruction_lines(row, labels: list[str]) -> list[str]:
    """--program-instructions: each arm's count (per loop, or beyond start-up), the ratios."""
    if not row.instructions and not row.instructions_note:
        return []
    what = "per loop (pyperf --loops L and 2L)" if row.kind == "pyperformance" else "beyond start-up (less an empty script)"
    lines = [f"    instructions {what}:"]
    for label, figures in row.instructions.items():
        ratio = row.instruction_ratio.get(label)
        lines.append(f"    {label:<16} total {count_text(figures[TOTAL]).strip()} = caller "
                     f"{figures[CALLER].value:,.0f} + others {figures[OTHERS].value:,.0f}"
                     + (f"; {ratio_text(ratio)}" if ratio else ""))
        if label in row.instruction_version_ratio:
            lines.append(f"    {'':<16} against the baseline {recorded_labels(labels)[0]}: "
                         f"{ratio_text(row.instruction_version_ratio[label])}")
    if row.instructions_note:
        lines.append(f"    instructions: not counted in every arm: {row.instructions_note}")
    return lines


def rss_text(mb: float | None) -> str:
    return "n/a" if mb is None else f"{mb:.1f} MB" if mb < 10 else f"{mb:.0f} MB"


#: What RSS is, by the run's config "peak_rss": "own" (the helper forked each program), "n/a: why",
#: or missing (a run made before the helper: its RSS counts the driver's memory copied at the fork).
def rss_meaning(peak_rss: str | None) -> str:
    if peak_rss == "own":
        return "RSS = the program's own peak resident memory (forked by a small helper, so the driver's is not counted)."
    if peak_rss:
        return f"RSS = peak resident memory: {peak_rss}."
    return ("RSS = peak resident memory, counting the suite's driver's memory copied at the fork (about 21 MB; "
            "this run predates the helper that measures a program's own).")


def programs_lines(result, rounds: int | None, peak_rss: str | None = None) -> list[str]:
    """The summary's "Whole programs" sections: pyperformance, then the user's own commands.
    `peak_rss`: what the run's RSS figures are (rss_meaning)."""
    labels = [a["label"] for a in result.arms]
    lines = []
    for kind, title in (("pyperformance", "WHOLE PROGRAMS (pyperformance, pyperf worker mode)"),
                        ("command", "YOUR PROGRAMS (--program)")):
        rows = [r for r in result.rows if r.kind == kind]
        if not rows:
            continue
        measured = [r for r in rows if r.status not in UNMEASURED]
        lines += [RULE, title, RULE,
                  f"{len(rows)} programs, {len(measured)} run in every arm; {rounds or '?'} rounds, arm order from a Williams design. "
                  "ratio = recorded / plain,",
                  "the geometric mean of the per-round ratios, with its interval (Student's t on the log ratios,",
                  f"{result.confidence:.1%} per program: Bonferroni over {len(measured)}); 'within noise' when it "
                  f"contains 1x or is within {facts.MIN_EFFECT_FRACTION:.0%}.",
                  ("Time = pyperf's own time per iteration (its values); " if kind == "pyperformance"
                   else "Time = the process's wall time, start-up included; ")
                  + "CPU = the whole process until it exited",
                  "(Retrace's writer drains before a recorded process exits); child processes are not recorded.",
                  rss_meaning(peak_rss), ""]
        for row in rows:
            lines += program_row_lines(row, labels)
        lines.append("")
        for g in (g for g in result.geomeans if g.figure.startswith(kind)):
            what = "time" if g.figure.endswith("time") else "CPU"
            lines.append(f"Geometric mean {what}, {g.arm} / {g.against} over {len(g.programs)} programs: "
                         f"{ratio_text(g.ratio)}")
        broke = [r for r in rows if r.status == "fails under recording"]
        lines.append(f"Broke under recording: {len(broke)} of {len(measured)}"
                     + (": " + "; ".join(f"{r.name} ({r.detail})" for r in broke) if broke else ""))
        unrecorded = [r for r in rows if r.status == "did not record"]
        if unrecorded:
            lines.append(f"DID NOT RECORD (the suite could not verify a recording): "
                         f"{'; '.join(f'{r.name} ({r.detail})' for r in unrecorded)}")
        stopped = [r for r in rows if r.status == "stopped"]
        if stopped:
            lines.append(f"Stopped by the disk guard: {'; '.join(f'{r.name} ({r.detail})' for r in stopped)}")
        lines.append("")
    return lines


def render_programs_chart(result, path: Path) -> bool:
    """Recorded/plain time ratio per pyperformance benchmark, sorted, with intervals (log scale)."""
    plt = pyplot()
    if plt is None:
        return False
    labels = recorded_labels([a["label"] for a in result.arms])
    rows = sorted(((r.name, r.time_ratio[labels[0]]) for r in result.rows
                   if labels and labels[0] in r.time_ratio), key=lambda x: x[1].estimate)
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.6))
    ys = list(range(len(rows)))
    values = [r.estimate for _, r in rows]
    errors = [[r.estimate - (r.low or r.estimate) for _, r in rows], [(r.high or r.estimate) - r.estimate for _, r in rows]]
    ax.errorbar(values, ys, xerr=errors, fmt="o", color="#c0392b", capsize=3)
    ax.set_yticks(ys)
    ax.set_yticklabels([name for name, _ in rows], fontsize=8)
    ax.set_xscale("log")
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xlabel(f"{labels[0]} / plain time (95% intervals, Bonferroni; log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


#: summary.json's programs section carries each ratio with these fields (its format since programs began).
RATIO_FIELDS = ("estimate", "low", "high", "rounds", "verdict")
RATIO_KEYS = ("time_ratio", "cpu_ratio", "version_ratio", "instruction_ratio", "instruction_version_ratio")


def to_json(result) -> dict:
    """The program workload's part of summary.json."""
    def ratio(effect):
        return {k: getattr(effect, k) for k in RATIO_FIELDS}
    data = asdict(result)
    for row, found in zip(data["rows"], result.rows):
        for key in RATIO_KEYS:
            row[key] = {arm: ratio(e) for arm, e in getattr(found, key).items()}
    for g, found in zip(data["geomeans"], result.geomeans):
        g["ratio"] = ratio(found.ratio)
    return data


def run_failed(result) -> bool:
    """The program workload failed: a program did not record, did not install or failed plainly,
    or no program was measured at all (a run that measured nothing is no result)."""
    statuses = [r.status for r in result.rows]
    return (any(s in ("did not record", NOT_INSTALLED, "fails plainly") for s in statuses)
            or all(s in UNMEASURED for s in statuses))


def section(directory: Path) -> Section | None:
    """The program workload's part of the summary (programs.json), or None when the run had none."""
    path = directory / PROGRAMS_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(read_text(path))
        result = analysis.analyse(data)
        config = data.get("config", {})
        lines = programs_lines(result, config.get("rounds"), config.get("peak_rss"))
    except InputError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, statistics.StatisticsError,
            ZeroDivisionError):
        raise InputError(f"{path}: not a complete program workload result") from None
    labels = [a["label"] for a in result.arms]
    return Section("programs", lines, {"programs": to_json(result)}, analysis.effect_rows(result),
                   failed=run_failed(result), gates=len(recorded_labels(labels)) > 1, data=result,
                   write=lambda out: ["programs.png"] if render_programs_chart(result, out / "programs.png") else [])
