"""Compute for the program workload: per program and arm its figures, its recorded/plain ratio of
time and of CPU with a paired interval (rounds are the pairs; the interval is Student's t on the
per-round log ratios, so that it is a ratio's interval), the version ratios against the baseline
release, and across programs the geometric mean ratio with its interval.

Per-program intervals are Bonferroni-adjusted over the programs measured, so that a recorded A/A
of N programs comes out within noise on all N at 95%; the geometric mean is one figure at 95%.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from retrace_bench import effects, facts
from retrace_bench.effects import Effect
from retrace_bench.instructions.analysis import CALLER, OTHERS, TOTAL, estimate
from retrace_bench.instructions.analysis import Estimate
from retrace_bench.programs.run import COMMAND, ProgramData, ProgramRun
from retrace_bench.stats import family_confidence, median_or_none


#: Row statuses of a program that was not measured at all (no figure, the row says why).
NOT_INSTALLED = "did not install"
UNMEASURED = ("not run", "fails plainly", NOT_INSTALLED)


@dataclass
class ArmFigures:
    label: str
    processes: int
    time_s: float | None = None            # median per-process time figure
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    trace_mb: float | None = None
    trace_mb_per_s: float | None = None
    failure: str | None = None             # its first failure, disk-guard stop or missing recording
    failure_kind: str | None = None        # fails / stopped / did not record
    trace_note: str | None = None


@dataclass
class ProgramRow:
    name: str
    kind: str
    category: str | None
    status: str                            # measured / fails under recording / fails plainly / stopped / not run
    detail: str | None = None
    arms: list[ArmFigures] = field(default_factory=list)
    time_ratio: dict[str, Effect] = field(default_factory=dict)      # recorded arm -> vs plain
    cpu_ratio: dict[str, Effect] = field(default_factory=dict)
    version_ratio: dict[str, Effect] = field(default_factory=dict)   # later release -> vs baseline
    output: str | None = None              # commands: is the output the same in every arm
    replay: dict = field(default_factory=dict)
    settings: dict | None = None
    # --program-instructions: arm -> caller / others / total (per loop, or beyond start-up), each a
    # mean over rounds with its interval; total ratios recorded/plain and against the baseline
    instructions: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    instruction_ratio: dict[str, Effect] = field(default_factory=dict)
    instruction_version_ratio: dict[str, Effect] = field(default_factory=dict)
    instructions_note: str | None = None


@dataclass
class GeoMean:
    arm: str
    against: str
    figure: str                            # time or CPU
    ratio: Effect
    programs: list[str]


@dataclass
class ProgramsResult:
    rows: list[ProgramRow]
    geomeans: list[GeoMean]
    broke: list[str]                       # "name (arm): error" of programs that fail only when recorded
    stopped: list[str]
    confidence: float
    arms: list[dict]


def ratio_of(pairs: list[tuple[float, float]], confidence: float, what: str = "time") -> Effect | None:
    """B/A from (a, b) pairs, one per round (effects.log_ratio); None without a pair."""
    return effects.log_ratio(what, pairs, confidence)


def by_round(runs: list[ProgramRun], arm: str, figure) -> dict[int, float]:
    return {r.round: figure(r) for r in runs if r.arm == arm and figure(r) is not None}


def paired(runs: list[ProgramRun], a: str, b: str, figure) -> list[tuple[float, float]]:
    fa, fb = by_round(runs, a, figure), by_round(runs, b, figure)
    return [(fa[n], fb[n]) for n in sorted(fa.keys() & fb.keys())]


def instruction_ratio(pairs: list[tuple[float, float]], confidence: float) -> Effect | None:
    """B/A of instruction counts, as ratio_of, judged as an exact count (effects.judge)."""
    return effects.log_ratio("instructions", pairs, confidence, exact=True)


def fill_instructions(row: ProgramRow, item: ProgramData, labels: list[str], recorded: list[str],
                      confidence: float) -> None:
    """The program's instruction counts (programs.count_program's rounds) into its row."""
    if item.instructions_skipped:
        row.instructions_note = item.instructions_skipped
    counted = [c for c in item.instructions if c.get("failure") is None]
    failed = next((c for c in item.instructions if c.get("failure")), None)
    if failed:
        row.instructions_note = f"{failed['arm']}: {failed['failure']}"
    totals: dict[str, dict[int, float]] = {}
    for label in labels:
        mine = [c for c in counted if c["arm"] == label]
        if not mine:
            continue
        row.instructions[label] = {CALLER: estimate([c["caller"] for c in mine]),
                                   OTHERS: estimate([c["others"] for c in mine]),
                                   TOTAL: estimate([c["caller"] + c["others"] for c in mine])}
        totals[label] = {c["round"]: c["caller"] + c["others"] for c in mine}

    def pairs(a: str, b: str) -> list[tuple[float, float]]:
        return [(totals[a][n], totals[b][n]) for n in sorted(totals.get(a, {}).keys() & totals.get(b, {}).keys())]
    for label in recorded:
        found = instruction_ratio(pairs(labels[0], label), confidence)
        if found:
            row.instruction_ratio[label] = found
    for label in recorded[1:]:
        found = instruction_ratio(pairs(recorded[0], label), confidence)
        if found:
            row.instruction_version_ratio[label] = found


def arm_figures(item: ProgramData, label: str) -> ArmFigures:
    runs = [r for r in item.runs if r.arm == label]
    good = [r for r in runs if r.figure_s is not None]
    bad = next((r for r in runs if r.figure_s is None), None)
    return ArmFigures(
        label, len(good), median_or_none(r.figure_s for r in good), median_or_none(r.wall_s for r in good),
        median_or_none(r.cpu_s for r in good), median_or_none(r.peak_rss_kb / 1024 if r.peak_rss_kb else None for r in good),
        median_or_none(r.trace_bytes / 1e6 if r.trace_bytes else None for r in good),
        median_or_none(r.trace_bytes / 1e6 / r.wall_s if r.trace_bytes and r.wall_s else None for r in good),
        (bad.stopped or bad.failure or bad.not_recorded) if bad else None,
        ("stopped" if bad.stopped else "fails" if bad.failure else "did not record") if bad else None,
        next((r.trace_note for r in good if r.trace_note), None))


def output_check(item: ProgramData, labels: list[str]) -> str | None:
    """Commands: whether every successful process printed the same output."""
    if item.kind != COMMAND:
        return None
    digests = {label: {r.output_sha256 for r in item.runs if r.arm == label and r.figure_s is not None}
               for label in labels}
    plain = digests.get(labels[0], set())
    if len(plain) > 1:
        return "differs between plain runs (the program's output is not deterministic)"
    differs = [label for label in labels[1:] if digests[label] and digests[label] != plain]
    failed = [label for label in labels if not digests[label]]
    if differs:
        return f"differs from plain under {', '.join(differs)}"
    if failed:
        return f"not compared under {', '.join(failed)} (no process there succeeded)"
    return "the same in every arm"


def row_of(item: ProgramData, labels: list[str], recorded: list[str], confidence: float) -> ProgramRow:
    row = ProgramRow(item.name, item.kind, item.category, "measured", settings=item.settings, replay=item.replay)
    if item.unavailable:
        row.status, row.detail = "not run", item.unavailable
        return row
    if item.setup_failure:
        row.status, row.detail = NOT_INSTALLED, item.setup_failure
        return row
    if item.plain_failure:
        row.status, row.detail = "fails plainly", item.plain_failure
        return row
    row.arms = [arm_figures(item, label) for label in labels]
    plain = row.arms[0]
    if plain.failure and not plain.processes:
        row.status, row.detail = "fails plainly", plain.failure
        return row
    for kind, status in (("stopped", "stopped"), ("fails", "fails under recording"),
                         ("did not record", "did not record")):
        found = [a for a in row.arms[1:] if a.failure_kind == kind]
        if found:
            row.status, row.detail = status, f"{found[0].label}: {found[0].failure}"
            break
    time_figure = lambda r: r.figure_s          # noqa: E731
    cpu_figure = lambda r: r.cpu_s if r.figure_s is not None else None   # noqa: E731
    for label in recorded:
        for target, figure, what in ((row.time_ratio, time_figure, "time"), (row.cpu_ratio, cpu_figure, "cpu")):
            found = ratio_of(paired(item.runs, labels[0], label, figure), confidence, what)
            if found:
                target[label] = found
    for label in recorded[1:]:
        found = ratio_of(paired(item.runs, recorded[0], label, time_figure), confidence)
        if found:
            row.version_ratio[label] = found
    row.output = output_check(item, labels)
    fill_instructions(row, item, labels, recorded, confidence)
    return row


def geomean(items: list[ProgramData], a: str, b: str, figure, name: str) -> GeoMean | None:
    """The geometric mean of B/A over the programs measured in both, paired by round: in each round
    every program's log ratio is averaged, and the interval is over rounds."""
    per_program = {}
    for item in items:
        fa, fb = by_round(item.runs, a, figure), by_round(item.runs, b, figure)
        pairs = {n: (fa[n], fb[n]) for n in fa.keys() & fb.keys() if fa[n] > 0 and fb[n] > 0}
        if pairs:
            per_program[item.name] = pairs
    if not per_program:
        return None
    rounds = sorted(set.intersection(*(set(p) for p in per_program.values())))
    if not rounds:
        return None
    logs = [statistics.fmean(math.log(p[n][1] / p[n][0]) for p in per_program.values()) for n in rounds]
    return GeoMean(b, a, name, effects.ratio_of_logs(name, logs, facts.CONFIDENCE), sorted(per_program))


def analyse(data: dict) -> ProgramsResult:
    """programs.json's content -> the figures of the summary's program sections."""
    arms = data["arms"]
    labels = [a["label"] for a in arms]
    recorded = [a["label"] for a in arms if a["kind"] == "retrace"]
    items = [ProgramData.from_json(p) for p in data["programs"]]
    measured = [i for i in items if not i.unavailable and not i.plain_failure and not i.setup_failure]
    confidence = family_confidence(facts.CONFIDENCE, len(measured))
    rows = [row_of(item, labels, recorded, confidence) for item in items]
    geomeans = []
    time_figure = lambda r: r.figure_s          # noqa: E731
    cpu_figure = lambda r: r.cpu_s if r.figure_s is not None else None   # noqa: E731
    for kind in (k for k in ("pyperformance", "command") if any(i.kind == k for i in measured)):
        group = [i for i in measured if i.kind == kind]
        for label in recorded:
            for name, figure in (("time", time_figure), ("CPU", cpu_figure)):
                found = geomean(group, labels[0], label, figure, f"{kind} {name}")
                if found:
                    geomeans.append(found)
        for label in recorded[1:]:
            found = geomean(group, recorded[0], label, time_figure, f"{kind} time")
            if found:
                geomeans.append(found)
    broke = [f"{r.name} ({r.detail})" for r in rows if r.status == "fails under recording"]
    stopped = [f"{r.name} ({r.detail})" for r in rows if r.status == "stopped"]
    # (rows that did not record are the suite's evidence failing, not the program breaking)
    return ProgramsResult(rows, geomeans, broke, stopped, confidence, arms)


def effect_rows(result: ProgramsResult) -> list[dict]:
    """Every program's ratios and the geometric means as summary.json's effect rows; a later
    release against the baseline is gated on time (per program) and on the geometric means."""
    plain = result.arms[0]["label"] if result.arms else "plain"
    rows = []
    for r in result.rows:
        for ratios, kind in ((r.time_ratio, "overhead"), (r.cpu_ratio, "overhead"), (r.instruction_ratio, "overhead")):
            rows += [effects.row(e, "programs", r.name, plain, arm, kind, False) for arm, e in ratios.items()]
        baseline = next((a["label"] for a in result.arms if a["kind"] == "retrace"), None)
        rows += [effects.row(e, "programs", r.name, baseline, arm, "versions", True) for arm, e in r.version_ratio.items()]
        rows += [effects.row(e, "programs", r.name, baseline, arm, "versions", False)
                 for arm, e in r.instruction_version_ratio.items()]
    for g in result.geomeans:
        versions = g.against != plain
        rows.append(effects.row(g.ratio, "programs", f"geometric mean of {len(g.programs)}", g.against, g.arm,
                                "versions" if versions else "overhead", versions))
    return rows
