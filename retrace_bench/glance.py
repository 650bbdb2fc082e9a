"""At a glance: the first screen of a summary, as data (compute) and as text (render); html_page.py
renders the same data as tables. What recording cost against plain, for the last recorded arm
(the newest release in a --versions run, with a line per later release against the baseline):
per operation, per program, per request; what broke under recording; the run's health, said once."""

from __future__ import annotations

from dataclasses import dataclass, field

from retrace_bench import facts
from retrace_bench.arms import recorded_labels
from retrace_bench.ops.analysis import FAQ_QUERY_KINDS
from retrace_bench.ops.report import finding_text
from retrace_bench.render import fmt_us, order_text, ratio_text, rounds_text
from retrace_bench.replay import IDENTICAL, verdict_word

#: How a verdict reads in the glance's narrow columns.
VERDICT_WORD = {facts.CANNOT_TELL: "cannot tell"}


def word(verdict: str | None) -> str:
    return VERDICT_WORD.get(verdict, verdict) if verdict else ""


@dataclass
class Operation:
    name: str                      # "benchmark: test"
    plain_us: float
    recorded_us: float
    change: str                    # "+11.7 [+10.1 .. +13.4] slower"
    bytes_per_call: float | None   # the trace's growth per call
    instructions: str              # "6,390 -> 160,301 slower", or ""


@dataclass
class Request:
    app: str
    path: str
    throughput: str                # "-36% [-53% .. -11%] slower"
    p95: str                       # saturated p95 change with its interval


@dataclass
class Glance:
    arm: str
    plain: str
    operations: list[Operation] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)       # the FAQ's 5 ms query, judged on the measured one
    programs: list[str] = field(default_factory=list)     # "time (geometric mean of 8): 2.25x [..] slower"
    requests: list[Request] = field(default_factory=list)
    cpu_per_request: list[str] = field(default_factory=list)   # per app
    versions: list[str] = field(default_factory=list)     # a later release against the baseline, counted
    broke: list[str] = field(default_factory=list)        # what failed recorded and not plainly
    stopped: list[str] = field(default_factory=list)      # recorded runs the disk guard stopped
    failed: list[str] = field(default_factory=list)       # what failed without recording: not recording's cost
    replay: str | None = None      # round 1's recordings replayed: how many of each verdict (replay.py's words)
    replay_alone: list[str] = field(default_factory=list)   # per script: its tests recorded alone, replayed without services
    health: list[str] = field(default_factory=list)


def percent_interval(ci) -> str:
    """A ratio's interval in percent (on log ratios: never below -100%); past +999% it says so."""
    if not ci:
        return "[no interval: one round]"
    high = f"{ci[1]:+.0f}%" if ci[1] <= 999 else "over +999%"
    return f"[{ci[0]:+.0f}% .. {high}]"


def operation_rows(result, arm: str, plain: str, instructions) -> list[Operation]:
    counted = {(t.benchmark, t.number): t for t in (instructions.tests if instructions else [])}
    rows = []
    for b in result.benchmarks:
        for t in b.tests:
            c = next((c for c in t.comparisons if c.kind == "overhead" and c.b == arm), None)
            if c is None or arm not in t.arms or plain not in t.arms:
                continue
            d = c.latency
            interval = (f"[{fmt_us(d.low, True)} .. {fmt_us(d.high, True)}]" if d.low is not None
                        else "[no interval: one round]")
            count, total = counted.get((b.name, t.number)), ""
            if count and arm in count.arms and plain in count.arms:
                verdict = next((c.differences["total"].verdict for c in count.comparisons
                                if c.kind == "overhead" and c.b == arm and "total" in c.differences), None)
                total = (f"{count.arms[plain].figures['total'].value:,.0f} -> "
                         f"{count.arms[arm].figures['total'].value:,.0f} {word(verdict)}").rstrip()
            rows.append(Operation(f"{b.name}: {t.name}", t.arms[plain].wall_us, t.arms[arm].wall_us,
                                  f"{fmt_us(d.estimate, True)} {interval} {word(d.verdict)}",
                                  t.bytes_per_op.get(arm), total))
    return rows


def production_rows(glance: Glance, production) -> None:
    arm = glance.arm
    for summary in production:
        app = summary.get("app", "app")
        if "failure" in summary:
            glance.broke.append(f"production ({app}): the run FAILED: {summary['failure']}")
            continue
        for path, figures in summary["paths"].items():
            against = figures["against_plain"].get(arm)
            if not against:
                continue
            glance.requests.append(Request(
                app, path,
                f"{-against['throughput_drop_percent']:+.0f}% "
                f"{percent_interval(against.get('requests_per_s_change_ci_percent'))} {against['throughput_verdict']}",
                f"{against['p95_increase_percent']:+.0f}% {percent_interval(against.get('p95_ms_change_ci_percent'))}"))
        per_arm = summary.get("per_arm", {})
        plain, recorded = per_arm.get(glance.plain, {}), per_arm.get(arm, {})
        if plain.get("cpu_ms_per_request") and recorded.get("cpu_ms_per_request"):
            change = (recorded["cpu_ms_per_request"] / plain["cpu_ms_per_request"] - 1) * 100
            glance.cpu_per_request.append(
                f"{app}: {plain['cpu_ms_per_request']:.2f} -> {recorded['cpu_ms_per_request']:.2f} ms of app CPU per "
                f"request, {change:+.0f}% {percent_interval(recorded.get('cpu_change_ci_percent'))}")
        extra = recorded.get("failed_requests", 0) - plain.get("failed_requests", 0)
        if extra > 0 or recorded.get("exceptions") and not plain.get("exceptions"):
            first = (recorded.get("exceptions") or ["no exception printed"])[0]
            glance.broke.append(f"production ({app}): {recorded.get('failed_requests', 0)} failed requests recorded "
                                f"against {plain.get('failed_requests', 0)} plain ({first})")


def broke_rows(glance: Glance, result, programs, production) -> None:
    plain_labels = {a["label"] for a in result.arms if a.get("kind") == "plain"}
    for b in result.benchmarks:
        for arm, reason in b.failures.items():
            (glance.failed if arm in plain_labels else glance.broke).append(f"operations ({b.name}, {arm}): {reason}")
    if programs is not None:
        glance.broke += [f"program {entry}" for entry in programs.broke]
        glance.stopped += [f"program {entry}" for entry in programs.stopped]
    verdicts = [r["verdict"] for b in result.benchmarks for r in b.replay.values()]
    for b in result.benchmarks:
        for arm, r in b.replay.items():
            if r.get("tests"):
                same = sum(t["verdict"] == IDENTICAL for t in r["tests"].values())
                glance.replay_alone.append(f"{b.name} ({arm}), each test recorded alone, {' and '.join(r['without'])} "
                                           f"stopped: {same} of {len(r['tests'])} {verdict_word(IDENTICAL)}")
    if programs is not None:
        verdicts += [r["verdict"] for row in programs.rows for r in row.replay.values()]
    verdicts += [s["server_replay"]["verdict"] for s in production if s.get("server_replay")]
    if verdicts:
        verdicts = [verdict_word(v) for v in verdicts]
        counts = {v: verdicts.count(v) for v in dict.fromkeys(verdicts)}
        glance.replay = ", ".join(f"{n} {v}" for v, n in counts.items())


def tally(verdicts: list[tuple[str, str]]) -> str:
    """"2 slower (a, b), 12 within noise" from (operation, verdict) pairs."""
    parts = []
    for verdict in (facts.SLOWER, facts.FASTER, facts.WITHIN_NOISE, facts.CANNOT_TELL):
        names = [name for name, v in verdicts if v == verdict]
        if names:
            shown = f" ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})" if verdict in (
                facts.SLOWER, facts.FASTER) else ""
            parts.append(f"{len(names)} {word(verdict)}{shown}")
    return ", ".join(parts)


def version_rows(glance: Glance, result, instructions) -> None:
    """Each later release against the baseline, per operation: how many verdicts of each kind, on
    the instructions (caller) and on the caller's wall time."""
    pairs = {(c.a, c.b) for b in result.benchmarks for t in b.tests for c in t.comparisons if c.kind == "versions"}
    for a, b in sorted(pairs):
        wall = [(t.name, c.latency.verdict) for bench in result.benchmarks for t in bench.tests
                for c in t.comparisons if c.kind == "versions" and (c.a, c.b) == (a, b)]
        counted = [(t.name, c.differences["caller"].verdict) for t, c in
                   (instructions.comparison("versions") if instructions else [])
                   if (c.a, c.b) == (a, b) and "caller" in c.differences]
        glance.versions.append(f"{b} against {a}: instructions per call (caller) "
                               f"{tally(counted) or 'not counted'}; wall time {tally(wall)}")


def claim_rows(glance: Glance, result) -> None:
    """The spec's claims that a single operation's figure judges (the FAQ's 5 ms query), as the details say them."""
    glance.claims = [f"{b.name}: {t.name}: {finding_text(f)}" for b in result.benchmarks for t in b.tests
                     for f in t.findings if f.kind in FAQ_QUERY_KINDS and f.arm == glance.arm]


def health_rows(glance: Glance, result) -> None:
    if not result.benchmarks:                  # --no-synthetic: the programs and production say theirs
        return
    glance.health.append(f"{rounds_text(result.config)}, {order_text(result.config)}; "
                         f"intervals Bonferroni-adjusted over {sum(len(b.tests) for b in result.benchmarks)} tests")
    unsteady = [(f.figures["cv"], f"{b.name}: {t.name} ({f.arm})") for b in result.benchmarks for t in b.tests
                for f in t.findings if f.kind == "unsteady"]
    figures = sum(len(t.arms) for b in result.benchmarks for t in b.tests)
    if unsteady:
        worst = max(unsteady)
        glance.health.append(f"the machine was not steady: in {len(unsteady)} of {figures} test figures the runs "
                             f"varied by more than {facts.RED_FLAG_CV:.0%} (up to {worst[0]:.0%}, {worst[1]}); "
                             "trust the intervals, not the point estimates")
    else:
        glance.health.append(f"the machine was steady: no test figure's runs varied by more than {facts.RED_FLAG_CV:.0%}")
    goals = [r for b in result.benchmarks for t in b.tests for r in t.resolution]
    if goals:
        glance.health.append(f"resolution goal (±{facts.RESOLUTION_FRACTION:.0%} of the recording overhead) met by "
                             f"{sum(r.meets for r in goals)} of {len(goals)} recorded-operation figures")


def glance(result, instructions=None, programs=None, production=()) -> Glance | None:
    labels = ([a["label"] for a in result.arms] or ([a["label"] for a in programs.arms] if programs else [])
              or next((s["arms"] for s in production if "arms" in s), []))      # a --no-synthetic run
    recorded = recorded_labels(labels)
    if not recorded:
        return None
    g = Glance(recorded[-1], labels[0])          # the newest release in a --versions run
    g.operations = operation_rows(result, g.arm, g.plain, instructions)
    if programs is not None:
        g.programs = [f"{gm.figure} (geometric mean of {len(gm.programs)}): {ratio_text(gm.ratio)}"
                      for gm in programs.geomeans if gm.arm == g.arm and gm.against == g.plain]
    claim_rows(g, result)
    version_rows(g, result, instructions)
    broke_rows(g, result, programs, production)
    production_rows(g, production)
    health_rows(g, result)
    return g


def text_lines(g: Glance | None) -> list[str]:
    """The glance as the summary's first screen."""
    if g is None:
        return []
    lines = ["", f"## At a glance: what recording with {g.arm} cost here, against {g.plain} (details below)"]
    if g.operations:
        lines.append(f"  {'per operation':<40} {'plain':>7} {'recorded':>8}  {'change, µs/op [95% CI]':<34} "
                     f"{'trace':>7}  instructions/call, total")
        for o in g.operations:
            trace = f"{o.bytes_per_call:.0f} B" if o.bytes_per_call is not None else "n/a"
            lines.append(f"  {o.name[:40]:<40} {fmt_us(o.plain_us):>7} {fmt_us(o.recorded_us):>8}  {o.change:<34} "
                         f"{trace:>7}  {o.instructions}")
        lines.append("  plain/recorded: the caller's wall time, µs/op (means over processes); trace: bytes the "
                     "recording grows per call; instructions: caller and Retrace's writer, per call")
    lines += [f"  spec, {c}" for c in g.claims]
    lines += [f"  versions, {v}" for v in g.versions]
    lines += [f"  programs, {p}" for p in g.programs]
    for r in g.requests:
        lines.append(f"  per request ({r.app} {r.path}): throughput {r.throughput}; saturated p95 {r.p95}")
    lines += [f"  CPU per request, {c}" for c in g.cpu_per_request]
    lines += [f"  BROKE under recording: {b}" for b in g.broke] or ["  broke under recording: nothing"]
    lines += [f"  STOPPED by the disk guard under recording (no figure): {b}" for b in g.stopped]
    lines += [f"  FAILED without recording too (not a cost of recording): {b}" for b in g.failed]
    if g.replay:
        lines.append(f"  replay of round 1's recordings (operations, programs, servers): {g.replay}")
    lines += [f"  replay without the services, {r}" for r in g.replay_alone]
    lines += [f"  health: {h}" for h in g.health]
    return lines
