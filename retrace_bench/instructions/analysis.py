"""Compute instructions per call (instructions.py's counts in run.json): per test and arm the caller's,
the other threads' and the total, per process; per comparison (a recorded arm against plain, a later
version against the baseline) the paired difference over rounds, with its interval and the one
verdict rule (effects.judge, for an exact count). Data only: report.py words it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from retrace_bench import effects, facts
from retrace_bench.arms import PLAIN
from retrace_bench.arms import comparison_pairs
from retrace_bench.effects import Effect
from retrace_bench.handover import ProcessRecord, TestRecord
from retrace_bench.instructions import profiles
from retrace_bench.stats import family_confidence, t_quantile

CALLER, OTHERS, TOTAL = "caller", "others", "total"
MEASURES = (CALLER, OTHERS, TOTAL)
#: The measures a verdict is called on (the issue of a regression gate): the caller's, and the total.
JUDGED = (CALLER, TOTAL)


def process_figures(test: TestRecord) -> dict[str, float] | None:
    """One process's instructions per call of a test: (mean of its counted windows with calls -
    mean of its empty windows) / calls, the first window discarded; None without both kinds."""
    windows = (test.windows or [])[1:]
    full = [w for w in windows if w.calls and w.caller is not None]
    empty = [w for w in windows if not w.calls and w.caller is not None]
    if not full or not empty:
        return None
    calls = full[0].calls
    caller = (statistics.fmean(w.caller for w in full) - statistics.fmean(w.caller for w in empty)) / calls
    others = (statistics.fmean(w.others for w in full) - statistics.fmean(w.others for w in empty)) / calls
    return {CALLER: caller, OTHERS: others, TOTAL: caller + others}


@dataclass
class Estimate:
    """A mean over processes with its Student-t interval (None with one process)."""
    value: float
    low: float | None
    high: float | None
    n: int


def estimate(values: list[float], confidence: float = facts.CONFIDENCE) -> Estimate:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return Estimate(mean, None, None, len(values))
    half = t_quantile(1 - (1 - confidence) / 2, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return Estimate(mean, mean - half, mean + half, len(values))


@dataclass
class ArmInstructions:
    label: str
    figures: dict[str, Estimate]        # caller / others / total, instructions per call
    processes: int
    calls: int                          # calls per window
    wait_s: float                       # median time a window waited for Retrace's writer


@dataclass
class InstructionComparison:
    a: str
    b: str
    kind: str                           # overhead, versions, aa
    differences: dict[str, Effect]          # caller / total: B - A, instructions per call


@dataclass
class FunctionCost:
    function: str
    inclusive: float                    # instructions per call, with what it called
    own: float                          # instructions per call in the function itself
    object: str                         # the file it is in (a Retrace extension, libc, ...)


@dataclass
class SideProfile:
    """The top functions of one side (caller or others) of one arm, below the spine."""
    side: str
    whole: float                        # the side's figure (instructions per call)
    top: list[FunctionCost]             # outside the interpreter, below the path to the operation
    interpreter: float                  # the interpreter's own cost per call


@dataclass
class FunctionChange:
    function: str
    own_a: float
    own_b: float
    inclusive_change: float
    object: str


@dataclass
class ProfileChange:
    a: str
    b: str
    side: str
    functions: list[FunctionChange]


@dataclass
class TestInstructions:
    benchmark: str
    number: int
    name: str
    category: str
    arms: dict[str, ArmInstructions]
    comparisons: list[InstructionComparison] = field(default_factory=list)
    profiles: dict[str, list[SideProfile]] = field(default_factory=dict)     # arm -> caller, others
    profile_changes: list[ProfileChange] = field(default_factory=list)      # versions: B against A

    def profiled(self) -> bool:
        """Whether Retrace does work of its own per call here: a recorded arm's total is
        facts.PROFILE_MIN_RATIO times plain's or more (its profile is worth showing)."""
        plain = self.arms.get(PLAIN)
        if plain is None:
            return bool(self.profiles)
        return any(a.figures[TOTAL].value >= facts.PROFILE_MIN_RATIO * max(plain.figures[TOTAL].value, 1.0)
                   for label, a in self.arms.items() if label in self.profiles and label != plain.label)


@dataclass
class InstructionResult:
    tests: list[TestInstructions]
    failures: dict[str, dict[str, str]]     # benchmark -> arm -> reason
    confidence: float                       # of each figure's ± and of a caller's comparison
    config: dict
    comparison_confidence: float = facts.CONFIDENCE   # of each comparison, caller and total

    def comparison(self, kind: str):
        """(test, comparison) of every comparison of that kind."""
        return [(t, c) for t in self.tests for c in t.comparisons if c.kind == kind]


def difference(measure: str, a: dict[int, dict], b: dict[int, dict], confidence: float) -> Effect | None:
    """B - A of one measure (caller or total) in instructions per call, paired by round, judged as
    an exact count (effects.judge)."""
    return effects.difference(measure, effects.INSTRUCTIONS, {r: f[measure] for r, f in a.items()},
                              {r: f[measure] for r, f in b.items()}, confidence, exact=True)


def comparison_confidence(tests: int) -> float:
    """The confidence of one comparison, caller or total: 95% over the run's `tests` comparisons
    (Bonferroni), as for wall time. A recorded call's count moves 1-2.3% from process to process
    (time.time(), os.getpid(), sqlite: Retrace's Binder::call, docs/instructions.md), so at 95% each,
    with the 1% floor, an A/A of the 14 tests made a false call in about one run in eight (simulated
    with the measured spreads; the self-check saw it: time.time() caller -1.9%)."""
    return family_confidence(facts.CONFIDENCE, tests)


def counted_tests(run) -> int:
    """How many tests have instruction counts (the family of the totals' comparisons)."""
    return len({(b.name, t["number"]) for b in run.benchmarks for p in b.instructions
                for t in p.record.get("tests", []) if isinstance(t, dict) and "number" in t})


def analyse(run, families: int = 1) -> InstructionResult | None:
    """run.json's instruction processes -> figures and verdicts; None when the run counted none.
    `families`: how many such runs' comparisons are judged as one family (the self-check's A/As)."""
    if not any(b.instructions or b.instruction_failures for b in run.benchmarks):
        return None
    pairs = comparison_pairs(run.arms)
    confidence = facts.CONFIDENCE
    tests_counted = counted_tests(run) * families
    tests = []
    for bench in run.benchmarks:
        # arm -> round -> test number -> figures
        per: dict[str, dict[int, dict[int, dict]]] = {}
        meta: dict[int, TestRecord] = {}
        waits: dict[tuple[str, int], list[float]] = {}
        for entry in bench.instructions:
            record = ProcessRecord.from_json(entry.record)
            for test in record.tests:
                figures = process_figures(test)
                if figures is None:
                    continue
                per.setdefault(entry.arm, {}).setdefault(entry.round, {})[test.number] = figures
                meta.setdefault(test.number, test)
                waits.setdefault((entry.arm, test.number), []).extend(
                    w.wait_s for w in (test.windows or [])[1:] if w.calls)
        for number, test in sorted(meta.items()):
            arms = {}
            for label, rounds in per.items():
                values = [r[number] for r in rounds.values() if number in r]
                if values:
                    arms[label] = ArmInstructions(label, {m: estimate([v[m] for v in values], confidence)
                                                          for m in MEASURES}, len(values), test.iterations,
                                                  statistics.median(waits.get((label, number)) or [0.0]))
            result = TestInstructions(bench.name, number, test.name, test.category, arms)
            found_profiles = {label: sides for label, by_test in bench.functions.items()
                              if (sides := by_test.get(str(number))) and label in arms}
            result.profiles = {label: side_profiles(sides, arms[label]) for label, sides in found_profiles.items()}
            for a, b, kind in pairs:
                if a not in per or b not in per:
                    continue
                fa = {r: t[number] for r, t in per[a].items() if number in t}
                fb = {r: t[number] for r, t in per[b].items() if number in t}
                found = {m: d for m in JUDGED
                         if (d := difference(m, fa, fb, comparison_confidence(tests_counted)))}
                if found:
                    result.comparisons.append(InstructionComparison(a, b, kind, found))
                if kind == "versions" and a in found_profiles and b in found_profiles:
                    result.profile_changes += profile_changes(a, b, found_profiles[a], found_profiles[b])
            tests.append(result)
    failures = {b.name: dict(b.instruction_failures) for b in run.benchmarks if b.instruction_failures}
    return InstructionResult(tests, failures, confidence, run.config.get("instructions", {}),
                             comparison_confidence(tests_counted))


def processes_for_target(result: InstructionResult, target_percent: float, most: int) -> dict[str, dict[int, int]]:
    """benchmark -> test number -> the processes per arm its version comparisons need for a caller
    half-width of `target_percent` of the baseline's figure (at most `most`), for the tests that miss
    it: the fewest n with t(n-1) * s / sqrt(n) <= facts.INSTRUCTION_TARGET_AIM of the target, s
    being the spread of the paired differences so far (from their interval; the aim leaves room for
    s read low). The number depends on the spread only, never on where the difference lies, so
    adding those processes leaves the verdict unbiased, as for wall time's --target-ci
    (docs/instructions.md)."""
    needed: dict[str, dict[int, int]] = {}
    for t, c in result.comparison("versions"):
        d = c.differences.get(CALLER)
        if d is None or d.low is None or d.half_width_percent is None or d.half_width_percent <= target_percent:
            continue
        quantile = lambda n: t_quantile(1 - (1 - d.confidence) / 2, n - 1)   # noqa: E731
        spread = d.half_width_percent * d.rounds ** 0.5 / quantile(d.rounds)     # % of the reference
        aim = facts.INSTRUCTION_TARGET_AIM * target_percent
        n = next((n for n in range(d.rounds + 1, most + 1) if quantile(n) * spread / n ** 0.5 <= aim), most)
        if n > d.rounds:
            tests = needed.setdefault(t.benchmark, {})
            tests[t.number] = max(tests.get(t.number, 0), n)
    return needed


def side_profiles(sides: dict, arm: ArmInstructions) -> list[SideProfile]:
    """An arm's profile (profiles.test_profile) -> the top functions of each side."""
    found = []
    for side in (profiles.CALLER, profiles.OTHERS):
        whole = arm.figures[CALLER if side == profiles.CALLER else OTHERS].value
        top, interpreter = profiles.top(sides.get(side, {}), whole)
        found.append(SideProfile(side, whole, [FunctionCost(*row) for row in top], interpreter))
    return found


def profile_changes(a: str, b: str, sides_a: dict, sides_b: dict) -> list[ProfileChange]:
    return [ProfileChange(a, b, side, [FunctionChange(*row) for row in
                                       profiles.changes(sides_a.get(side, {}), sides_b.get(side, {}))])
            for side in (profiles.CALLER, profiles.OTHERS)]


def effect_rows(result: InstructionResult | None) -> list[dict]:
    """Every comparison's caller and total as summary.json's effect rows; a version difference is
    gated (the gate's measure wherever counts exist)."""
    if result is None:
        return []
    return [effects.row(d, "instructions", f"{t.benchmark}: {t.name}", c.a, c.b, c.kind, c.kind == "versions")
            for t in result.tests for c in t.comparisons for d in c.differences.values()]
