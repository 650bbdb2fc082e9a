"""One compared figure, one verdict rule: every workload's comparisons are Effects.

An Effect is B against A for one figure: a difference (B - A, in µs per call or instructions per
call), a ratio (B / A: a program's time) or a percent change (a request's throughput): its estimate,
its interval over rounds, A's figure (the reference), the rounds it rests on and its verdict. The
verdict is decided once, here (`judge`), the way asv's `_is_result_better` decides each row; reports
only word it, and the gate, the glance, the budgets and summary.json read it.

The rule: a change is real (`slower`/`faster`) only when its interval excludes the null (0, or 1x
for a ratio) AND it is at least the minimum effect (facts.minimum_effect); otherwise it is `within
noise`; with no interval (one round) the run `cannot tell`.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass

from retrace_bench import facts
from retrace_bench.stats import paired_t_interval, welch

#: Units of an Effect's estimate.
US = "µs/op"                    # B - A, microseconds per call
INSTRUCTIONS = "instructions"   # B - A, instructions per call
RATIO = "x"                     # B / A
PERCENT = "%"                   # (B - A) / A, in percent
UNITS = (US, INSTRUCTIONS, RATIO, PERCENT)


def null_of(unit: str) -> float:
    """What the estimate is when A and B are the same."""
    return 1.0 if unit == RATIO else 0.0


def minimum_effect(unit: str, reference: float, exact: bool = False) -> float:
    """The smallest change from the null the suite calls real, in the estimate's unit: for an exact
    count (instructions) facts.INSTRUCTION_MIN_EFFECT_FRACTION of A's figure (of 1x for a ratio);
    otherwise facts.MIN_EFFECT_FRACTION, and for a time per call at least facts.MIN_EFFECT_US."""
    fraction = facts.INSTRUCTION_MIN_EFFECT_FRACTION if exact else facts.MIN_EFFECT_FRACTION
    if unit == RATIO:
        return fraction
    if unit == PERCENT:
        return fraction * 100
    if unit == US and not exact:
        return facts.minimum_effect_us(reference)
    return fraction * abs(reference)


def judge(estimate: float, low: float | None, high: float | None, unit: str, reference: float,
          exact: bool = False, higher_is_worse: bool = True) -> str:
    """The one verdict rule (module docstring). `exact`: the figure is an instruction count, whose
    minimum effect is facts.INSTRUCTION_MIN_EFFECT_FRACTION; `higher_is_worse`: a rise is `slower`
    (a time, a count, a latency), or `faster` (a throughput)."""
    if low is None or high is None:
        return facts.CANNOT_TELL
    null = null_of(unit)
    if low <= null <= high or abs(estimate - null) < minimum_effect(unit, reference, exact):
        return facts.WITHIN_NOISE
    return facts.SLOWER if (estimate > null) == higher_is_worse else facts.FASTER


@dataclass
class Effect:
    """B against A for one figure (module docstring)."""
    what: str                       # latency, cpu, caller, total, time, throughput, ...
    unit: str                       # one of UNITS
    estimate: float
    low: float | None               # the interval at `confidence`; None with one round
    high: float | None
    reference: float                # A's figure (for a ratio or a percent: A's, for the record)
    rounds: int                     # the pairs it rests on
    verdict: str
    confidence: float = facts.CONFIDENCE
    target: float | None = None     # --target-ci's half-width for it, in its unit

    @property
    def percent(self) -> float | None:
        """The change in percent of A's figure."""
        if self.unit == RATIO:
            return (self.estimate - 1) * 100
        if self.unit == PERCENT:
            return self.estimate
        return self.estimate / self.reference * 100 if self.reference else None

    @property
    def half_width(self) -> float | None:
        return None if self.low is None or self.high is None else (self.high - self.low) / 2

    @property
    def half_width_percent(self) -> float | None:
        """The interval's half-width in percent of A's figure (of the ratio 1x, for a ratio)."""
        if self.half_width is None:
            return None
        if self.unit in (RATIO, PERCENT):
            return self.half_width * (100 if self.unit == RATIO else 1)
        return self.half_width / abs(self.reference) * 100 if self.reference else None

    @property
    def meets_target(self) -> bool:
        return self.target is None or (self.half_width is not None and self.half_width <= self.target)

    @property
    def real(self) -> bool:
        return self.verdict in facts.REAL_EFFECTS

    def interval(self) -> list[float] | None:
        return None if self.low is None else [self.low, self.high]

    def to_json(self, **where) -> dict:
        """The effect as summary.json's "effects" rows carry it, with where it comes from."""
        return {**where, **asdict(self), "percent": self.percent}


def row(effect: Effect, workload: str, subject: str, a: str, b: str, kind: str, gated: bool) -> dict:
    """summary.json's "effects" row of one Effect: where it comes from (the workload, what it is about,
    arm B against arm A, the kind of comparison: overhead, versions or aa) and whether the regression
    gate judges it (--fail-on-regression: a later release against the baseline, on the figure the
    gate trusts for that workload)."""
    return effect.to_json(workload=workload, subject=subject, a=a, b=b, kind=kind, gated=gated)


def regressions(rows: list[dict]) -> list[dict]:
    """The rows the gate fails on: judged by it and slower beyond noise."""
    return [r for r in rows if r["gated"] and r["verdict"] == facts.SLOWER]


def undecided(rows: list[dict]) -> list[dict]:
    """The rows the gate cannot pass: judged by it, without an interval (one round)."""
    return [r for r in rows if r["gated"] and r["verdict"] == facts.CANNOT_TELL]


def row_text(r: dict) -> str:
    """One row in words: the gate's line."""
    unit = {US: " µs/op", INSTRUCTIONS: " instructions/call", RATIO: "x", PERCENT: "%"}[r["unit"]]
    digits = ",.0f" if r["unit"] == INSTRUCTIONS else ".3f" if r["unit"] in (US, RATIO) else ".1f"
    sign = "" if r["unit"] == RATIO else "+"
    interval = (f" [{r['low']:{sign}{digits}} .. {r['high']:{sign}{digits}}]" if r["low"] is not None
                else " (no interval: one round)")
    percent = f" ({r['percent']:+.1f}%)" if r["percent"] is not None and r["unit"] != PERCENT else ""
    return (f"{r['workload']} {r['subject']}: {r['what']} ({r['b']} vs {r['a']}): "
            f"{r['estimate']:{sign}{digits}}{unit}{percent}{interval}")


def difference(what: str, unit: str, a: dict, b: dict, confidence: float, exact: bool = False) -> Effect | None:
    """B - A paired by round (`a`, `b`: round -> figure): the mean of the per-round differences with
    its Student-t interval; A's figure is its mean over the paired rounds. None without a pair."""
    rounds = sorted(a.keys() & b.keys())
    if not rounds:
        return None
    reference = statistics.fmean(a[r] for r in rounds)
    differences = [b[r] - a[r] for r in rounds]
    interval = paired_t_interval(differences, confidence)
    if interval is None:
        return Effect(what, unit, statistics.fmean(differences), None, None, reference, len(rounds),
                      facts.CANNOT_TELL, confidence)
    return Effect(what, unit, interval.estimate, interval.low, interval.high, reference, len(rounds),
                  judge(interval.estimate, interval.low, interval.high, unit, reference, exact), confidence)


def log_ratios(pairs: list[tuple[float, float]]) -> list[float]:
    """log(B / A) of each (a, b) pair, one per round; a pair with a figure that is missing or not
    positive is left out."""
    return [math.log(b / a) for a, b in pairs if a is not None and b is not None and a > 0 and b > 0]


def log_ratio(what: str, pairs: list[tuple[float, float]], confidence: float, exact: bool = False) -> Effect | None:
    """B / A from (a, b) pairs, one per round: the geometric mean of the per-round ratios with the
    interval of the mean log ratio, turned back into a ratio (so that it cannot pass 0x, and a
    change never reads below -100%). None without a pair (log_ratios)."""
    return ratio_of_logs(what, log_ratios(pairs), confidence, exact)


def ratio_of_logs(what: str, logs: list[float], confidence: float, exact: bool = False) -> Effect | None:
    """The ratio whose log is the mean of `logs` (one per round), with the interval of that mean."""
    if not logs:
        return None
    mean = math.exp(statistics.fmean(logs))
    interval = paired_t_interval(logs, confidence)
    low, high = (math.exp(interval.low), math.exp(interval.high)) if interval else (None, None)
    return Effect(what, RATIO, mean, low, high, 1.0, len(logs), judge(mean, low, high, RATIO, 1.0, exact), confidence)


def percent_change(what: str, a: float, b: float, pairs: list[tuple[float, float]], confidence: float,
                   higher_is_worse: bool = True) -> Effect:
    """(B - A) / A in percent of two figures (medians over rounds), with the interval of the paired
    log ratio of the rounds' figures (log_ratio) in percent."""
    estimate = (b - a) / a * 100
    logs = log_ratios(pairs)
    interval = paired_t_interval(logs, confidence)
    low, high = (math.expm1(interval.low) * 100, math.expm1(interval.high) * 100) if interval else (None, None)
    return Effect(what, PERCENT, estimate, low, high, a, len(logs),
                  judge(estimate, low, high, PERCENT, a, higher_is_worse=higher_is_worse), confidence)


def welch_difference(what: str, unit: str, x: dict, y: dict, confidence: float, exact: bool = False) -> Effect:
    """B - A of two independent estimates (value, low, high, n: archived runs' figures) with the
    Welch interval (stats.welch)."""
    change, low, high = welch(x, y, confidence)
    rounds = min(x["n"], y["n"])
    return Effect(what, unit, change, low, high, x["value"], rounds,
                  judge(change, low, high, unit, x["value"], exact), confidence)
