"""Compute: per test, per arm figures; per comparison (arm B against arm A) the latency and CPU
differences with their intervals and verdicts; the spec's claims and red flags as findings.

Verdicts and findings are data (a kind plus its figures); report.py words them.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from retrace_bench import effects, facts
from retrace_bench.arms import comparison_pairs
from retrace_bench.effects import Effect
from retrace_bench.handover import ProcessRecord
from retrace_bench.ops.run import BenchmarkData, RunData
from retrace_bench.render import printable
from retrace_bench.rounds import Target
from retrace_bench.stats import coefficient_of_variation, family_confidence, process_figure

LATENCY, CPU = "latency", "cpu"


@dataclass
class ArmFigures:
    label: str
    wall_us: float                  # mean of the per-process means
    cpu_us: float | None
    cv: float                       # of all runs' wall time
    average_ms: float               # mean time of one run, as the scripts print it
    processes: int
    runs: int
    drain_capped: int = 0
    ops_per_s: float = 0.0          # throughput of the caller: 1 / wall_us (the spec's "ops/sec")


@dataclass
class Comparison:
    a: str
    b: str
    kind: str                       # overhead (vs plain), versions (recorded vs recorded), aa
    latency: Effect
    cpu: Effect | None

    @property
    def meets_target(self) -> bool:
        return self.latency.meets_target and (self.cpu is None or self.cpu.meets_target)


@dataclass
class Finding:
    kind: str
    arm: str | None = None
    figures: dict = field(default_factory=dict)


@dataclass
class Regimes:
    burst_us: float
    sustained_us: float
    burst_overhead_us: float
    sustained_overhead_us: float
    knee_calls: int | None
    calls_profiled: int
    cpu_overhead_us: float | None   # the timed runs' CPU overhead, for the sustained comparison


@dataclass
class Resolution:
    """How finely one difference of a recorded operation is known, against the resolution goal."""
    a: str
    b: str
    kind: str
    figure: str
    half_width_us: float | None
    overhead_us: float              # the recording overhead the goal is relative to
    goal_us: float

    @property
    def meets(self) -> bool:
        return self.half_width_us is not None and self.half_width_us <= self.goal_us

    @property
    def percent(self) -> float | None:
        if self.half_width_us is None or not self.overhead_us:
            return None
        return self.half_width_us / abs(self.overhead_us) * 100


@dataclass
class TestResult:
    benchmark: str
    number: int
    name: str
    category: str
    iterations: int
    arms: dict[str, ArmFigures]
    comparisons: list[Comparison]
    bytes_per_op: dict[str, float] = field(default_factory=dict)
    regimes: dict[str, Regimes] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    resolution: list[Resolution] = field(default_factory=list)


@dataclass
class BenchmarkResult:
    name: str
    script: str
    failures: dict[str, str]
    tests: list[TestResult]
    trace_bytes: dict[str, list[int]]
    idle_cpu_ms_per_s: dict[str, float]
    replay: dict[str, dict]


@dataclass
class RunResult:
    arms: list[dict]
    config: dict
    benchmarks: list[BenchmarkResult]
    confidence: float
    system: dict
    measured: tuple[str, str] | None


# --------------------------------------------------------------------------- comparisons

def counted_pairs(counted) -> set[tuple[str, str, str, str]]:
    """(benchmark, test, A, B) of every version difference counted in instructions: the gate judges
    those on instructions, which carry no machine drift, and their wall time is information."""
    return {(t.benchmark, t.name, c.a, c.b) for t, c in counted.comparison("versions")} if counted else set()


def effect_rows(result: RunResult, counted=None) -> list[dict]:
    """Every comparison's latency and CPU as summary.json's effect rows (effects.row); a version
    difference is gated on wall time where its instructions were not counted."""
    on_instructions = counted_pairs(counted)
    return [effects.row(d, "ops", f"{b.name}: {t.name}", c.a, c.b, c.kind,
                        c.kind == "versions" and (b.name, t.name, c.a, c.b) not in on_instructions)
            for b in result.benchmarks for t in b.tests for c in t.comparisons for d in (c.latency, c.cpu) if d is not None]


def per_process(records: list[tuple[int, ProcessRecord]], number: int, figure: str) -> dict[int, float]:
    """round -> that process's per-op figure of test `number` (stats.process_figure of its runs)."""
    out = {}
    for round_number, record in records:
        test = next((t for t in record.tests if t.number == number), None)
        if test is None or not test.runs:
            continue
        values = test.wall_us if figure == LATENCY else test.cpu_us
        if values:
            out[round_number] = process_figure(values)
    return out


def difference(figure: str, a: dict[int, float], b: dict[int, float], confidence: float) -> Effect | None:
    """B - A of one figure (latency or CPU, µs per call), paired by round."""
    return effects.difference(figure, effects.US, a, b, confidence)


# --------------------------------------------------------------------------- the spec and red flags

def spec_findings(category: str, comparison: Comparison) -> list[Finding]:
    """The spec's "What good looks like", judged on latency and on CPU. A difference within noise
    meets a limit only when its whole interval does; otherwise the run cannot tell."""
    findings = []
    for diff in (comparison.latency, comparison.cpu):
        if diff is None:
            continue
        figures = {"figure": diff.what, "overhead_us": diff.estimate, "percent": diff.percent,
                   "high_us": diff.high}
        noise = diff.verdict not in facts.REAL_EFFECTS
        upper = diff.high if diff.high is not None else float("inf")
        if category == facts.INTERNAL:
            limit = max(facts.SPEC_INTERNAL_GOOD_PERCENT / 100 * abs(diff.reference), facts.SPEC_INTERNAL_GOOD_US)
            kind = ("spec_internal_met" if (upper if noise else diff.estimate) <= limit
                    else "spec_undetermined" if noise else "spec_internal_missed")
        else:
            low, high = facts.SPEC_BOUNDARY_RANGE_US
            if noise:
                kind = "spec_boundary_none" if upper < low else "spec_undetermined"
            else:
                kind = "spec_boundary_within" if low <= diff.estimate <= high else "spec_boundary_outside"
        findings.append(Finding(kind, comparison.b, figures))
    return findings


FAQ_QUERY_KINDS = ("spec_query_met", "spec_query_missed", "spec_query_undetermined")


def faq_query_findings(name: str, comparison: Comparison) -> list[Finding]:
    """The FAQ's "only 0.3% of a 5 ms database query", judged on the test that waits 5 ms in the server:
    met when the whole interval of the latency change is at most that share of the plain latency."""
    diff = comparison.latency
    if name != facts.SPEC_QUERY_TEST or diff is None or not diff.reference:
        return []
    share = 100 / abs(diff.reference)
    upper = diff.high * share if diff.high is not None else float("inf")
    noise = diff.verdict not in facts.REAL_EFFECTS
    met, missed, undetermined = FAQ_QUERY_KINDS
    kind = (met if (upper if noise else diff.estimate * share) <= facts.SPEC_QUERY_PERCENT
            else undetermined if noise else missed)
    return [Finding(kind, comparison.b, {"percent": diff.estimate * share,
                                         "high_percent": upper if diff.high is not None else None,
                                         "overhead_us": diff.estimate})]


def red_flags(category: str, comparison: Comparison, arms: dict[str, ArmFigures],
              bytes_per_op: float | None) -> list[Finding]:
    findings = []
    lat = comparison.latency
    noise = lat.verdict not in facts.REAL_EFFECTS
    if category == facts.INTERNAL and (lat.percent or 0) > facts.RED_FLAG_INTERNAL_PERCENT and not noise:
        recorded = bytes_per_op is not None and bytes_per_op >= facts.RECORDED_MIN_BYTES_PER_OP
        findings.append(Finding("internal_over_100_recorded" if recorded else "internal_over_100",
                                comparison.b, {"percent": lat.percent, "bytes_per_op": bytes_per_op}))
    if category == facts.BOUNDARY and lat.estimate > facts.RED_FLAG_BOUNDARY_US and not noise:
        findings.append(Finding("boundary_over_50us", comparison.b, {"overhead_us": lat.estimate}))
    return findings


def regimes_of(chunks: list[float], chunk_calls: int, baseline_us: float, cpu_overhead_us) -> Regimes:
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
                   len(chunks) * chunk_calls, cpu_overhead_us)


def set_targets(comparisons: list[Comparison], target: Target) -> None:
    """--target-ci's half-width for each difference: its percent of the size of what is measured,
    the larger of the recording overhead (for a version difference, the baseline's) and the plain
    figure (for an A/A, the reference), or its floor in µs, whichever is larger."""
    overheads = {c.b: c for c in comparisons if c.kind == "overhead"}
    for c in comparisons:
        reference = c if c.kind == "overhead" else overheads.get(c.a)
        for figure in (LATENCY, CPU):
            d = c.latency if figure == LATENCY else c.cpu
            if d is None:
                continue
            if reference is None:
                scale = d.reference
            else:
                ref = reference.latency if figure == LATENCY else reference.cpu
                scale = max(abs(ref.estimate), abs(ref.reference)) if ref is not None else d.reference
            d.target = target.half_width_us(scale)


def resolution_of(comparisons: list[Comparison], bytes_per_op: dict[str, float]) -> list[Resolution]:
    """For an operation the arm records: each overhead's and each version difference's half-width
    against the goal (facts.resolution_goal_us of the overhead; of the baseline's, for versions)."""
    overheads = {c.b: c for c in comparisons if c.kind == "overhead"}
    out = []
    for c in comparisons:
        if c.kind not in ("overhead", "versions") or bytes_per_op.get(c.b, 0) < facts.RECORDED_MIN_BYTES_PER_OP:
            continue
        reference = c if c.kind == "overhead" else overheads.get(c.a)
        if reference is None:
            continue
        for d, ref in ((c.latency, reference.latency), (c.cpu, reference.cpu)):
            if d is None or ref is None:
                continue
            out.append(Resolution(c.a, c.b, c.kind, d.what, d.half_width, ref.estimate,
                                  facts.resolution_goal_us(ref.estimate)))
    return out


# --------------------------------------------------------------------------- the whole run

def arm_figures(label: str, records: list[ProcessRecord], number: int) -> ArmFigures | None:
    tests = [t for r in records for t in r.tests if t.number == number and t.runs]
    if not tests:
        return None
    runs = [x for t in tests for x in t.wall_us]
    cpu = [process_figure(t.cpu_us) for t in tests if t.cpu_us]
    figures = ArmFigures(label, statistics.fmean(process_figure(t.wall_us) for t in tests),
                      statistics.fmean(cpu) if len(cpu) == len(tests) else None,
                      coefficient_of_variation(runs),
                      statistics.fmean(r.wall_ms for t in tests for r in t.runs),
                      len(tests), len(runs), sum(r.drain_capped for t in tests for r in t.runs))
    figures.ops_per_s = 1e6 / figures.wall_us if figures.wall_us > 0 else 0.0
    return figures


def analyse(run: RunData, target: Target | None = None, families: int = 1) -> RunResult:
    """Figures, comparisons and verdicts of a run; each interval Bonferroni-adjusted over the run's
    tests, times `families` when that many such runs are judged as one family (the self-check's A/As)."""
    pairs = comparison_pairs(run.arms)
    tests_compared = families * sum(len(first_record(b).tests) for b in run.benchmarks if first_record(b))
    confidence = family_confidence(facts.CONFIDENCE, tests_compared)
    results = [analyse_benchmark(b, pairs, confidence, target) for b in run.benchmarks]
    records = [ProcessRecord.from_json(p.record) for b in run.benchmarks for p in b.processes]
    stamps = sorted(r.header.get("timestamp", "") for r in records)
    return RunResult(run.arms, run.config, results, confidence,
                     records[0].header if records else driver_system(run), (stamps[0], stamps[-1]) if stamps else None)


def driver_system(run) -> dict:
    """The machine as the driver saw it (run.json's config), for a run with no benchmark process
    (--no-synthetic, or every one failed): its header is never a row of question marks."""
    if "python" not in run.config:            # a run.json written before the driver recorded its machine
        return {}
    versions = sorted({a["version"] for a in run.arms if a.get("version")})
    return {"python": run.config.get("python", "?"), "os": run.config.get("machine", "?"),
            "cpu_count": run.config.get("cpu_count", "?"), "retrace_version": ", ".join(versions) or "?"}


def first_record(bench: BenchmarkData) -> ProcessRecord | None:
    return ProcessRecord.from_json(bench.processes[0].record) if bench.processes else None


def analyse_benchmark(bench: BenchmarkData, pairs, confidence: float, target: Target | None) -> BenchmarkResult:
    by_arm: dict[str, list[tuple[int, ProcessRecord]]] = {}
    for entry in bench.processes:
        by_arm.setdefault(entry.arm, []).append((entry.round, ProcessRecord.from_json(entry.record)))
    result = BenchmarkResult(
        bench.name, bench.script, dict(bench.failures), [],
        {arm: [p.trace_bytes for p in bench.processes if p.arm == arm and p.trace_bytes]
         for arm in by_arm if any(p.trace_bytes for p in bench.processes if p.arm == arm)},
        {arm: statistics.median(r.idle_cpu_ms_per_s for _, r in recs)
         for arm, recs in by_arm.items() if all(r.idle_cpu_ms_per_s is not None for _, r in recs)},
        dict(bench.replay))
    reference = first_record(bench)
    if reference is None:
        return result
    for test in reference.tests:
        arms = {arm: figures for arm, recs in by_arm.items()
                if (figures := arm_figures(arm, [r for _, r in recs], test.number))}
        comparisons = []
        for a, b, kind in pairs:
            if a in bench.failures or b in bench.failures or a not in by_arm or b not in by_arm:
                continue
            lat = difference(LATENCY, per_process(by_arm[a], test.number, LATENCY),
                             per_process(by_arm[b], test.number, LATENCY), confidence)
            cpu = difference(CPU, per_process(by_arm[a], test.number, CPU),
                             per_process(by_arm[b], test.number, CPU), confidence)
            if lat is not None:
                comparisons.append(Comparison(a, b, kind, lat, cpu))
        if target is not None:
            set_targets(comparisons, target)
        t = TestResult(bench.name, test.number, printable(test.name), test.category, test.iterations, arms, comparisons)
        for arm, growth in bench.trace_growth.items():
            if str(test.number) in growth:
                c1, s1, c2, s2 = growth[str(test.number)]
                t.bytes_per_op[arm] = max(0.0, (s2 - s1) / (c2 - c1))
        for c in comparisons:
            if c.kind == "overhead":
                t.findings += spec_findings(test.category, c) + faq_query_findings(test.name, c)
                t.findings += red_flags(test.category, c, arms, t.bytes_per_op.get(c.b))
            if c.latency.target is not None and not c.meets_target:
                t.findings.append(Finding("target_missed", c.b, {
                    "a": c.a, "half_width_us": c.latency.half_width, "target_us": c.latency.target}))
        t.resolution = resolution_of(comparisons, t.bytes_per_op)
        plain = next((c.a for c in comparisons if c.kind == "overhead"), None)
        for arm, profile in bench.profile.items():
            chunks = next((pt for pt in profile.get("tests", []) if pt["number"] == test.number), None)
            if chunks and chunks.get("profile_chunks_us") and plain in arms:
                cpu = next((c.cpu.estimate for c in comparisons if c.b == arm and c.cpu), None)
                t.regimes[arm] = regimes_of(chunks["profile_chunks_us"], chunks["profile_chunk_calls"],
                                            arms[plain].wall_us, cpu)
        for label, figures in arms.items():
            if figures.cv > facts.RED_FLAG_CV:
                t.findings.append(Finding("unsteady", label, {"cv": figures.cv}))
            if figures.drain_capped:
                t.findings.append(Finding("drain_capped", label, {"runs": figures.drain_capped,
                                                                  "cap_s": facts.DRAIN_CAP_S}))
        result.tests.append(t)
    return result


def target_misses(data: RunData, target: Target) -> list[tuple[str, int, str]]:
    """(benchmark, test number, what missed) for each difference wider than --target-ci's target
    (ops.run.run_rounds adds rounds of those tests)."""
    results = analyse(data, target=target)
    return [(r.name, t.number, f"{t.benchmark}: {t.name} ({c.b} vs {c.a})") for r in results.benchmarks
            for t in r.tests for c in t.comparisons if not c.meets_target]
