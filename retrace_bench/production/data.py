"""The production workload's data: production_<app>.json, each arm's run of the app under load per
round (the loads' results, CPU, trace, the agents' evidence), to and from JSON."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AbResult:
    requests_per_s: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    complete: int
    failed: int
    non_2xx: int


@dataclass
class RateResult:
    """Latency of requests sent at a fixed rate (hey -c 1 -q RATE): not saturated."""
    rate_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    complete: int
    failed: int                 # sent but not answered (connection errors, time-outs)
    non_2xx: int


@dataclass
class ArmRun:
    arm: str                                  # the arm's label: plain, retrace, retrace==X.Y.Z, an agent
    round: int
    results: dict[str, AbResult]              # saturated: ab -c N
    rate_results: dict[str, RateResult] = field(default_factory=dict)   # unsaturated: hey -c 1 -q R
    breakdown: dict[str, dict[str, float]] = field(default_factory=dict)  # ms per request
    trace_bytes: int | None = None
    requests_sent: int = 0
    cpu_ms_per_request: float | None = None   # the app process, all threads, over the saturated load
    peak_rss_kb: int | None = None
    startup_s: float | None = None
    idle_cpu_ms_per_s: float | None = None    # after the load
    exceptions: list[str] = field(default_factory=list)
    warmup_requests: int = 0                  # the warm-up: unpinned, at the load's concurrency
    warmup_failed: int = 0
    sink_requests: int | None = None          # what an agent sent while this app ran
    sink_bytes: int | None = None
    sink_events: int | None = None


def load_runs(data: dict) -> list[ArmRun]:
    return [ArmRun(**{**r, "results": {p: AbResult(**a) for p, a in r["results"].items()},
                      "rate_results": {p: RateResult(**a) for p, a in r.get("rate_results", {}).items()}})
            for r in data["runs"]]
