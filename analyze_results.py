"""Summarise Retrace benchmark outputs in three steps: parse -> compute -> render.

    analyze_results.py [RESULTS_DIR]        summary.txt, summary.json, benchmark-action.json
                                            (and overhead.png with matplotlib) in RESULTS_DIR
    analyze_results.py --self-check DIR     judge a ./run_all_benchmarks.sh --self-check run
    analyze_results.py --compare A B [--fail-on-regression]
                                            compare two archived runs (e.g. two Retrace versions)

Bad input (missing, empty, truncated or mismatched outputs, a "retrace" output that did not
record) is a one-line error naming the file, exit status 2, and the previous summary is kept.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import production_benchmark
from benchlib import (BOUNDARY, INTERNAL, bootstrap_median_difference_ci,
                      coefficient_of_variation, retrace_version)

FORMAT_VERSION = 1
CONFIDENCE = 0.95
#: Differences smaller than both of these are "within noise" whatever the interval says
#: (Datadog's benchmark gate treats changes under 2% as not significant).
MIN_EFFECT_FRACTION = 0.02
MIN_EFFECT_US = 0.05
#: Processes per arm below which the interval uses the runs instead of per-process figures.
MIN_PROCESSES_FOR_PROCESS_CI = 3
RECORDED_MIN_BYTES_PER_OP = 1.0
#: The spec's red flags and its "what good looks like".
RED_FLAG_INTERNAL_PERCENT = 100
RED_FLAG_BOUNDARY_US = 50
RED_FLAG_CV = 0.20
SPEC_BOUNDARY_RANGE_US = (0.35, 15.0)
SPEC_INTERNAL_GOOD_PERCENT = 5
SPEC_INTERNAL_GOOD_US = 1.0
#: Self-check limits.
CALIBRATION_TOLERANCE = 0.10
TIMER_FIDELITY_RATIO = 1.3


class InputError(Exception):
    """Bad input: the message names the file and what is wrong with it."""


# =========================================================================== parse

@dataclass
class TestRuns:
    number: int
    name: str
    category: str
    iterations: int
    runs_ms: list[float]

    @property
    def per_op_us(self) -> list[float]:
        return [ms * 1e3 / self.iterations for ms in self.runs_ms]


@dataclass
class ProcessOutput:
    script: str
    system: dict[str, str]
    recording: str                  # "OFF", "REPLAY" or "ON -> <path>"
    tests: list[TestRuns]
    trace_bytes: int | None = None


@dataclass
class BenchmarkInput:
    name: str
    baseline: list[ProcessOutput] = field(default_factory=list)
    retrace: list[ProcessOutput] = field(default_factory=list)
    failure: str | None = None
    trace_growth: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    profile: dict[int, list[float]] = field(default_factory=dict)
    profile_chunk: int = 0
    replay: list[str] = field(default_factory=list)


HEADER_FIELDS = {"Python": "python", "OS": "os", "CPU count": "cpu_count",
                 "Timestamp": "timestamp", "retracesoftware": "retrace_version"}
TEST_RE = re.compile(r"^## Test (\d+): (.+?)\s*$", re.M)
RUN_RE = re.compile(r"^\s*Run \d+: ([\d.]+) ms\s*$", re.M)
NUMBER = r"([\d.]+)"


def parse_process_block(block: str, path: Path) -> ProcessOutput:
    """One process's output: the header, then ``## Test N: name`` sections."""
    script = block.splitlines()[0].split(":", 1)[1].strip()
    system = {}
    for label, key in HEADER_FIELDS.items():
        match = re.search(rf"^{re.escape(label)}: (.+)$", block, re.M)
        if not match:
            raise InputError(f"{path}: header has no '{label}:' line (truncated or not a benchmark output?)")
        system[key] = match.group(1).strip()
    recording = re.search(r"^Recording: (OFF|REPLAY|ON -> .+)$", block, re.M)
    if not recording:
        raise InputError(f"{path}: header has no 'Recording:' line")
    starts = list(TEST_RE.finditer(block))
    if not starts:
        raise InputError(f"{path}: no '## Test N: name' sections (truncated or garbage?)")
    tests = []
    for i, start in enumerate(starts):
        body = block[start.end(): starts[i + 1].start() if i + 1 < len(starts) else len(block)]
        tests.append(parse_test(int(start.group(1)), start.group(2), body, path))
    trace = re.search(r"^Trace: (\d+) bytes", block, re.M)
    return ProcessOutput(script, system, recording.group(1), tests,
                         int(trace.group(1)) if trace else None)


def parse_test(number: int, name: str, body: str, path: Path) -> TestRuns:
    category = re.search(r"^Category: (\w+)", body, re.M)
    iterations = re.search(r"^Iterations: (\d+)", body, re.M)
    average = re.search(rf"^\s*Average: {NUMBER} ms", body, re.M)
    runs = [float(ms) for ms in RUN_RE.findall(body)]
    if not (iterations and average and runs and re.search(r"Per-operation: ", body)):
        raise InputError(f"{path}: test {number} ({name}) is incomplete: no iteration count, "
                         "runs, Average or Per-operation line (truncated?)")
    if int(iterations.group(1)) < 1:
        raise InputError(f"{path}: test {number} ({name}) has an iteration count of 0")
    return TestRuns(number, name, category.group(1) if category else BOUNDARY,
                    int(iterations.group(1)), runs)


def parse_output_file(path: Path) -> tuple[list[ProcessOutput], str | None]:
    """All process outputs in one file (one per round), and a FAILED reason if there is one."""
    if not path.is_file():
        raise InputError(f"{path}: missing")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise InputError(f"{path}: empty")
    failure = re.search(r"^FAILED: (.+)$", text, re.M)
    blocks = re.split(r"^(?=# Retrace benchmark: )", text, flags=re.M)
    processes = [parse_process_block(b, path) for b in blocks if b.startswith("# Retrace benchmark: ")]
    if not processes and not failure:
        raise InputError(f"{path}: not a benchmark output (no '# Retrace benchmark:' header)")
    return processes, failure.group(1) if failure else None


def parse_results_dir(directory: Path, allow_unrecorded: bool = False) -> list[BenchmarkInput]:
    """Every benchmark in a results directory, with its optional trace, profile and replay files."""
    if not directory.is_dir():
        raise InputError(f"{directory}: missing (no such results directory)")
    names = sorted({p.name.rsplit("_", 1)[0] for p in directory.glob("*_baseline.txt")}
                   | {p.name.rsplit("_", 1)[0] for p in directory.glob("*_retrace.txt")})
    if not names:
        raise InputError(f"{directory}: no *_baseline.txt or *_retrace.txt files; run ./run_all_benchmarks.sh first")
    benchmarks = []
    for name in names:
        bench = BenchmarkInput(name)
        retrace_path = directory / f"{name}_retrace.txt"
        bench.retrace, bench.failure = parse_output_file(retrace_path)
        baseline_path = directory / f"{name}_baseline.txt"
        if baseline_path.exists() or not bench.failure:
            bench.baseline, baseline_failure = parse_output_file(baseline_path)
            bench.failure = bench.failure or baseline_failure
        if not bench.failure:
            check_consistent(bench, baseline_path, retrace_path, allow_unrecorded)
            parse_extras(bench, directory)
        benchmarks.append(bench)
    return benchmarks


def check_consistent(bench: BenchmarkInput, baseline_path: Path, retrace_path: Path,
                     allow_unrecorded: bool) -> None:
    for path, processes in ((baseline_path, bench.baseline), (retrace_path, bench.retrace)):
        if not processes:
            raise InputError(f"{path}: no benchmark output")
    shape = [(t.number, t.name, t.iterations) for t in bench.baseline[0].tests]
    for path, processes in ((baseline_path, bench.baseline), (retrace_path, bench.retrace)):
        for i, process in enumerate(processes, 1):
            other = [(t.number, t.name, t.iterations) for t in process.tests]
            if other != shape:
                raise InputError(f"{path}: process {i} has different tests or iteration counts "
                                 f"than {baseline_path.name} ({describe_difference(shape, other)})")
    for i, process in enumerate(bench.baseline, 1):
        if process.recording != "OFF":
            raise InputError(f"{baseline_path}: process {i} is not a plain run (Recording: {process.recording})")
    if not allow_unrecorded:
        for i, process in enumerate(bench.retrace, 1):
            if not process.recording.startswith("ON"):
                raise InputError(f"{retrace_path}: process {i} did not record (Recording: "
                                 f"{process.recording}); its numbers are not Retrace numbers")


def describe_difference(expected, got) -> str:
    for a, b in zip(expected, got):
        if a != b:
            return f"test {a[0]} '{a[1]}' x{a[2]} vs test {b[0]} '{b[1]}' x{b[2]}"
    return f"{len(expected)} tests vs {len(got)}"


GROWTH_RE = re.compile(r"^Test (\d+): (\d+) calls -> (\d+) bytes; (\d+) calls -> (\d+) bytes$", re.M)


def parse_extras(bench: BenchmarkInput, directory: Path) -> None:
    """Trace growth, regime profile and replay verdict, where the driver measured them."""
    growth = directory / f"{bench.name}_trace.txt"
    if growth.exists():
        for m in GROWTH_RE.finditer(growth.read_text()):
            number, calls_small, small, calls_large, large = map(int, m.groups())
            bench.trace_growth[number] = (calls_small, small, calls_large, large)
    profile = directory / f"{bench.name}_profile.txt"
    if profile.exists() and "## Test" in (text := profile.read_text()):
        chunk = re.search(r"^Chunk calls: (\d+)", text, re.M)
        bench.profile_chunk = int(chunk.group(1)) if chunk else 0
        for m in re.finditer(r"^## Test (\d+): .*?^Chunks \(µs/op\): ([\d. ]+)$", text, re.M | re.S):
            bench.profile[int(m.group(1))] = [float(x) for x in m.group(2).split()]
    replay = directory / f"{bench.name}_replay.txt"
    if replay.exists():
        bench.replay = replay.read_text().strip().splitlines()


# =========================================================================== compute

@dataclass
class ArmStats:
    per_op_median_us: float
    per_op_mean_us: float
    per_op_stdev_us: float
    cv: float
    average_ms: float           # mean total time of one run, as the scripts print it
    processes: int
    runs: int


@dataclass
class Regimes:
    burst_us: float             # recorded µs/op in the first chunks after an idle pause
    sustained_us: float         # recorded µs/op at the end of the long loop
    burst_overhead_us: float
    sustained_overhead_us: float
    knee_calls: int | None      # calls before the cost rose past halfway; None: no knee seen
    calls_profiled: int


@dataclass
class TestResult:
    benchmark: str
    number: int
    name: str
    category: str
    iterations: int
    baseline: ArmStats
    retrace: ArmStats
    overhead_us: float
    overhead_percent: float
    ci_low_us: float
    ci_high_us: float
    ci_source: str              # "processes" or "runs"
    within_noise: bool
    trace_bytes_per_op: float | None
    regimes: Regimes | None
    spec_verdict: str
    flags: list[str]

    @property
    def recorded(self) -> bool | None:
        if self.trace_bytes_per_op is None:
            return None
        return self.trace_bytes_per_op >= RECORDED_MIN_BYTES_PER_OP


@dataclass
class BenchmarkResult:
    name: str
    script: str
    failure: str | None
    tests: list[TestResult]
    trace_bytes: list[int]
    replay: list[str]


def arm_stats(processes: list[ProcessOutput], number: int) -> tuple[ArmStats, list[float]]:
    """Statistics of one test in one arm, and the samples its interval is built from."""
    tests = [next(t for t in p.tests if t.number == number) for p in processes]
    runs = [x for t in tests for x in t.per_op_us]
    per_process = [statistics.median(t.per_op_us) for t in tests]
    samples = per_process if len(tests) >= MIN_PROCESSES_FOR_PROCESS_CI else runs
    stats = ArmStats(
        per_op_median_us=statistics.median(samples),
        per_op_mean_us=statistics.fmean(runs),
        per_op_stdev_us=statistics.stdev(runs) if len(runs) > 1 else 0.0,
        cv=coefficient_of_variation(runs),
        average_ms=statistics.fmean(ms for t in tests for ms in t.runs_ms),
        processes=len(tests), runs=len(runs))
    return stats, samples


def regimes_of(chunks: list[float], chunk_calls: int, baseline_us: float) -> Regimes:
    """Burst = median of the first 2,000 calls; sustained = median of the last quarter;
    knee = calls before the first chunk costing more than halfway from burst to sustained,
    reported only when sustained is at least twice the burst cost."""
    head = max(1, min(len(chunks) // 4, 2000 // max(chunk_calls, 1)))
    burst = statistics.median(chunks[:head])
    sustained = statistics.median(chunks[-max(1, len(chunks) // 4):])
    knee = None
    if sustained >= 2 * burst:
        halfway = (burst + sustained) / 2
        knee = next(i for i, c in enumerate(chunks) if c > halfway) * chunk_calls
    return Regimes(burst, sustained, burst - baseline_us, sustained - baseline_us, knee,
                   len(chunks) * chunk_calls)


def spec_verdict(category: str, overhead_us: float, percent: float, within_noise: bool) -> str:
    """The spec's "What good looks like", applied to the measured overhead."""
    if category == INTERNAL:
        if within_noise or percent <= SPEC_INTERNAL_GOOD_PERCENT or overhead_us < SPEC_INTERNAL_GOOD_US:
            return "as the spec expects (0-5% or <1 µs per call)"
        return f"NOT as the spec expects: {percent:+.0f}% where it expects 0-5% (or <1 µs per call)"
    low, high = SPEC_BOUNDARY_RANGE_US
    if within_noise:
        return f"below the spec's +{low}-{high} µs: no measurable overhead"
    if low <= overhead_us <= high:
        return f"within the spec's +{low}-{high} µs per operation"
    return f"outside the spec's +{low}-{high} µs per operation"


def red_flags(category: str, base: ArmStats, ret: ArmStats, overhead_us: float,
              percent: float, bytes_per_op: float | None, within_noise: bool) -> list[str]:
    """The spec's red flags, in words a user can act on."""
    flags = []
    if category == INTERNAL and percent > RED_FLAG_INTERNAL_PERCENT and not within_noise:
        if bytes_per_op is not None and bytes_per_op >= RECORDED_MIN_BYTES_PER_OP:
            flags.append(f"over {RED_FLAG_INTERNAL_PERCENT}% on internal code: the spec calls this a "
                         f"measurement issue, but the trace grows {bytes_per_op:.0f} B per call, so "
                         "Retrace records this call and the cost is real")
        else:
            flags.append(f"over {RED_FLAG_INTERNAL_PERCENT}% on internal code: the spec calls this a "
                         "measurement issue; check the machine was idle and re-run")
    if category == BOUNDARY and overhead_us > RED_FLAG_BOUNDARY_US and not within_noise:
        flags.append(f"more than {RED_FLAG_BOUNDARY_US} µs per boundary crossing: the spec says investigate")
    for arm, stats in (("baseline", base), ("recorded", ret)):
        if stats.cv > RED_FLAG_CV:
            flags.append(f"{arm} runs vary by {stats.cv:.0%} (over {RED_FLAG_CV:.0%}): the machine was "
                         "not steady; trust the interval, not the point estimate")
    return flags


def compute(benchmarks: list[BenchmarkInput]) -> list[BenchmarkResult]:
    compared = sum(len(b.baseline[0].tests) for b in benchmarks if not b.failure)
    confidence = 1 - (1 - CONFIDENCE) / max(compared, 1)      # Bonferroni over every test
    results = []
    for bench in benchmarks:
        script = (bench.baseline or bench.retrace or [None])[0]
        result = BenchmarkResult(bench.name, script.script if script else bench.name, bench.failure,
                                 [], [p.trace_bytes for p in bench.retrace if p.trace_bytes], bench.replay)
        results.append(result)
        if bench.failure:
            continue
        for test in bench.baseline[0].tests:
            result.tests.append(compare_test(bench, test, confidence))
    return results


def compare_test(bench: BenchmarkInput, test: TestRuns, confidence: float) -> TestResult:
    base, base_samples = arm_stats(bench.baseline, test.number)
    ret, ret_samples = arm_stats(bench.retrace, test.number)
    overhead = ret.per_op_median_us - base.per_op_median_us
    percent = overhead / base.per_op_median_us * 100 if base.per_op_median_us else math.inf
    low, high = bootstrap_median_difference_ci(base_samples, ret_samples, confidence)
    minimum = max(MIN_EFFECT_FRACTION * base.per_op_median_us, MIN_EFFECT_US)
    within_noise = low <= 0 <= high or abs(overhead) < minimum
    bytes_per_op = None
    if test.number in bench.trace_growth:
        calls_small, small, calls_large, large = bench.trace_growth[test.number]
        bytes_per_op = max(0.0, (large - small) / (calls_large - calls_small))
    regimes = None
    if test.number in bench.profile:
        regimes = regimes_of(bench.profile[test.number], bench.profile_chunk, base.per_op_median_us)
    return TestResult(
        bench.name, test.number, test.name, test.category, test.iterations, base, ret,
        overhead, percent, low, high,
        "processes" if min(base.processes, ret.processes) >= MIN_PROCESSES_FOR_PROCESS_CI else "runs",
        within_noise, bytes_per_op, regimes,
        spec_verdict(test.category, overhead, percent, within_noise),
        red_flags(test.category, base, ret, overhead, percent, bytes_per_op, within_noise))


# =========================================================================== render

def fmt_us(value: float, signed: bool = False) -> str:
    digits = 3 if abs(value) < 10 else 1
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def overhead_text(t: TestResult) -> str:
    if t.within_noise:
        return f"within noise ({fmt_us(t.overhead_us, True)} µs/op is inside the noise)"
    return f"{fmt_us(t.overhead_us, True)} µs/op ({t.overhead_percent:+.0f}%)"


def recorded_text(t: TestResult) -> str:
    if t.recorded is None:
        return "recorded: not measured"
    return f"recorded: yes ({t.trace_bytes_per_op:.0f} B/op)" if t.recorded else "recorded: no"


def regimes_text(t: TestResult) -> str:
    if t.regimes is None:
        return ("not profiled (the trace does not grow with this call)" if t.recorded is False
                else "not measured")
    r = t.regimes
    knee = (f"cost rises after ~{r.knee_calls:,} calls" if r.knee_calls is not None
            else f"no knee within {r.calls_profiled:,} calls")
    return (f"burst {fmt_us(r.burst_overhead_us, True)} µs/op, sustained "
            f"{fmt_us(r.sustained_overhead_us, True)} µs/op; {knee}")


SECTION_TITLES = {
    "internal": "Internal code (spec Category A: 0% overhead expected)",
    "external": "External boundaries (spec Category B: +0.35-15 µs per operation expected)",
}


def render_text(results: list[BenchmarkResult], benchmarks: list[BenchmarkInput]) -> str:
    processes = [p for b in benchmarks for p in b.baseline + b.retrace]
    system = processes[0].system if processes else {}
    stamps = sorted(p.system["timestamp"] for p in processes)
    tests = sum(len(r.tests) for r in results)
    lines = [
        "=" * 78, "RETRACE BENCHMARK SUMMARY", "=" * 78,
        f"retracesoftware {system.get('retrace_version', '?')} | Python {system.get('python', '?')} | "
        f"{system.get('os', '?')} | {system.get('cpu_count', '?')} CPUs",
        f"Measured {stamps[0]} .. {stamps[-1]}" if stamps else "",
        "",
        "How to read: per-op figures are medians of per-process medians (baseline and recorded",
        "processes alternate in rounds). Overhead = recorded - baseline, with a 95% confidence",
        f"interval (bootstrap, Bonferroni-adjusted for {tests} tests); 'within noise' when the",
        f"interval includes 0 or the difference is under {MIN_EFFECT_FRACTION:.0%} and {MIN_EFFECT_US} µs.",
        "'recorded' is the trace growth per call; 'regimes' is the recorded cost within a burst",
        "(after an idle pause) and sustained (past Retrace's writer queue), over the baseline.",
    ]
    for result in results:
        lines += ["", f"## {SECTION_TITLES.get(result.name, result.name)} - {result.script}"]
        if result.failure:
            lines.append(f"  FAILED: {result.failure}")
            continue
        first = result.tests[0]
        lines.append(f"  {first.baseline.processes} baseline + {first.retrace.processes} recorded processes; "
                     + (f"trace {min(result.trace_bytes) // 1024}-{max(result.trace_bytes) // 1024} KB "
                        "per recorded process (verified, deleted)" if result.trace_bytes
                        else "trace sizes not recorded in these outputs"))
        for t in result.tests:
            lines += [
                "",
                f"  Test {t.number}: {t.name}   [{recorded_text(t)}]",
                f"    baseline  {fmt_us(t.baseline.per_op_median_us)} µs/op   "
                f"(average {t.baseline.average_ms:.4f} ms per {t.iterations} ops, CV {t.baseline.cv:.0%})",
                f"    recorded  {fmt_us(t.retrace.per_op_median_us)} µs/op   "
                f"(average {t.retrace.average_ms:.4f} ms per {t.iterations} ops, CV {t.retrace.cv:.0%})",
                f"    overhead  {overhead_text(t)}",
                f"              95% CI {fmt_us(t.ci_low_us, True)} .. {fmt_us(t.ci_high_us, True)} µs/op"
                + ("" if t.ci_source == "processes" else " (from runs: too few processes to cover process-to-process noise)"),
                f"    regimes   {regimes_text(t)}",
                f"    spec      {t.spec_verdict}",
            ]
            lines += [f"    FLAG      {flag}" for flag in t.flags]
        lines.append(f"  Replay check: {result.replay[0].removeprefix('Replay: ') if result.replay else 'not run'}")
        lines += [f"    {line.strip()}" for line in result.replay[1:]]
    lines += ["", "=" * 78, "Raw outputs: *_baseline.txt, *_retrace.txt in this directory; "
              "machine-readable: summary.json", "=" * 78, ""]
    return "\n".join(lines)


def render_json(results: list[BenchmarkResult]) -> str:
    return json.dumps({"format": FORMAT_VERSION, "confidence": CONFIDENCE,
                       "benchmarks": [asdict(r) for r in results]}, indent=2, ensure_ascii=False)


def render_action_benchmark(results: list[BenchmarkResult]) -> str:
    """github-action-benchmark's customSmallerIsBetter: one entry per test's per-op overhead."""
    entries = [{"name": f"{t.benchmark}: {t.name} overhead", "unit": "us/op",
                "value": round(t.overhead_us, 4),
                "range": f"{t.ci_low_us:+.4f}..{t.ci_high_us:+.4f}",
                "extra": "within noise" if t.within_noise else f"{t.overhead_percent:+.0f}%"}
               for r in results for t in r.tests]
    return json.dumps(entries, indent=2, ensure_ascii=False)


def render_chart(results: list[BenchmarkResult], path: Path) -> bool:
    """Per-op overhead by test with its interval, when matplotlib is installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    tests = [t for r in results for t in r.tests]
    if not tests:
        return False
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(tests) + 1.5))
    labels = [f"{t.benchmark}: {t.name}" for t in tests]
    values = [t.overhead_us for t in tests]
    errors = [[t.overhead_us - t.ci_low_us for t in tests], [t.ci_high_us - t.overhead_us for t in tests]]
    colors = ["#999999" if t.within_noise else "#c0392b" for t in tests]
    ax.barh(labels, values, xerr=errors, color=colors, capsize=3)
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("recording overhead, µs per operation (grey: within noise)")
    ax.axvline(0, color="black", linewidth=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# =========================================================================== self-check

def self_check(directory: Path) -> int:
    """A/A within noise, calibration within 10%, timer within 1.3x of timeit; 1 if one misses."""
    misses = 0

    def report(ok: bool, text: str) -> None:
        nonlocal misses
        misses += not ok
        print(f"  [{'ok' if ok else 'MISS'}] {text}")

    print("A/A: two plain arms through the full analysis; every test must be within noise")
    aa = compute(parse_results_dir(directory / "aa", allow_unrecorded=True))
    for t in (t for r in aa for t in r.tests):
        report(t.within_noise, f"{t.benchmark}: {t.name}: {fmt_us(t.overhead_us, True)} µs/op, "
               f"CI {fmt_us(t.ci_low_us, True)} .. {fmt_us(t.ci_high_us, True)} -> "
               f"{'within noise' if t.within_noise else 'NOT within noise'}")
    print(f"Calibration: injected cost only when recorded, reported within ±{CALIBRATION_TOLERANCE:.0%}")
    for t in (t for r in compute(parse_results_dir(directory / "calibration")) for t in r.tests):
        injected = float(re.search(r"injected ([\d.]+) µs", t.name).group(1))
        error = (t.overhead_us - injected) / injected
        report(abs(error) <= CALIBRATION_TOLERANCE,
               f"{t.name}: measured {fmt_us(t.overhead_us, True)} µs/op "
               f"(CI {fmt_us(t.ci_low_us, True)} .. {fmt_us(t.ci_high_us, True)}), error {error:+.1%}")
    print(f"Timer fidelity: harness time.time() within {TIMER_FIDELITY_RATIO}x of python -m timeit")
    timeit_us = parse_timeit_median_us(directory / "timeit.txt")
    harness = next(t for r in aa for t in r.tests if t.name == "time.time()")
    ratio = harness.baseline.per_op_median_us / timeit_us
    report(1 / TIMER_FIDELITY_RATIO <= ratio <= TIMER_FIDELITY_RATIO,
           f"harness median {harness.baseline.per_op_median_us:.4f} µs/op vs timeit median "
           f"{timeit_us:.4f} µs/op: ratio {ratio:.2f}")
    print("Self-check " + ("passed" if not misses else f"FAILED: {misses} figure(s) missed"))
    return 1 if misses else 0


TIMEIT_UNITS_US = {"nsec": 1e-3, "usec": 1.0, "msec": 1e3, "sec": 1e6}


def parse_timeit_median_us(path: Path) -> float:
    """Median µs per loop from ``python -m timeit -v`` (its raw times, not its best)."""
    text = path.read_text()
    raw = re.search(r"^raw times: (.+)$", text, re.M)
    loops = re.search(r"^(\d+) loops?, best of", text, re.M)
    if not (raw and loops):
        raise InputError(f"{path}: no 'raw times' and loop count from python -m timeit -v")
    times = [float(value) * TIMEIT_UNITS_US[unit]
             for value, unit in re.findall(r"([\d.]+) (nsec|usec|msec|sec)", raw.group(1))]
    return statistics.median(times) / int(loops.group(1))


# =========================================================================== compare archives

@dataclass
class Archive:
    path: Path
    manifest: dict
    summary: dict

    @property
    def label(self) -> str:
        return f"v{self.manifest.get('retracesoftware', '?')} ({self.path.name})"

    def tests(self) -> dict[tuple[str, str], dict]:
        return {(t["benchmark"], t["name"]): t
                for b in self.summary["benchmarks"] for t in b["tests"]}


def load_archive(path: Path) -> Archive:
    if not path.is_dir():
        raise InputError(f"{path}: missing (no such archive directory)")
    loaded = []
    for name in ("manifest.json", "summary.json"):
        file = path / name
        if not file.is_file():
            raise InputError(f"{file}: missing (not a complete archive of run_all_benchmarks.sh)")
        try:
            loaded.append(json.loads(file.read_text()))
        except ValueError:
            raise InputError(f"{file}: not valid JSON") from None
    manifest, summary = loaded
    for file, data in ((path / "manifest.json", manifest), (path / "summary.json", summary)):
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise InputError(f"{file}: suite format {data.get('format') if isinstance(data, dict) else '?'}"
                             f", this analyzer reads format {FORMAT_VERSION}: incompatible archives")
    return Archive(path, manifest, summary)


def version_verdict(a: dict, b: dict) -> str:
    """faster / slower when the two intervals do not overlap and the change is not negligible."""
    change = b["overhead_us"] - a["overhead_us"]
    minimum = max(MIN_EFFECT_FRACTION * abs(a["baseline"]["per_op_median_us"]), MIN_EFFECT_US)
    if abs(change) >= minimum and b["ci_low_us"] > a["ci_high_us"]:
        return "slower"
    if abs(change) >= minimum and b["ci_high_us"] < a["ci_low_us"]:
        return "faster"
    return "within noise"


def compare_archives(path_a: Path, path_b: Path, fail_on_regression: bool) -> int:
    a, b = load_archive(path_a), load_archive(path_b)
    tests_a, tests_b = a.tests(), b.tests()
    lines = [f"Recording overhead per operation: A = {a.label}, B = {b.label}",
             "verdict from the 95% intervals: slower/faster only when they do not overlap", ""]
    slower = 0
    for key in [k for k in tests_a if k in tests_b]:
        ta, tb = tests_a[key], tests_b[key]
        verdict = version_verdict(ta, tb)
        slower += verdict == "slower"
        lines.append(f"  {key[0]}: {key[1]}")
        lines.append(f"    A {fmt_us(ta['overhead_us'], True)} µs/op [{fmt_us(ta['ci_low_us'], True)} .. "
                     f"{fmt_us(ta['ci_high_us'], True)}]   B {fmt_us(tb['overhead_us'], True)} µs/op "
                     f"[{fmt_us(tb['ci_low_us'], True)} .. {fmt_us(tb['ci_high_us'], True)}]   "
                     f"change {fmt_us(tb['overhead_us'] - ta['overhead_us'], True)} µs/op: {verdict}")
    for key in tests_a.keys() ^ tests_b.keys():
        lines.append(f"  {key[0]}: {key[1]}: only in {'A' if key in tests_a else 'B'}")
    prod_a, prod_b = a.summary.get("production", {}), b.summary.get("production", {})
    for path in [p for p in prod_a.get("paths", {}) if p in prod_b.get("paths", {})]:
        pa, pb = prod_a["paths"][path], prod_b["paths"][path]
        lines.append(f"  production {path}: recorded throughput drop A {pa['throughput_drop_percent']:.1f}% "
                     f"-> B {pb['throughput_drop_percent']:.1f}%; recorded p99 A {pa['recorded']['p99_ms']:.1f} ms "
                     f"-> B {pb['recorded']['p99_ms']:.1f} ms (p99 increase {pa['p99_increase_percent']:+.0f}% "
                     f"-> {pb['p99_increase_percent']:+.0f}%)")
    lines += ["", f"{slower} test(s) slower in B beyond noise"]
    print("\n".join(lines))
    return 1 if fail_on_regression and slower else 0


# =========================================================================== main

def manifest(commit: str, rounds: str, quick: str) -> dict:
    """What an archived run was made with."""
    return {"format": FORMAT_VERSION, "suite_commit": commit, "retracesoftware": retrace_version(),
            "python": platform.python_version(), "machine": f"{platform.system()} {platform.machine()}",
            "cpu_count": os.cpu_count(), "rounds": int(rounds), "quick": quick == "1"}


def parse_production(directory: Path) -> dict | None:
    """The production benchmark's raw rounds, when it ran."""
    path = directory / "production.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        production_benchmark.summarise(data)
    except (ValueError, KeyError, TypeError, statistics.StatisticsError, ZeroDivisionError):
        raise InputError(f"{path}: not a complete production benchmark result") from None
    return data


def summarise(directory: Path) -> int:
    benchmarks = parse_results_dir(directory)
    production = parse_production(directory)
    results = compute(benchmarks)
    text = render_text(results, benchmarks)
    summary_json = json.loads(render_json(results))
    if production:
        marker = "=" * 78 + "\nRaw outputs"
        text = text.replace(marker, production_benchmark.render(production) + "\n" + marker)
        summary_json["production"] = production_benchmark.summarise(production)
    write_atomically(directory / "summary.txt", text)
    write_atomically(directory / "summary.json", json.dumps(summary_json, indent=2, ensure_ascii=False))
    write_atomically(directory / "benchmark-action.json", render_action_benchmark(results))
    chart = render_chart(results, directory / "overhead.png")
    print(text)
    print(f"Wrote {directory / 'summary.txt'}, summary.json, benchmark-action.json"
          + (", overhead.png" if chart else " (no chart: pip install matplotlib for overhead.png)"))
    return 1 if any(r.failure for r in results) or (production and "failure" in production) else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("results_dir", nargs="?", default="results", type=Path,
                        help="directory with the benchmark outputs (default: results)")
    parser.add_argument("--self-check", metavar="DIR", type=Path,
                        help="judge the A/A, calibration and timer runs in DIR")
    parser.add_argument("--compare", nargs=2, metavar=("ARCHIVE_A", "ARCHIVE_B"), type=Path,
                        help="compare two archived runs (results/archive/v...) test by test")
    parser.add_argument("--fail-on-regression", action="store_true",
                        help="with --compare: exit 1 when a test got slower beyond noise")
    parser.add_argument("--manifest", nargs=3, metavar=("COMMIT", "ROUNDS", "QUICK"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.manifest:
            print(json.dumps(manifest(*args.manifest), indent=2))
            return 0
        if args.self_check:
            return self_check(args.self_check)
        if args.compare:
            return compare_archives(*args.compare, args.fail_on_regression)
        return summarise(args.results_dir)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error.filename or ''}: {error.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
