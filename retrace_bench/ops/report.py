"""Render: the only place where verdicts and findings become words. One exporter per format."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from pathlib import Path

from retrace_bench import facts, services
from retrace_bench.arms import design_period
from retrace_bench.arms import recorded_labels
from retrace_bench.effects import Effect
from retrace_bench.inputs import InputError
from retrace_bench.instructions import analysis as instruction_analysis
from retrace_bench.instructions import budget
from retrace_bench.instructions import report as instruction_report
from retrace_bench.ops import analysis, parse
from retrace_bench.ops.analysis import Comparison, Finding, RunResult, TestResult
from retrace_bench.render import fmt_us, order_text, pyplot, rounds_text
from retrace_bench.replay import IDENTICAL, verdict_word
from retrace_bench.results import write_atomically
from retrace_bench.rounds import Target
from retrace_bench.section import Section

SECTION_TITLES = {
    "internal": "Internal code (spec Category A: 0% overhead expected)",
    "external": "External boundaries (spec Category B: +0.35-15 µs per operation expected)",
    "network": "Network calls (spec Category B) to PostgreSQL, Redis and HTTP servers on this machine",
}


def interval_text(d: Effect) -> str:
    if d.low is None:
        return "no interval (fewer than 2 paired rounds)"
    return f"95% CI {fmt_us(d.low, True)} .. {fmt_us(d.high, True)} µs/op"


def difference_text(d: Effect, versions: bool = False) -> str:
    percent = f" ({d.percent:+.0f}%)" if d.percent is not None else ""
    if d.verdict in (facts.WITHIN_NOISE, facts.CANNOT_TELL):
        head = f"{d.verdict} ({fmt_us(d.estimate, True)} µs/op{percent})"
    elif versions:
        head = f"{d.verdict}: {fmt_us(d.estimate, True)} µs/op{percent}"
    else:
        head = f"{fmt_us(d.estimate, True)} µs/op{percent}"
    return f"{head}   {interval_text(d)}, {d.rounds} rounds"


FINDING_TEXT = {
    "spec_internal_met": lambda f: f"{f['figure']} {fmt_us(f['overhead_us'], True)} µs: as the spec expects (0-5% or <1 µs per call)",
    "spec_internal_missed": lambda f: f"{f['figure']} {fmt_us(f['overhead_us'], True)} µs ({f['percent']:+.0f}%): NOT as the spec expects (0-5% or <1 µs per call)",
    "spec_boundary_none": lambda f: f"{f['figure']}: no measurable overhead (below the spec's +{facts.SPEC_BOUNDARY_RANGE_US[0]}-{facts.SPEC_BOUNDARY_RANGE_US[1]} µs)",
    "spec_boundary_within": lambda f: f"{f['figure']} {fmt_us(f['overhead_us'], True)} µs: within the spec's +{facts.SPEC_BOUNDARY_RANGE_US[0]}-{facts.SPEC_BOUNDARY_RANGE_US[1]} µs",
    "spec_boundary_outside": lambda f: f"{f['figure']} {fmt_us(f['overhead_us'], True)} µs: outside the spec's +{facts.SPEC_BOUNDARY_RANGE_US[0]}-{facts.SPEC_BOUNDARY_RANGE_US[1]} µs",
    "spec_undetermined": lambda f: (f"{f['figure']} {fmt_us(f['overhead_us'], True)} µs, interval up to {fmt_us(f['high_us'], True)}: too wide to judge the spec's claim (add rounds or --target-ci)"
                                    if f['high_us'] is not None else
                                    f"{f['figure']} {fmt_us(f['overhead_us'], True)} µs, no interval (one round): the spec's claim cannot be judged (add rounds)"),
    "spec_query_met": lambda f: f"latency {fmt_us(f['overhead_us'], True)} µs ({f['percent']:+.2f}%, at most {f['high_percent']:.2f}%): as the FAQ says (\"only {facts.SPEC_QUERY_PERCENT}% of a 5 ms database query\")",
    "spec_query_missed": lambda f: f"latency {fmt_us(f['overhead_us'], True)} µs ({f['percent']:+.2f}%): NOT as the FAQ says (\"only {facts.SPEC_QUERY_PERCENT}% of a 5 ms database query\")",
    "spec_query_undetermined": lambda f: f"latency {fmt_us(f['overhead_us'], True)} µs ({f['percent']:+.2f}%, {'interval up to ' + format(f['high_percent'], '+.2f') + '%' if f['high_percent'] is not None else 'no interval: one round'}): too wide to judge the FAQ's \"only {facts.SPEC_QUERY_PERCENT}% of a 5 ms database query\" (add rounds)",
    "internal_over_100_recorded": lambda f: f"over {facts.RED_FLAG_INTERNAL_PERCENT}% on internal code: the spec calls this a measurement issue, but the trace grows {f['bytes_per_op']:.0f} B per call, so Retrace records this call and the cost is real",
    "internal_over_100": lambda f: f"over {facts.RED_FLAG_INTERNAL_PERCENT}% on internal code: the spec calls this a measurement issue; check the machine was idle and re-run",
    "boundary_over_50us": lambda f: f"more than {facts.RED_FLAG_BOUNDARY_US} µs per boundary crossing: the spec says investigate",
    "unsteady": lambda f: f"runs vary by {f['cv']:.0%} (over {facts.RED_FLAG_CV:.0%}): the machine was not steady; trust the interval, not the point estimate",
    "drain_capped": lambda f: f"{f['runs']} run(s) hit the {f['cap_s']:g} s drain cap: their CPU figure is a lower bound",
    "target_missed": lambda f: f"missed the target resolution: half-width {fmt_us(f['half_width_us'])} µs > {fmt_us(f['target_us'])} µs (add rounds or --max-minutes)",
}


def finding_text(finding: Finding) -> str:
    return FINDING_TEXT[finding.kind](finding.figures)


def recorded_text(t: TestResult, arm: str) -> str:
    if arm not in t.bytes_per_op:
        return "recorded: not measured"
    b = t.bytes_per_op[arm]
    return f"recorded: yes ({b:.0f} B/op)" if b >= facts.RECORDED_MIN_BYTES_PER_OP else "recorded: no"


def regimes_text(t: TestResult, arm: str) -> str:
    r = t.regimes.get(arm)
    unprofiled = {facts.result_name(s): why for s, why in facts.NOT_PROFILED.items()}
    if r is None and t.benchmark in unprofiled:
        return unprofiled[t.benchmark]
    if r is None:
        b = t.bytes_per_op.get(arm)
        return ("not profiled (the trace does not grow with this call)"
                if b is not None and b < facts.RECORDED_MIN_BYTES_PER_OP else "not measured")
    knee = (f"cost rises after ~{r.knee_calls:,} calls" if r.knee_calls is not None
            else f"no knee within {r.calls_profiled:,} calls")
    text = (f"burst {fmt_us(r.burst_overhead_us, True)} µs/op, sustained "
            f"{fmt_us(r.sustained_overhead_us, True)} µs/op (one profiling process: no interval); {knee}")
    if r.cpu_overhead_us and r.knee_calls is not None:
        text += (f"; sustained is {r.sustained_overhead_us / r.cpu_overhead_us:.0%} of the CPU cost "
                 f"({fmt_us(r.cpu_overhead_us, True)}): once the queue is full the caller waits for the writer")
    return text


def comparison_lines(t: TestResult, c: Comparison) -> list[str]:
    versions = c.kind != "overhead"
    title = {"overhead": f"{c.b} vs {c.a}", "versions": f"{c.b} vs {c.a} (same run)",
             "aa": f"A/A {c.b} vs {c.a}"}[c.kind]
    lines = [f"    {title}",
             f"      latency  {difference_text(c.latency, versions)}"]
    if c.cpu is not None:
        ratio = ""
        if c.kind == "overhead" and c.latency.estimate > 0 and c.cpu.estimate > 0 \
                and c.latency.verdict in facts.REAL_EFFECTS:
            ratio = f"; CPU/latency {c.cpu.estimate / c.latency.estimate:.1f}x"
        lines.append(f"      CPU      {difference_text(c.cpu, versions)}{ratio}")
    if c.kind == "overhead":
        lines.append(f"      regimes  {regimes_text(t, c.b)}")
    return lines


def machine_line(result: RunResult) -> str:
    system = result.system
    return (f"retracesoftware {system.get('retrace_version', '?')} | Python {system.get('python', '?')} | "
            f"{system.get('os', '?')} | {system.get('cpu_count', '?')} CPUs")


def variables_lines(result: RunResult) -> list[str]:
    """The user's PYTHON* variables: they reach the measured processes, not the driver (run with -E)."""
    found = result.config.get("python_variables") or {}
    return [f"Your Python variables, which reach the measured processes (not the suite's driver, run with -E): "
            + ", ".join(f"{k}={v[:60]!r}" for k, v in found.items())] if found else []


def header_lines(result: RunResult) -> list[str]:
    """The summary's lines under its title, before the glance: the machine, the arms, the rounds."""
    labels = [a["label"] for a in result.arms]
    return [machine_line(result),
            f"Arms: {', '.join(labels)}; {rounds_text(result.config)}, {order_text(result.config)}",
            f"Measured {result.measured[0]} .. {result.measured[1]}" if result.measured else "",
            *([f"Target resolution (--target-ci): half-width at most {result.config['target_ci']}; "
               f"{len(result.config.get('missed_target') or [])} difference(s) missed it (FLAG lines)"]
              if result.config.get("target_ci") else []),
            *variables_lines(result)]


def body_lines(result: RunResult, instructions=None, budget_checks=()) -> list[str]:
    """The per-operation workload's text below the glance: how to read it, each benchmark's tests,
    instructions per call, the versions compared, where the instructions go, the resolution."""
    labels = [a["label"] for a in result.arms]
    tests = sum(len(b.tests) for b in result.benchmarks)
    lines = ["",
             *([f"Design: {result.config['rounds_run']} rounds for {len(labels)} arms is NOT balanced "
                f"(a whole Williams design is {design_period(len(labels))} rounds: each arm does not take each "
                "position, and follow each other arm, equally often)"]
               if result.config.get("rounds_run") and result.config["rounds_run"] % design_period(len(labels)) else []),
             "How to read: per-op figures are means of per-process means (each process runs a test",
             f"{runs_text(result.config)} times). Each difference (B - A) is the mean of per-round "
             "paired differences",
             f"with a Student-t 95% interval, Bonferroni-adjusted over {tests} tests; 'within noise' when the",
             f"interval includes 0, or the difference is under {facts.MIN_EFFECT_FRACTION:.0%} of A or under "
             f"{facts.MIN_EFFECT_US} µs. latency = the caller's wall time;",
             "CPU = the process's CPU over the run until Retrace's writer caught up (all threads).",
             "A spare core hides the writer's CPU from the caller; a busy server pays it.",
             "'recorded' is the trace growth per call; 'regimes' the recorded cost in a burst and",
             "sustained (past Retrace's writer queue)."]
    for b in result.benchmarks:
        lines += ["", f"## {SECTION_TITLES.get(b.name, b.name)} - {b.script}"]
        for arm, reason in b.failures.items():
            lines.append(f"  FAILED ({arm}): {reason}")
        if b.script in facts.SCRIPT_SERVICES:
            lines += services_lines(result.config.get("services", {}))
        if not b.tests:
            continue
        for name in sorted(duplicate_names(b)):
            numbers = [str(t.number) for t in b.tests if t.name == name]
            lines.append(f"  WARNING: tests {', '.join(numbers)} have the same name {name!r}: "
                         "benchmark-action.json tells them apart by number; give them distinct names")
        first = b.tests[0]
        counts = ", ".join(f"{a.processes} {label}" for label, a in first.arms.items())
        lines.append(f"  processes: {counts}")
        for arm, sizes in b.trace_bytes.items():
            lines.append(f"  trace ({arm}): {min(sizes) // 1024}-{max(sizes) // 1024} KB per process "
                         "(verified, deleted)")
        if b.idle_cpu_ms_per_s:
            lines.append("  idle CPU: " + ", ".join(f"{arm} {v:.2f} ms/s" for arm, v in b.idle_cpu_ms_per_s.items())
                         + " (mean over processes; no interval: a background rate, subtracted from CPU, not compared)")
        for t in b.tests:
            recorded_arms = [c.b for c in t.comparisons if c.kind == "overhead"]
            tags = "; ".join(f"{arm} {recorded_text(t, arm)}" if len(recorded_arms) > 1 else recorded_text(t, arm)
                             for arm in recorded_arms)
            lines += ["", f"  Test {t.number}: {t.name}   [{tags}]"]
            for label, a in t.arms.items():
                cpu = f"   CPU {fmt_us(a.cpu_us)} µs/op" if a.cpu_us is not None else ""
                lines.append(f"    {label:<18} {fmt_us(a.wall_us):>8} µs/op{cpu}   {a.ops_per_s:,.0f} ops/s   "
                             f"(average {a.average_ms:.4f} ms per {t.iterations} ops, CV {a.cv:.0%})")
            for c in t.comparisons:
                lines += comparison_lines(t, c)
            for f in t.findings:
                if f.kind in MACHINE_FINDINGS:
                    continue                    # about the machine: said once, under the header
                prefix = "spec" if f.kind.startswith("spec_") else "FLAG"
                lines.append(f"    {prefix:<6} {f.arm + ': ' if f.arm and len(recorded_arms) > 1 else ''}"
                             f"{finding_text(f)}")
        for arm, replay in b.replay.items():
            lines.append(f"  Replay check ({arm}): {verdict_word(replay['verdict'])}")
            lines += [f"    {d}" for d in replay.get("detail", [])]
            alone = replay.get("tests", {})
            if alone:
                same = sum(t["verdict"] == IDENTICAL for t in alone.values())
                lines.append(f"  Replay of each test recorded alone ({arm}; {' and '.join(replay['without']) or 'no service'} "
                             f"stopped): {same} of {len(alone)} {verdict_word(IDENTICAL)}")
                lines += [f"    test {number}: {verdict_word(t['verdict'])}" + (f" ({t['detail'][0]})" if t.get("detail") else "")
                          for number, t in alone.items() if t["verdict"] != IDENTICAL]
    lines += instruction_report.text_lines(instructions, result.config, budget_checks)
    versions = version_summary(result)
    if versions:
        gate = ("information where instructions were counted: the gate judges those tests on instructions"
                if instructions is not None and instructions.comparison("versions") else "the gate's measure")
        lines += ["", "## Versions compared in this run", *instruction_report.versions_lines(instructions),
                  "  Wall time and CPU (what a user feels; noisy on a shared machine;",
                  f"  {gate}):", *versions]
    lines += instruction_report.profile_lines(instructions)
    lines += resolution_summary(result)
    return lines


def runs_text(config: dict) -> str:
    """How many runs of a test a process makes (the stopping rule's bounds; --quick's are smaller)."""
    if config.get("quick"):
        return f"{facts.QUICK_MIN_RUNS}-{facts.QUICK_MAX_RUNS}"
    return f"{facts.MIN_RUNS}-{facts.MAX_RUNS}"


#: Findings about the machine rather than a test: said once per run.
MACHINE_FINDINGS = ("unsteady",)


def version_summary(result: RunResult) -> list[str]:
    lines = []
    for b in result.benchmarks:
        for t in b.tests:
            for c in t.comparisons:
                if c.kind == "versions":
                    lines.append(f"  {b.name}: {t.name}: {c.b} vs {c.a} (baseline)")
                    lines.append(f"      latency  {difference_text(c.latency, versions=True)}")
                    if c.cpu is not None:
                        lines.append(f"      CPU      {difference_text(c.cpu, versions=True)}")
    return lines


def resolution_summary(result: RunResult) -> list[str]:
    """The resolution goal on the operations Retrace records: met or not, figure by figure."""
    rows = [(b, t, r) for b in result.benchmarks for t in b.tests for r in t.resolution]
    if not rows:
        return []
    met = sum(r.meets for _, _, r in rows)
    lines = ["", "## Resolution on the operations Retrace records",
             f"  goal: 95% half-width at most {facts.RESOLUTION_FRACTION:.0%} of the recording overhead "
             f"({facts.RESOLUTION_FLOOR_US} µs under {facts.RESOLUTION_SMALL_US} µs); "
             f"{met} of {len(rows)} figures meet it (add rounds: --rounds N or --target-ci 10%)"]
    for b, t, r in rows:
        what = f"{r.b} vs {r.a}" + (" (version difference)" if r.kind == "versions" else "")
        width = (f"±{fmt_us(r.half_width_us)} µs/op = ±{r.percent:.0f}% of the overhead {fmt_us(r.overhead_us, True)} µs/op"
                 if r.percent is not None else "no interval")
        lines.append(f"  {'met ' if r.meets else 'MISS'} {b.name}: {t.name} {r.figure:<7} {what}: {width}")
    return lines


#: summary.json's format 2 names an Effect's fields after the unit (µs per call).
FORMAT_2_NAMES = {"what": "figure", "estimate": "estimate_us", "low": "low_us", "high": "high_us",
                  "reference": "reference_us", "target": "target_us"}


def format_2(effect: dict) -> dict:
    """An Effect (as a dict) in summary.json's format 2, which archives and --compare read."""
    out = {FORMAT_2_NAMES.get(k, k): v for k, v in effect.items() if k not in ("unit", "confidence")}
    out["percent"] = out["estimate_us"] / out["reference_us"] * 100 if out["reference_us"] else None
    return out


def to_json(result: RunResult, production: dict | None = None) -> dict:
    data = asdict(result)
    for b in data["benchmarks"]:
        for t in b["tests"]:
            for c in t["comparisons"]:
                for key in ("latency", "cpu"):
                    if c[key] is not None:
                        c[key] = format_2(c[key])
                c["verdict"] = c["latency"]["verdict"]
    data["format"] = 2
    data["confidence_per_comparison"] = data.pop("confidence")
    data["family_confidence"] = facts.CONFIDENCE
    if production is not None:
        data["production"] = production
    return data


def services_lines(status: dict) -> list[str]:
    """The servers the suite started for the network tests, or why one was not (its tests are not run)."""
    started = [f"{facts.SERVICE_TITLES[n]} {status[n]['version']} (as {status[n]['user']})" for n in services.started(status)]
    lines = ([f"  services: {', '.join(started)}: private servers on 127.0.0.1, started by the suite "
              "(docs/benchmarks.md#network); the plain figures are this machine's local latency of each call"]
             if started else [])
    return lines + [f"  NOT RUN: the {facts.SERVICE_TITLES[n]} tests: {status[n]['skipped']}"
                    for n in status if n not in services.started(status)]


def duplicate_names(bench) -> set[str]:
    names = [t.name for t in bench.tests]
    return {n for n in names if names.count(n) > 1}


def render_action_benchmark(result: RunResult, extra: list[dict] = ()) -> str:
    """github-action-benchmark's customSmallerIsBetter: one entry per test, comparison and figure
    (and `extra` entries: instructions per call)."""
    entries = list(extra)
    for b in result.benchmarks:
        repeated = duplicate_names(b)
        for t in b.tests:
            name = f"{t.name} (test {t.number})" if t.name in repeated else t.name
            for c in t.comparisons:
                for d in (c.latency, c.cpu):
                    if d is None:
                        continue
                    entries.append({"name": f"{b.name}: {name}: {d.what} {c.b} - {c.a}", "unit": "us/op",
                                    "value": round(d.estimate, 4),
                                    "range": (f"{d.low:+.4f}..{d.high:+.4f}" if d.low is not None else "n/a"),
                                    "extra": d.verdict})
    return json.dumps(entries, indent=2, ensure_ascii=False)


def render_chart(result: RunResult, path: Path) -> bool:
    """Per test, latency and CPU overhead against plain with their intervals (symlog scale)."""
    plt = pyplot()
    if plt is None:
        return False
    rows = [(f"{b.name}: {t.name}" + (f" [{c.b}]" if len(result.arms) > 2 else ""), c)
            for b in result.benchmarks for t in b.tests for c in t.comparisons if c.kind == "overhead"]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(11, 0.5 * len(rows) + 1.8))
    positions = list(range(len(rows)))
    for offset, figure, color in ((-0.2, "latency", "#c0392b"), (0.2, "cpu", "#2c6fbb")):
        values, errors, ys = [], [[], []], []
        for y, (_, c) in zip(positions, rows):
            d = c.latency if figure == "latency" else c.cpu
            if d is None:
                continue
            ys.append(y + offset)
            values.append(d.estimate)
            errors[0].append(d.estimate - d.low if d.low is not None else 0)
            errors[1].append(d.high - d.estimate if d.high is not None else 0)
        ax.barh(ys, values, height=0.38, xerr=errors, color=color, capsize=2,
                label="latency (caller's wall time)" if figure == "latency" else "CPU incl. Retrace's writer")
    ax.set_yticks(positions)
    ax.set_yticklabels([label for label, _ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("recording overhead, µs per operation (95% intervals; symlog scale)")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


#: The per-operation workload's raw file, named in the summary's last line.
RAW_DATA_LINE = ("Raw data: run.json (every process's record); text outputs *_<arm>.txt; "
                 "machine-readable: summary.json")


def section(directory: Path, allow_empty: bool = False) -> Section:
    """The per-operation workload's part of the summary (run.json or the specification's text files,
    with its instruction counts and budgets); its JSON is summary.json's base."""
    run = parse.load(directory, allow_empty=allow_empty)
    target = None
    if run.config.get("target_ci"):
        try:
            target = Target.parse(run.config["target_ci"])
        except ValueError as error:
            raise InputError(f"{directory / parse.RUN_FILE}: {error}") from None
    try:
        result = analysis.analyse(run, target=target)
        counted = instruction_analysis.analyse(run)
        checks = budget.check(run.config["budget"]["budgets"], counted) if run.config.get("budget") else []
        lines = body_lines(result, counted, checks) if result.benchmarks else []
    except (KeyError, TypeError, AttributeError, IndexError, ValueError, statistics.StatisticsError) as error:
        raise InputError(f"{directory / parse.RUN_FILE}: a field is missing or malformed "
                         f"({type(error).__name__}: {error})") from None
    data = to_json(result)
    if counted is not None:
        data["instructions"] = instruction_report.to_json(counted)
    if checks:
        data["budget"] = {"file": run.config["budget"]["file"],
                          "checks": [{**asdict(c), "exceeded": c.exceeded} for c in checks]}

    def write(out: Path) -> list[str]:
        write_atomically(out / "benchmark-action.json",
                         render_action_benchmark(result, instruction_report.action_entries(counted)))
        charts = ["overhead.png"] if render_chart(result, out / "overhead.png") else []
        return charts + (["instructions.png"] if instruction_report.render_chart(counted, out / "instructions.png") else [])

    exceeded = [f"budget {c.name} {c.measure}" + (f" ({c.arm}): {c.figure:,.0f} > {c.limit:,.0f}" if c.figure is not None
                                                 else ": no counted test of that name") for c in checks if c.exceeded]
    return Section("ops", lines, data, analysis.effect_rows(result, counted) + instruction_analysis.effect_rows(counted),
                   failed=any(b.failures for b in result.benchmarks) or bool(counted and counted.failures),
                   exceeded=exceeded, gates=len(recorded_labels([a["label"] for a in run.arms])) > 1 or bool(checks),
                   data=(result, counted), write=write)
