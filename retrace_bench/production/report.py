"""Render the production workload's result: its text section, the APM table, production_<app>.png."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

from retrace_bench.agents import AGENTS
from retrace_bench.arms import recorded_labels as recorded_arms
from retrace_bench.inputs import InputError, read_text
from retrace_bench.production.analysis import SPEC_CLAIM, cpu_change, cpu_ranking, app_summary
from retrace_bench.render import pyplot
from retrace_bench.replay import verdict_word
from retrace_bench.section import Section


SPEC_VERDICT_TEXT = {"met": "as claimed", "missed": "NOT as claimed",
                     "undetermined": "cannot tell from these rounds (the interval spans 1%; add --rounds)",
                     "one round": "cannot tell (one round: no interval; add --rounds)"}


def spec_verdict(against: dict) -> str:
    """The spec's <1% p50 claim, judged on the p50 interval over rounds; with one round there is no
    interval, and no verdict either (as everywhere else in the summary)."""
    ci = against.get("p50_ms_change_ci_percent")
    if not ci:
        return "one round"
    low, high = ci
    return "met" if high < 1 else "missed" if low >= 1 else "undetermined"


def fmt(value, spec: str, missing: str = "n/a") -> str:
    return spec.format(value) if value is not None else missing


def ci_text(ci, unit: str = "") -> str:
    return f"[{ci[0]:+.1f} .. {ci[1]:+.1f}]{unit}" if ci else "[one round: no CI]"


def render(data: dict) -> str:
    s = app_summary(data)
    if "failure" in s:
        return f"## Production benchmark ({data.get('app', 'app')})\n  FAILED: {s['failure'].splitlines()[0]}\n"
    config = data["config"]
    title = {"wsgi": "WSGI app (Flask on waitress)", "asgi": "ASGI app (FastAPI on uvicorn)"}.get(s["app"], s["app"])
    lines = [f"## Production benchmark: {title} (spec: \"{SPEC_CLAIM}\")",
             f"  app: {config['app_cmd']}",
             f"  saturated: ab -n {config['requests']} -c {config['concurrency']}{' -k' if config['keep_alive'] else ''}"
             f" per path after {config['warmup']} warmup requests"
             + (f"; fixed rate: hey -c 1 -q {config['rate']:g} -n {config['rate_requests']}" if config.get("rate_requests") else "")
             + f"; {config['rounds']} rounds, arms {', '.join(data['arms'])} in rotating order; medians over rounds, "
             f"95% CI over rounds (paired, Student's t on log ratios; Bonferroni over the {2 * len(data['paths']) + 1} "
             "figures with a verdict)",
             (f"  pinned: the app on CPU {','.join(map(str, config['pinned']['app_cpus']))}, ab/hey on CPU "
              f"{','.join(map(str, config['pinned']['load_cpus']))} in every measured load; each warm-up ran the "
              "app unpinned, on every CPU, at the load's concurrency" if config.get("pinned")
              else "  not pinned: the app and ab/hey share the CPUs")]
    for arm, reason in s["failures"].items():
        first, *rest = reason.splitlines() or [""]
        lines.append(f"  FAILED ({arm}): {first}")
        lines += [f"    {line}" for line in rest[:8]]
    for arm, reason in s["unavailable"].items():
        lines.append(f"  not measured ({arm}): {reason}")
    width = max(len(a) for a in s["arms"]) + 1
    for path, p in s["paths"].items():
        lines.append(f"\n  {path}")
        for arm in s["arms"]:
            a = p["arms"][arm]
            rate = (f"  | at {a['rate']['rate_per_s']:g}/s: p50 {a['rate']['p50_ms']:.2f} p95 {a['rate']['p95_ms']:.2f} "
                    f"p99 {a['rate']['p99_ms']:.2f} ms" if a["rate"] else "")
            lines.append(f"    {arm:<{width}} {a['requests_per_s']:8.1f} req/s "
                         f"(rounds {a['requests_per_s_range'][0]:.1f}-{a['requests_per_s_range'][1]:.1f})  "
                         f"p50 {a['p50_ms']:.2f}  p95 {a['p95_ms']:.2f}  p99 {a['p99_ms']:.2f} ms  failed {a['failed']}{rate}")
        for arm, o in p["against_plain"].items():
            spread = " (round ranges overlap)" if o["ranges_overlap"] else ""
            lines.append(f"    {arm} vs {s['arms'][0]}: throughput {-o['throughput_drop_percent']:+.1f}% "
                         f"{ci_text(o['requests_per_s_change_ci_percent'])}: {o['throughput_verdict']}{spread}; "
                         f"saturated p50 {o['p50_increase_percent']:+.1f}% {ci_text(o['p50_ms_change_ci_percent'])}, "
                         f"p95 {o['p95_increase_percent']:+.1f}% {ci_text(o['p95_ms_change_ci_percent'])}")
            if "rate_p50_ms_change_percent" in o:
                lines.append(f"      at a fixed rate: p50 {o['rate_p50_ms_change_percent']:+.1f}% "
                             f"{ci_text(o['rate_p50_ms_change_ci_percent'])}: {o['rate_p50_verdict']}; "
                             f"p95 {o['rate_p95_ms_change_percent']:+.1f}% {ci_text(o['rate_p95_ms_change_ci_percent'])}; "
                             f"p99 {o['rate_p99_ms_change_percent']:+.1f}% {ci_text(o['rate_p99_ms_change_ci_percent'])}")
            if arm in p.get("against_baseline", {}):
                ob = p["against_baseline"][arm]
                lines.append(f"      vs {p['baseline']} (baseline): throughput {-ob['throughput_drop_percent']:+.1f}% "
                             f"{ci_text(ob['requests_per_s_change_ci_percent'])}: {ob['throughput_verdict']}"
                             + (f"; fixed-rate p50 {ob['rate_p50_ms_change_percent']:+.1f}% "
                                f"{ci_text(ob['rate_p50_ms_change_ci_percent'])}: {ob['rate_p50_verdict']}"
                                if "rate_p50_verdict" in ob else ""))
            if not s["per_arm"][arm]["comparable"] or not s["per_arm"][s["arms"][0]]["comparable"]:
                lines.append("      not comparable: failed requests (see ERRORS below)")
            elif arm.startswith("retrace"):
                lines.append(f"      spec: {SPEC_VERDICT_TEXT[spec_verdict(o)]}: {SPEC_CLAIM} vs "
                             f"{o['p50_increase_percent']:+.1f}% at p50")
    lines.append("\n  Per arm (the app process, all threads; medians over rounds; CPU per request has its change's "
                 "95% interval, RSS, start-up and idle CPU none: shown for scale, not compared):")
    for arm in s["arms"]:
        a = s["per_arm"][arm]
        ci = a["cpu_change_ci_percent"]
        lines.append(f"    {arm:<{width}} CPU {fmt(a['cpu_ms_per_request'], '{:.2f}')} ms/request"
                     + (f" {ci_text(ci, '%')}" if arm != s['arms'][0] else "")
                     + (f" (vs baseline {a['cpu_change_vs_baseline_percent']:+.1f}% "
                        f"{ci_text(a['cpu_change_vs_baseline_ci_percent'], '%')}: {a['cpu_vs_baseline_verdict']})"
                        if a.get("cpu_change_vs_baseline_percent") is not None else "")
                     + f"  peak RSS {fmt(a['peak_rss_mb'], '{:.0f}')} MB  start-up {fmt(a['startup_s'], '{:.2f}')} s  "
                     f"idle CPU {fmt(a['idle_cpu_ms_per_s'], '{:.1f}')} ms/s")
        if a["trace_bytes_per_request"] is not None:
            lines.append(f"      trace: {a['trace_bytes_per_request']:,.0f} bytes per request over an idle "
                         f"recording of {a['idle_trace_bytes']:,} bytes (recordings deleted)")
            if not a["requests_recorded"]:
                lines.append("      FLAG: Retrace recorded ~0 bytes per request: these requests could not be "
                             "replayed from this recording")
        if a["sink_bytes_per_request"] is not None:
            events = (f"{a['events_per_request']:.1f} spans/events per request, " if a["events_per_request"] is not None else "")
            lines.append(f"      agent: {events}{a['sink_bytes_per_request']:,.0f} bytes per request sent "
                         f"({AGENTS[a['agent']].notes})")
        if a.get("warmup_failed"):
            lines.append(f"      BREAKS: {a['warmup_failed']} of {a['warmup_requests']} requests failed in the "
                         "unpinned warm-ups (the app's threads on every CPU): see its exceptions below")
        if a["failed_requests"]:
            lines.append(f"      ERRORS: {a['failed_requests']} failed or non-2xx requests: this arm's figures "
                         "are not comparable")
        if a["exceptions"]:
            lines.append("      the app printed these exceptions:")
            lines += [f"        {e}" for e in a["exceptions"]]
    if s["server_replay"]:
        r = s["server_replay"]
        lines.append(f"\n  Replay of a recorded server run ({r['arm']}, round 1, with the package's replay tool): "
                     f"{verdict_word(r['verdict'])}" + (f": {r['detail']}" if r["detail"] else ""))
    if any(s["breakdown"].values()):
        lines.append("\n  Request breakdown, ms per request (timed inside the app; the spec's example: "
                     "40 internal + 8 DB + 2 cache of 50 ms)")
        for arm, endpoints in s["breakdown"].items():
            for endpoint, parts in endpoints.items():
                lines.append(f"    {arm:<{width}} {endpoint:<8} logic {parts['logic']:.3f}  "
                             f"db {parts['db']:.3f}  cache {parts['cache']:.3f}")
    return "\n".join(lines) + "\n"


def apm_table(summaries: list[dict]) -> list[str]:
    """One row per tool: the spec's quoted overhead beside the measured ones, per app, with the
    CPU-per-request interval; then, per app, the ranking those intervals support."""
    lines = ["## Comparing with APM tools (measured in this run; the spec's figures are quoted)",
             "  tool            spec quoted  app   throughput   CPU/request vs plain [95% CI]   "
             "fixed rate p50 / p95   RSS MB  events/req"]
    recorded = list(dict.fromkeys(label for s in summaries for label in recorded_arms(s.get("arms", []))))
    tools = [("plain", "plain", "")] + \
        [(label, "Retrace" + label.removeprefix("retrace"), "<1%") for label in recorded or ["retrace"]] + \
        [(a.name, a.title, a.spec_claim) for a in AGENTS.values()]
    titles = dict((label, title) for label, title, _ in tools)
    for label, title, claim in tools:
        for s in summaries:
            if "failure" in s:
                continue
            if label in s["unavailable"]:
                lines.append(f"  {title:<15} {claim or '-':<12} {s['app']:<5} {s['unavailable'][label].split(':')[0]}")
                continue
            if label in s["failures"]:
                reason = re.sub(r"^round \d+: ", "", s["failures"][label]).splitlines()[0]
                lines.append(f"  {title:<15} {claim or '-':<12} {s['app']:<5} FAILED: {reason[:70]}")
                continue
            if label not in s["arms"]:
                continue
            a = s["per_arm"][label]
            against = [p["against_plain"][label] for p in s["paths"].values() if label in p["against_plain"]]
            throughput = (f"{statistics.fmean(-o['throughput_drop_percent'] for o in against):+.1f}%" if against else "-")
            rates = [f"{statistics.fmean(v):+.1f}%" if (v := [o[key] for o in against if o.get(key) is not None]) else "-"
                     for key in ("rate_p50_ms_change_percent", "rate_p95_ms_change_percent")]
            cpu = cpu_change(s, label)
            cpu_text = "-" if cpu is None else f"{cpu[0]:+.0f}% {ci_text(cpu[1], '%')}"
            events = fmt(a["events_per_request"], "{:.1f}", "-" if a["agent"] is None else "n/a")
            note = "" if a["comparable"] else "  (errors: not comparable)"
            lines.append(f"  {title:<15} {claim or '-':<12} {s['app']:<5} {throughput:>10}   {cpu_text:<30}  "
                         f"{rates[0] + ' / ' + rates[1]:>20}   {fmt(a['peak_rss_mb'], '{:.0f}'):>6}  {events:>10}{note}")
    lines.append("  (throughput and fixed-rate latency: changes against plain averaged over the app's paths; "
                 "their intervals per path in the sections above; RSS MB: the median peak over rounds, "
                 "no interval: shown for scale)")
    for s in summaries:
        if "failure" not in s and (ranking := cpu_ranking(s)):
            lines.append(f"  {s['app']}: CPU per request, ranked where the intervals allow: "
                         + " < ".join("{" + ", ".join(titles.get(t, t) for t in group) + "}" if len(group) > 1
                                      else titles.get(group[0], group[0]) for group in ranking))
    if any(len(group) > 1 for s in summaries if "failure" not in s for group in cpu_ranking(s)):
        lines.append("  {a, b}: their 95% intervals overlap: this run cannot tell those tools apart.")
    if not any(s.get("per_arm", {}).get(a.name) for s in summaries for a in AGENTS.values()):
        asked = sorted({arm for s in summaries for arm in s.get("unavailable", {})})
        lines.append(f"  No APM agent ran: {', '.join(asked)} cannot run here (said above)." if asked else
                     "  No APM agent ran: ./run_all_benchmarks.sh --apm (or production_benchmark.py --arms all) adds them.")
    return lines


def render_chart(data: dict, path: Path) -> bool:
    """production_<app>.png: per arm, throughput (range over rounds), p50/p99 latency per path, and CPU
    per request. False when there is nothing to draw or matplotlib is missing."""
    if "failure" in data:
        return False
    plt = pyplot()
    if plt is None:
        return False
    s = app_summary(data)
    arms, paths = s["arms"], list(s["paths"])
    colors = ["#7f7f7f", "#c0392b", "#2c6fbb", "#27ae60", "#8e44ad", "#d35400", "#16a085"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    width = 0.8 / len(arms)
    for i, arm in enumerate(arms):
        xs = [j + (i - (len(arms) - 1) / 2) * width for j in range(len(paths))]
        figures = [s["paths"][p]["arms"][arm] for p in paths]
        rps = [f["requests_per_s"] for f in figures]
        errors = [[r - f["requests_per_s_range"][0] for r, f in zip(rps, figures)],
                  [f["requests_per_s_range"][1] - r for r, f in zip(rps, figures)]]
        color = colors[i % len(colors)]
        axes[0].bar(xs, rps, width, yerr=errors, capsize=3, color=color, label=arm)
        axes[1].bar(xs, [f["p50_ms"] for f in figures], width, color=color, label=f"{arm} p50")
        axes[1].scatter(xs, [f["p99_ms"] for f in figures], color="black", marker="_", s=200, zorder=3,
                        label="p99" if i == 0 else None)
    cpu = [s["per_arm"][a]["cpu_ms_per_request"] or 0 for a in arms]
    axes[2].bar(range(len(arms)), cpu, color=[colors[i % len(colors)] for i in range(len(arms))])
    for ax, title, unit in ((axes[0], "throughput (bars: range over rounds)", "requests/s"),
                            (axes[1], "latency: p50 bars, p99 marks", "ms")):
        ax.set_xticks(range(len(paths)))
        ax.set_xticklabels(paths, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=7)
    axes[2].set_xticks(range(len(arms)))
    axes[2].set_xticklabels(arms, fontsize=8, rotation=15)
    axes[2].set_title("app CPU per request (all threads)", fontsize=10)
    axes[2].set_ylabel("ms")
    fig.suptitle(f"Production benchmark: {data['config']['app_cmd']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


#: The shipped apps first, in this order; an own app's results after them.
APP_ORDER = ("wsgi", "asgi")


def files(directory: Path) -> list[Path]:
    """The production workload's files in a run directory (production_<app>.json), shipped apps first."""
    found = sorted(directory.glob("production_*.json")) + sorted(directory.glob("production.json"))
    rank = {name: i for i, name in enumerate(APP_ORDER)}
    return sorted(found, key=lambda f: (rank.get(f.stem.removeprefix("production_"), len(rank)), f.name))


def section(directory: Path) -> Section | None:
    """The production workload's part of the summary (every app's result and the APM table), or None
    when the run had none."""
    loaded = []
    for path in files(directory):
        try:
            data = json.loads(read_text(path))
            if not isinstance(data, dict):
                raise ValueError
            loaded.append((path, data, app_summary(data), render(data)))
        except InputError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, IndexError,
                statistics.StatisticsError, ZeroDivisionError):
            raise InputError(f"{path}: not a complete production benchmark result") from None
    if not loaded:
        return None
    summaries = [summary for _, _, summary, _ in loaded]

    def write(out: Path) -> list[str]:
        return [f"{path.stem}.png" for path, data, _, _ in loaded if render_chart(data, out / f"{path.stem}.png")]

    return Section("production", ["\n".join(text for _, _, _, text in loaded), *apm_table(summaries)],
                   {"production": {path.stem.removeprefix("production_"): summary for path, _, summary, _ in loaded}},
                   [row for summary in summaries for row in summary.get("effects", [])],
                   failed=any("failure" in summary or summary.get("failures") for summary in summaries),
                   gates=any(len(recorded_arms(summary.get("arms", []))) > 1 for summary in summaries),
                   data=summaries, write=write)
