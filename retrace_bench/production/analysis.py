"""Compute for the production workload (an app under load): per arm and path the medians over rounds,
the paired intervals of every arm against plain (and of later releases against the baseline), the
verdicts, the regressions the gate stops on, the CPU ranking of the APM agents. Statistics from
retrace_bench.stats, as for every other workload."""

from __future__ import annotations

import statistics

from retrace_bench import effects, facts
from retrace_bench.arms import recorded_labels as recorded_arms
from retrace_bench.effects import Effect
from retrace_bench.production.data import ArmRun, load_runs
from retrace_bench.stats import family_confidence, median_or_none

SPEC_CLAIM = "<1% latency increase for most endpoints"
#: A recorded app whose trace grows less than this per request did not record its requests.
RECORDED_MIN_BYTES_PER_REQUEST = 1.0


def median_of(runs: list[ArmRun], path: str, metric: str) -> float:
    return statistics.median(getattr(r.results[path], metric) for r in runs)


def round_pairs(runs: list[ArmRun], plain: str, arm: str, figure) -> list[tuple[float, float]]:
    """(plain's, arm's) figure in each round that has both."""
    by_round = {(r.arm, r.round): figure(r) for r in runs}
    return [(by_round[(plain, n)], by_round[(arm, n)]) for n in sorted({r.round for r in runs})
            if by_round.get((plain, n)) is not None and by_round.get((arm, n)) is not None]


def change_effect(what: str, runs: list[ArmRun], plain: str, arm: str, figure, a: float, b: float,
                  confidence: float = facts.CONFIDENCE, higher_is_worse: bool = True) -> Effect:
    """The change arm / plain in percent (of the medians `a`, `b`), with the interval of the paired
    per-round log ratios in percent (effects.percent_change: it cannot pass -100%, as the programs'
    ratios). A latency or a CPU that rises is slower; a throughput that rises is faster.
    `confidence`: per comparison."""
    return effects.percent_change(what, a, b, round_pairs(runs, plain, arm, figure), confidence, higher_is_worse)


def cpu_effect(runs: list[ArmRun], plain: str, arm: str, confidence: float = facts.CONFIDENCE) -> Effect | None:
    """The app's CPU per request, `arm` against `plain` (change_effect of the medians); None when
    either has no CPU figure."""
    figure = lambda r: r.cpu_ms_per_request   # noqa: E731
    a = median_or_none(figure(r) for r in runs if r.arm == plain)
    b = median_or_none(figure(r) for r in runs if r.arm == arm)
    if not a or b is None:
        return None
    return change_effect("cpu_ms_per_request", runs, plain, arm, figure, a, b, confidence)


def change(a: float | None, b: float | None) -> float | None:
    return (b - a) / a * 100 if a and b is not None else None




def verdict_confidence(paths: list, families: int = 1) -> float:
    """Bonferroni over the figures that get a verdict for one arm: throughput and fixed-rate p50 per
    path, and CPU per request, so that an A/A comes out within noise on all of them at 95%; times
    `families` when that many such families are judged as one (the self-check's A/As)."""
    return family_confidence(facts.CONFIDENCE, (2 * len(paths) + 1) * families)


#: The figures of a path the gate judges, a later release against the baseline (CPU per request too).
GATED = ("requests_per_s", "rate_p50_ms")
CPU = "cpu_ms_per_request"


def versus(runs: list[ArmRun], arms: dict, path: str, ref: str, arm: str,
           confidence: float = facts.CONFIDENCE) -> tuple[dict, dict[str, Effect]]:
    """One path: `arm` against `ref` (plain, or the baseline version), with 95% intervals over
    rounds (paired) and verdicts for throughput and the fixed-rate p50: the summary's figures, and
    the Effects they come from (figure -> Effect)."""
    p, a = arms[ref], arms[arm]
    o = {
        "throughput_drop_percent": (p["requests_per_s"] - a["requests_per_s"]) / p["requests_per_s"] * 100,
        "p50_increase_percent": (a["p50_ms"] - p["p50_ms"]) / p["p50_ms"] * 100,
        "p95_increase_percent": (a["p95_ms"] - p["p95_ms"]) / p["p95_ms"] * 100,
        "p99_increase_percent": (a["p99_ms"] - p["p99_ms"]) / p["p99_ms"] * 100,
        "ranges_overlap": (a["requests_per_s_range"][1] >= p["requests_per_s_range"][0]
                           and p["requests_per_s_range"][1] >= a["requests_per_s_range"][0]),
        }
    found = {metric: change_effect(metric, runs, ref, arm, lambda r, m=metric: getattr(r.results[path], m),
                                   p[metric], a[metric], confidence, higher_is_worse=metric != "requests_per_s")
             for metric in ("requests_per_s", "p50_ms", "p95_ms", "p99_ms")}
    o.update({f"{metric}_change_ci_percent": e.interval() for metric, e in found.items()})
    o["throughput_verdict"] = found["requests_per_s"].verdict
    if p["rate"] and a["rate"]:
        for m in ("p50_ms", "p95_ms", "p99_ms"):
            e = change_effect(f"rate_{m}", runs, ref, arm,
                              lambda r, m=m: getattr(r.rate_results[path], m) if path in r.rate_results else None,
                              p["rate"][m], a["rate"][m], confidence)
            o[f"rate_{m}_change_percent"] = e.estimate
            o[f"rate_{m}_change_ci_percent"] = e.interval()
            found[f"rate_{m}"] = e
        o["rate_p50_verdict"] = found["rate_p50_ms"].verdict
    return o, found


def baseline_cpu(e: Effect | None) -> dict:
    """For a later version: its CPU per request against the baseline version's (cpu_effect), with a verdict."""
    return {"cpu_change_vs_baseline_percent": e and e.estimate, "cpu_change_vs_baseline_ci_percent": e and e.interval(),
            "cpu_vs_baseline_verdict": e.verdict if e else facts.CANNOT_TELL}


def regressions(summary: dict) -> list[str]:
    """Production figures where a version is slower than the baseline beyond noise (the gate)."""
    return [effects.row_text(r) for r in effects.regressions(summary.get("effects", []))]


def app_summary(data: dict, families: int = 1) -> dict:
    """Per path and arm: medians over rounds; per arm: CPU per request, peak RSS, start-up, idle
    CPU, errors and evidence; each arm against plain with 95% intervals over rounds."""
    if "failure" in data:
        failure = data["failure"]
        if not isinstance(failure, str) or not failure.strip():
            raise ValueError("production result: 'failure' is not a message")
        return {"failure": failure}
    runs = load_runs(data)
    labels = [a for a in data["arms"] if any(r.arm == a for r in runs)]
    plain = data["arms"][0]
    if plain not in labels:
        raise ValueError("production result: no run of the plain arm")
    paths, rows = {}, []
    confidence = verdict_confidence(data["paths"], families)
    for path in data["paths"]:
        arms = {}
        for arm in labels:
            arm_runs = [r for r in runs if r.arm == arm]
            arms[arm] = {metric: median_of(arm_runs, path, metric)
                         for metric in ("requests_per_s", "mean_ms", "p50_ms", "p95_ms", "p99_ms")}
            arms[arm]["requests_per_s_range"] = [min(r.results[path].requests_per_s for r in arm_runs),
                                                 max(r.results[path].requests_per_s for r in arm_runs)]
            arms[arm]["failed"] = sum(r.results[path].failed + r.results[path].non_2xx for r in arm_runs)
            rated = [r.rate_results[path] for r in arm_runs if path in r.rate_results]
            arms[arm]["rate"] = ({"rate_per_s": rated[0].rate_per_s,
                                  **{m: statistics.median(getattr(x, m) for x in rated) for m in ("p50_ms", "p95_ms", "p99_ms")},
                                  "failed": sum(x.failed + x.non_2xx for x in rated)} if rated else None)
        subject = f"{data.get('app', 'app')} {path}"
        against, against_baseline = {}, {}
        for arm in labels[1:]:
            against[arm], found = versus(runs, arms, path, plain, arm, confidence)
            rows += [effects.row(e, "production", subject, plain, arm, "overhead", False) for e in found.values()]
        # --versions: every later recorded arm against the first one, the baseline (the gate's figures).
        baseline = recorded_arms(labels)[:1]
        for arm in recorded_arms(labels)[1:]:
            against_baseline[arm], found = versus(runs, arms, path, baseline[0], arm, confidence)
            rows += [effects.row(e, "production", subject, baseline[0], arm, "versions", figure in GATED)
                     for figure, e in found.items()]
        paths[path] = {"arms": arms, "against_plain": against,
                       **({"baseline": baseline[0], "against_baseline": against_baseline} if against_baseline else {})}
    per_arm = {}
    for arm in labels:
        arm_runs = [r for r in runs if r.arm == arm]
        idle_trace = data.get("idle_trace_bytes", {}).get(arm)
        bytes_per_request = None
        if idle_trace is not None and arm_runs and all(r.trace_bytes is not None for r in arm_runs):
            bytes_per_request = statistics.median((r.trace_bytes - idle_trace) / r.requests_sent for r in arm_runs)
        sink = [r for r in arm_runs if r.sink_bytes is not None]
        failed = sum(r.results[p].failed + r.results[p].non_2xx for r in arm_runs for p in r.results)
        cpu = cpu_effect(runs, plain, arm, confidence) if arm != plain else None
        recorded = recorded_arms(labels)
        cpu_versions = cpu_effect(runs, recorded[0], arm, confidence) if arm in recorded[1:] else None
        app = data.get("app", "app")
        rows += [effects.row(cpu, "production", app, plain, arm, "overhead", False)] if cpu else []
        rows += [effects.row(cpu_versions, "production", app, recorded[0], arm, "versions", True)] if cpu_versions else []
        per_arm[arm] = {
            "agent": data.get("agents", {}).get(arm),
            "cpu_ms_per_request": median_or_none(r.cpu_ms_per_request for r in arm_runs),
            "cpu_change_ci_percent": cpu.interval() if cpu else None,
            **(baseline_cpu(cpu_versions) if arm in recorded[1:] else {}),
            "peak_rss_mb": (m / 1024 if (m := median_or_none(r.peak_rss_kb for r in arm_runs)) else None),
            "startup_s": median_or_none(r.startup_s for r in arm_runs),
            "idle_cpu_ms_per_s": median_or_none(r.idle_cpu_ms_per_s for r in arm_runs),
            "failed_requests": failed,
            "warmup_requests": sum(r.warmup_requests for r in arm_runs),
            "warmup_failed": sum(r.warmup_failed for r in arm_runs),
            "comparable": failed == 0,
            "exceptions": sorted({e for r in arm_runs for e in r.exceptions}),
            "trace_bytes_per_request": bytes_per_request,
            "idle_trace_bytes": idle_trace,
            "requests_recorded": (None if bytes_per_request is None
                                  else bytes_per_request >= RECORDED_MIN_BYTES_PER_REQUEST),
            "sink_bytes_per_request": (statistics.median(r.sink_bytes / r.requests_sent for r in sink) if sink else None),
            "events_per_request": (statistics.median(r.sink_events / r.requests_sent for r in sink)
                                   if sink and any(r.sink_events for r in sink) else None),
            "sink_requests_per_request": (statistics.median(r.sink_requests / r.requests_sent for r in sink) if sink else None)}
    return {"app": data.get("app", "app"), "arms": labels, "paths": paths, "per_arm": per_arm,
            "failures": data.get("failures", {}), "unavailable": data.get("unavailable", {}),
            "server_replay": data.get("server_replay"), "effects": rows,
            "breakdown": {arm: mean_breakdown([r for r in runs if r.arm == arm]) for arm in labels}}


def mean_breakdown(runs: list[ArmRun]) -> dict[str, dict[str, float]]:
    endpoints = sorted({e for r in runs for e in r.breakdown})
    return {e: {part: statistics.fmean(r.breakdown[e][part] for r in runs if e in r.breakdown)
                for part in ("logic", "db", "cache")} for e in endpoints}


def cpu_change(summary: dict, arm: str) -> tuple[float, list[float] | None] | None:
    """(CPU per request change against plain in %, its 95% interval), or None."""
    plain = summary["arms"][0]
    if arm == plain:
        return None
    cpu = change(summary["per_arm"][plain]["cpu_ms_per_request"], summary["per_arm"][arm]["cpu_ms_per_request"])
    return None if cpu is None else (cpu, summary["per_arm"][arm]["cpu_change_ci_percent"])


def cpu_ranking(summary: dict) -> list[list[str]]:
    """The measured arms (plain aside) by CPU per request change, cheapest first, in groups: an arm
    joins the group before it when its interval overlaps the interval of any arm in that group."""
    rows = sorted((c[0], c[1], arm) for arm in summary["arms"][1:]
                  if summary["per_arm"][arm]["comparable"] and (c := cpu_change(summary, arm)) and c[1])
    groups: list[list[tuple]] = []
    for row in rows:
        if groups and any(row[1][0] <= other[1][1] and other[1][0] <= row[1][1] for other in groups[-1]):
            groups[-1].append(row)
        else:
            groups.append([row])
    return [[arm for _, _, arm in group] for group in groups]
