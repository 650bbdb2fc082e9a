"""Statistics, valid at the process counts the suite runs (a handful of rounds).

The unit of replication is the round: in each round every arm runs one process, so arm B's
per-process figure minus arm A's in the same round is one paired difference, machine drift
between rounds cancelling out. The interval is Student's t on those differences: exact when they
are normal, robust when they are symmetric, and never degenerate at small n (a bootstrap of 4
values can only return [min, max]-like bounds that undercover badly). Per-process figures are
means of many timed runs (process_figure), which makes them close to normal.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def process_figure(runs: list[float]) -> float:
    """One process's figure from its runs: the mean. A recorded operation's runs are a mixture of
    two machine states (facts.py, "runs in a process"); the mean is what the user pays on average
    and is close to normal over many runs, where a median jumps from one state to the other."""
    return statistics.fmean(runs)


def median_or_none(values) -> float | None:
    """The median of the values that are not None, or None when there are none."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def coefficient_of_variation(samples: list[float]) -> float:
    """Sample standard deviation over mean (0 for fewer than two samples)."""
    if len(samples) < 2 or statistics.fmean(samples) == 0:
        return 0.0
    return statistics.stdev(samples) / statistics.fmean(samples)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for numerator in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
                          -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def regularized_beta(x: float, a: float, b: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2, 0.5)
    return 1 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df degrees of freedom (bisection on the CDF)."""
    if not 0 < p < 1:
        raise ValueError("p must be in (0, 1)")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n: int

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def paired_t_interval(differences: list[float], confidence: float) -> Interval | None:
    """Mean of the paired differences with its two-sided Student-t interval; None below n = 2."""
    n = len(differences)
    if n < 2:
        return None
    mean = statistics.fmean(differences)
    half = t_quantile(1 - (1 - confidence) / 2, n - 1) * statistics.stdev(differences) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def family_confidence(confidence: float, comparisons: int) -> float:
    """Bonferroni: the per-comparison confidence that keeps the family at `confidence`."""
    return 1 - (1 - confidence) / max(comparisons, 1)


def welch(x: dict, y: dict, confidence: float = 0.95) -> tuple[float, float | None, float | None]:
    """B - A of two independent means given as estimates (value, low, high, n) with 95% Student-t
    intervals: the difference and its Welch interval at `confidence` (None without an interval on a
    side)."""
    change = y["value"] - x["value"]
    if x["low"] is None or y["low"] is None or x["n"] < 2 or y["n"] < 2:
        return change, None, None
    var = [((e["high"] - e["low"]) / 2 / t_quantile(0.975, e["n"] - 1)) ** 2 for e in (x, y)]   # se²
    df = sum(var) ** 2 / sum(v ** 2 / (e["n"] - 1) for v, e in zip(var, (x, y))) if sum(var) else 1e9
    half = t_quantile(1 - (1 - confidence) / 2, df) * sum(var) ** 0.5
    return change, change - half, change + half
