"""Production benchmark: a real web app under load, plainly, recorded by Retrace, and under the APM
agents a team would otherwise run, all arms in the same rounds.

The spec's "Production Benchmarking" made runnable. For each arm: start the app on a free loopback
port, wait until it answers, warm it up, run `ab -n 300 -c 10` on each path (saturated throughput),
then `hey -c 1 -q RATE` (latency at a fixed, unsaturated rate), stay idle, stop it. Recorded arms
record into a private temporary directory (their trace growth per request, against an idle
recording of the same app, is the evidence; then deleted). Agent arms report to a local sink (its
received data is the evidence). The arms are interleaved over rounds, the order rotated.

    production_benchmark.py                                   the shipped WSGI app (apps/webapp.py)
    production_benchmark.py --app asgi                        the shipped ASGI app (apps/asgiapp.py)
    production_benchmark.py --arms all                        plain, Retrace and every APM agent
    production_benchmark.py --app-cmd "python myapp.py --port {port}" --path /api/endpoint

Writes RESULTS_DIR/production_<app>.json and .txt; analyze_results.py adds them to the summary.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchlib import retrace_version
from retrace_bench import arms as arms_mod
from retrace_bench import facts, load, procs
from retrace_bench.agents import AGENTS
from retrace_bench.arms import Arm
from retrace_bench.load import AbResult, BenchmarkError, RateResult, run_ab, run_hey
from retrace_bench.options import positive_float, positive_int
from retrace_bench.sink import Sink
from retrace_bench.stats import family_confidence, paired_t_interval

ROOT = Path(__file__).resolve().parent
#: The shipped apps: same business logic, database and cache; WSGI (Flask on waitress) and ASGI
#: (FastAPI on uvicorn, with a sync endpoint that runs in the threadpool).
SHIPPED_APPS = {
    "wsgi": f"{{python}} {shlex.quote(str(ROOT / 'apps' / 'webapp.py'))} --port {{port}}",
    "asgi": f"{{python}} {shlex.quote(str(ROOT / 'apps' / 'asgiapp.py'))} --port {{port}}",
}
SHIPPED_PATHS = ["/api/report/7", "/api/orders/7"]
SHIPPED_STATS_PATH = "/api/stats"
SPEC_CLAIM = "<1% latency increase for most endpoints"
#: A recorded app whose trace grows less than this per request did not record its requests.
RECORDED_MIN_BYTES_PER_REQUEST = 1.0
IDLE_MEASURE_S = 1.0
#: Agents flush in the background: wait this long after the load for their last batch.
AGENT_FLUSH_WAIT_S = 1.0
FORMAT = 3


# --------------------------------------------------------------------------- the app

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_port_free(port: int) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the app's server does
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise BenchmarkError(f"port {port} on 127.0.0.1 is already in use") from None


def fill_template(template: str, port: int, python: str) -> str:
    """{port} and {python} filled in; any other braces (JSON in an argument) are left as they are."""
    return template.replace("{port}", str(port)).replace("{python}", shlex.quote(python))


def app_command(template: str, port: int, arm: Arm, recording: Path | None,
                sink: Sink | None = None, scratch: Path | None = None) -> tuple[list[str], dict]:
    """The app's command line and environment in `arm` (recorded when `recording` is given).

    A Python command is wrapped in `python -m retracesoftware --recording P --`, which records with
    or without Retrace's env hook; any other command gets RETRACE=1 and RETRACE_RECORDING=P and
    needs the hook (the trace evidence afterwards tells whether it recorded). An agent arm's
    command is wrapped in the agent's launcher, pointed at the sink."""
    argv = shlex.split(fill_template(template, port, arm.python))
    env = Arm("plain", "plain", arm.python).env(os.environ)
    if arm.agent:
        if sink is None and AGENTS[arm.agent].evidence == "sink":
            raise ValueError("an agent arm needs a sink")
        argv, extra = AGENTS[arm.agent].command(argv, Path(arm.python).parent,
                                               sink.url if sink else "http://127.0.0.1:0", scratch or Path("."))
        env.update(extra)
        return argv, env
    if recording is not None:
        if Path(argv[0]).name.startswith("python"):
            argv[1:1] = ["-m", "retracesoftware", "--recording", str(recording), "--"]
        else:
            env.update(RETRACE="1", RETRACE_RECORDING=str(recording))
    return argv, env


def proc_cpu_ms(pid: int) -> float:
    """CPU the process has used so far, all its threads: the sum of /proc/<pid>/task/*/schedstat
    (nanoseconds) where the kernel has it, else /proc/<pid>/stat (clock ticks, 10 ms). Threads
    that already ended count in neither; a server's worker threads live as long as it does."""
    try:
        return sum(int((task / "schedstat").read_text().split()[0])
                   for task in Path(f"/proc/{pid}/task").iterdir()) / 1e6
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1e3 / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_kb(pid: int) -> int | None:
    match = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(match.group(1)) if match else None


class App:
    """The app as a child process in its own session: started, waited for, always stopped."""

    def __init__(self, argv, env, port, ready_path, log: Path, start_timeout: float, cpus=None):
        self.port, self.log = port, log
        started = time.monotonic()
        with log.open("w") as output:
            try:
                self.process = procs.start(argv, env, stdout=output, stderr=subprocess.STDOUT, cpus=cpus)
            except OSError as error:
                raise BenchmarkError(f"cannot start the app: {argv[0]}: {error.strerror or error}") from None
        deadline = started + start_timeout
        while True:
            if self.process.poll() is not None:
                raise BenchmarkError(f"the app exited with status {self.process.returncode} before "
                                     f"answering; its output:\n{self.output_tail()}")
            try:
                # As long as the start time allows: an endpoint may take seconds to answer.
                with urllib.request.urlopen(self.url(ready_path),
                                            timeout=max(1.0, deadline - time.monotonic())) as response:
                    response.read()
                self.startup_s = time.monotonic() - started
                return
            except (urllib.error.HTTPError, http.client.RemoteDisconnected, ConnectionResetError):
                self.startup_s = time.monotonic() - started    # it is up, if failing: the load counts that
                return
            except urllib.error.URLError as error:
                if isinstance(error.reason, (ConnectionResetError, http.client.RemoteDisconnected)):
                    self.startup_s = time.monotonic() - started
                    return
            except (ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise BenchmarkError(f"the app did not answer {self.url(ready_path)} within {start_timeout:.0f} s "
                                     f"(is it listening on port {self.port}?); its output:\n{self.output_tail()}")
            time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get_json(self, path: str):
        with urllib.request.urlopen(self.url(path), timeout=10) as response:
            return json.load(response)

    def output_tail(self, lines: int = 15) -> str:
        """The app's distinct exception lines, or its last lines when it printed none."""
        text = self.log.read_text(errors="replace")
        return "\n".join(exception_lines(text) or text.splitlines()[-lines:]) or "(nothing)"

    def stop(self) -> None:
        """SIGTERM the app's process group (so a recording is closed cleanly), then SIGKILL."""
        procs.stop(self.process, grace=60.0)


EXCEPTION_RE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*)$")


def exception_lines(log_text: str, limit: int = 5) -> list[str]:
    """The distinct exception lines an app printed (traceback last lines), first seen first."""
    seen: dict[str, None] = {}
    for line in log_text.splitlines():
        match = EXCEPTION_RE.match(line)
        if match:
            seen.setdefault(match.group(1).strip()[:300], None)
    return list(seen)[:limit]


# --------------------------------------------------------------------------- one arm, one round

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
    sink_requests: int | None = None          # what an agent sent while this app ran
    sink_bytes: int | None = None
    sink_events: int | None = None


def breakdown_between(before: dict, after: dict) -> dict[str, dict[str, float]]:
    """Per endpoint, ms per request spent in logic, database and cache during the measured load."""
    parts = {}
    for endpoint, totals in after.items():
        start = before.get(endpoint, {})
        requests = totals["requests"] - start.get("requests", 0)
        if requests > 0:
            parts[endpoint] = {part: (totals[f"{part}_ms"] - start.get(f"{part}_ms", 0.0)) / requests
                               for part in ("logic", "db", "cache")}
    return parts


def start_app(args, arm: Arm, scratch: Path, name: str, recording: Path | None, sink: Sink | None) -> App:
    port = args.port or free_port()
    if args.port:
        check_port_free(port)
    argv, env = app_command(args.app_cmd, port, arm, recording, sink, scratch)
    env["TMPDIR"] = str(scratch)         # whatever the app makes in temp stays in the scratch dir
    return App(argv, env, port, args.paths[0], scratch / f"app.{name}.log", args.start_timeout, args.app_cpus)


def idle_trace_size(args, arm: Arm, scratch: Path) -> int:
    """The app recorded while idle (started, answered once, stopped): the baseline that a
    recorded load's trace is compared with."""
    recording = scratch / f"idle.{arm.file_label}.retrace"
    app = start_app(args, arm, scratch, f"idle.{arm.file_label}", recording, None)
    app.stop()
    size = recording.stat().st_size if recording.is_file() else 0
    recording.unlink(missing_ok=True)
    return size


class AgentEvidence:
    """What an agent sent while one app ran: the sink's counts, or New Relic's audit log."""

    def __init__(self, arm: Arm, sink: Sink | None, scratch: Path):
        self.agent = AGENTS[arm.agent] if arm.agent else None
        self.sink, self.scratch = sink, scratch
        if self.agent and self.agent.evidence == "audit-log":
            self.agent.audit_log(scratch).unlink(missing_ok=True)
        self.before = sink.snapshot() if (self.agent and sink) else None

    def record(self, run: ArmRun) -> None:
        if self.agent is None:
            return
        if self.agent.evidence == "audit-log":
            log = self.agent.audit_log(self.scratch)
            text = log.read_text(errors="replace") if log.is_file() else ""
            run.sink_requests = text.count("analytic_event_data") + text.count("span_event_data")
            run.sink_bytes = len(text.encode())
            run.sink_events = len(re.findall(r"['\"]type['\"]: ?['\"](?:Transaction|Span)['\"]", text))
        else:
            got = self.sink.snapshot().minus(self.before)
            run.sink_requests, run.sink_bytes, run.sink_events = got.requests, got.bytes, got.events

    def problem(self, run: ArmRun) -> str | None:
        if self.agent is not None and not run.sink_bytes:
            where = "its audit log stayed empty" if self.agent.evidence == "audit-log" else "its sink received nothing"
            return f"not instrumenting: {where} while the app served {run.requests_sent} requests"
        return None


SERVER_REPLAY_NAME = "server.replay.retrace"
SERVER_REPLAY_TIMEOUT_S = 20.0     # a replay that fails may hang after its error


def replay_server(arm: Arm, scratch: Path, timeout: float) -> dict:
    """Replay a recorded run of the app with the package's replay tool: whether it runs to the
    end, and its first error line if not (a server has no output to compare)."""
    from retrace_bench.replay import replay
    replayed = replay(arm.python, scratch / SERVER_REPLAY_NAME, scratch, timeout, "server")
    (scratch / SERVER_REPLAY_NAME).unlink(missing_ok=True)
    if replayed.ok:
        return {"arm": arm.label, "verdict": "ran to the end", "detail": None}
    return {"arm": arm.label, "verdict": "error", "detail": replayed.problem}


def run_arm(args, arm: Arm, round_: int, scratch: Path, sink: Sink | None, keep_for_replay: bool = False) -> ArmRun:
    recording = scratch / f"app.{arm.file_label}.{round_}.retrace" if arm.recorded else None
    evidence = AgentEvidence(arm, sink, scratch)
    app = start_app(args, arm, scratch, f"{arm.file_label}.{round_}", recording, sink)
    run = ArmRun(arm.label, round_, {}, startup_s=app.startup_s)
    try:
        for path in args.paths:
            run_ab(app.url(path), args.warmup, min(args.concurrency, args.warmup), args.keep_alive, scratch)
        before = app.get_json(args.stats_path) if args.stats_path else {}
        cpu_before = proc_cpu_ms(app.process.pid)
        for path in args.paths:
            run.results[path] = result = run_ab(app.url(path), args.requests, args.concurrency, args.keep_alive, scratch)
            if result.failed + result.non_2xx >= result.complete:
                raise BenchmarkError(f"every request to {path} failed ({result.non_2xx} answered with a "
                                     f"non-2xx status, {result.failed} not answered): check --path")
        cpu_after = proc_cpu_ms(app.process.pid)
        run.cpu_ms_per_request = (cpu_after - cpu_before) / (args.requests * len(args.paths))
        if args.stats_path:
            run.breakdown = breakdown_between(before, app.get_json(args.stats_path))
        if args.rate_requests:
            for path in args.paths:
                run.rate_results[path] = run_hey(app.url(path), args.rate_requests, args.rate)
        idle_s = IDLE_MEASURE_S / (4 if args.quick else 1)
        time.sleep(AGENT_FLUSH_WAIT_S if arm.agent else idle_s / 2)   # writers and agents catch up
        idle_start = proc_cpu_ms(app.process.pid)
        time.sleep(idle_s)
        run.idle_cpu_ms_per_s = (proc_cpu_ms(app.process.pid) - idle_start) / idle_s
        run.peak_rss_kb = proc_peak_rss_kb(app.process.pid)
    except (OSError, ValueError, urllib.error.URLError, BenchmarkError) as error:
        app.stop()
        exceptions = exception_lines(app.log.read_text(errors="replace"))
        died = (f"the app died during the load (exit status {app.process.returncode})"
                if app.process.returncode not in (None, 0, -15) else str(error))
        raise BenchmarkError(f"{died}; its exceptions: {'; '.join(exceptions) or 'none printed'}") from None
    finally:
        app.stop()                       # an agent flushes at exit: counted below
    run.exceptions = exception_lines(app.log.read_text(errors="replace"))
    run.requests_sent = len(args.paths) * (args.warmup + args.requests + args.rate_requests)
    evidence.record(run)
    problem = evidence.problem(run)
    if recording is not None:
        run.trace_bytes = recording.stat().st_size if recording.is_file() else 0
        if keep_for_replay and recording.is_file():
            recording.rename(scratch / SERVER_REPLAY_NAME)
        elif args.keep_recordings:
            target = Path(args.results) / "recordings" / recording.name
            shutil.move(recording, target)
            target.chmod(0o600)
        else:
            recording.unlink(missing_ok=True)
    if problem:
        raise BenchmarkError(problem)
    return run


# --------------------------------------------------------------------------- compute and render

def median_of(runs: list[ArmRun], path: str, metric: str) -> float:
    return statistics.median(getattr(r.results[path], metric) for r in runs)


def median_or_none(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def load_runs(data: dict) -> list[ArmRun]:
    return [ArmRun(**{**r, "results": {p: AbResult(**a) for p, a in r["results"].items()},
                      "rate_results": {p: RateResult(**a) for p, a in r.get("rate_results", {}).items()}})
            for r in data["runs"]]


def paired_percent_ci(runs: list[ArmRun], plain: str, arm: str, figure,
                      confidence: float = facts.CONFIDENCE) -> list[float] | None:
    """The interval of arm - plain, paired by round (Student's t), in % of plain's median; None
    with fewer than two rounds that have both. `confidence`: per comparison (family_confidence)."""
    by_round = {(r.arm, r.round): figure(r) for r in runs}
    rounds = sorted({r.round for r in runs if by_round.get((plain, r.round)) is not None
                     and by_round.get((arm, r.round)) is not None})
    interval = paired_t_interval([by_round[(arm, n)] - by_round[(plain, n)] for n in rounds], confidence)
    if interval is None:
        return None
    reference = statistics.median(by_round[(plain, n)] for n in rounds)
    return [interval.low / reference * 100, interval.high / reference * 100] if reference else None


def ci_verdict(ci: list[float] | None, estimate_percent: float, higher_is_slower: bool = True) -> str:
    """slower / faster / within noise for a percent change with its interval (2% minimum effect).
    A latency that rises is slower; a throughput that rises is faster."""
    if ci is None:
        return facts.CANNOT_TELL
    if ci[0] <= 0 <= ci[1] or abs(estimate_percent) < facts.minimum_effect_percent():
        return facts.WITHIN_NOISE
    return facts.SLOWER if (estimate_percent > 0) == higher_is_slower else facts.FASTER


def change(a: float | None, b: float | None) -> float | None:
    return (b - a) / a * 100 if a and b is not None else None


def recorded_arms(labels: list[str]) -> list[str]:
    return [label for label in labels if label == "retrace" or label.startswith("retrace==")]


def verdict_confidence(paths: list) -> float:
    """Bonferroni over the figures that get a verdict for one arm: throughput and fixed-rate p50 per
    path, and CPU per request, so that an A/A comes out within noise on all of them at 95%."""
    return family_confidence(facts.CONFIDENCE, 2 * len(paths) + 1)


def versus(runs: list[ArmRun], arms: dict, path: str, ref: str, arm: str, confidence: float = facts.CONFIDENCE) -> dict:
    """One path: `arm` against `ref` (plain, or the baseline version), with 95% intervals over
    rounds (paired) and verdicts for throughput and the fixed-rate p50."""
    p, a = arms[ref], arms[arm]
    o = {
        "throughput_drop_percent": (p["requests_per_s"] - a["requests_per_s"]) / p["requests_per_s"] * 100,
        "p50_increase_percent": (a["p50_ms"] - p["p50_ms"]) / p["p50_ms"] * 100,
        "p95_increase_percent": (a["p95_ms"] - p["p95_ms"]) / p["p95_ms"] * 100,
        "p99_increase_percent": (a["p99_ms"] - p["p99_ms"]) / p["p99_ms"] * 100,
        "ranges_overlap": (a["requests_per_s_range"][1] >= p["requests_per_s_range"][0]
                           and p["requests_per_s_range"][1] >= a["requests_per_s_range"][0]),
        **{f"{metric}_change_ci_percent": paired_percent_ci(
            runs, ref, arm, lambda r, m=metric: getattr(r.results[path], m), confidence)
           for metric in ("requests_per_s", "p50_ms", "p95_ms", "p99_ms")}}
    o["throughput_verdict"] = ci_verdict(o["requests_per_s_change_ci_percent"], -o["throughput_drop_percent"],
                                         higher_is_slower=False)
    if p["rate"] and a["rate"]:
        for m in ("p50_ms", "p95_ms", "p99_ms"):
            o[f"rate_{m}_change_percent"] = change(p["rate"][m], a["rate"][m])
            o[f"rate_{m}_change_ci_percent"] = paired_percent_ci(
                runs, ref, arm, lambda r, m=m: getattr(r.rate_results[path], m) if path in r.rate_results else None,
                confidence)
        o["rate_p50_verdict"] = ci_verdict(o["rate_p50_ms_change_ci_percent"], o["rate_p50_ms_change_percent"])
    return o


def baseline_cpu(runs: list[ArmRun], labels: list[str], arm: str, confidence: float = facts.CONFIDENCE) -> dict:
    """For a later version: its CPU per request against the baseline version's, with a verdict."""
    recorded = recorded_arms(labels)
    if arm not in recorded[1:]:
        return {}
    figure = lambda r: r.cpu_ms_per_request   # noqa: E731
    base = median_or_none(figure(r) for r in runs if r.arm == recorded[0])
    mine = median_or_none(figure(r) for r in runs if r.arm == arm)
    ci = paired_percent_ci(runs, recorded[0], arm, figure, confidence)
    estimate = change(base, mine)
    return {"cpu_change_vs_baseline_percent": estimate, "cpu_change_vs_baseline_ci_percent": ci,
            "cpu_vs_baseline_verdict": ci_verdict(ci, estimate) if estimate is not None else facts.CANNOT_TELL}


def regressions(summary: dict) -> list[str]:
    """Production figures where a version is slower than the baseline beyond noise (the gate)."""
    if "failure" in summary:
        return []
    found = []
    for path, p in summary["paths"].items():
        for arm, o in p.get("against_baseline", {}).items():
            for key, what in (("throughput_verdict", "throughput"), ("rate_p50_verdict", "fixed-rate p50")):
                if o.get(key) == facts.SLOWER:
                    found.append(f"production {summary['app']} {path}: {what} ({arm} vs baseline {p['baseline']})")
    for arm, a in summary["per_arm"].items():
        if a.get("cpu_vs_baseline_verdict") == facts.SLOWER:
            found.append(f"production {summary['app']}: CPU per request ({arm} vs baseline)")
    return found


def summarise(data: dict) -> dict:
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
    paths = {}
    confidence = verdict_confidence(data["paths"])
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
        against = {arm: versus(runs, arms, path, plain, arm, confidence) for arm in labels[1:]}
        # --versions: every later recorded arm against the first one, the baseline (the gate's figures).
        baseline = recorded_arms(labels)[:1]
        against_baseline = {arm: versus(runs, arms, path, baseline[0], arm, confidence)
                            for arm in recorded_arms(labels)[1:]}
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
        per_arm[arm] = {
            "agent": data.get("agents", {}).get(arm),
            "cpu_ms_per_request": median_or_none(r.cpu_ms_per_request for r in arm_runs),
            "cpu_change_ci_percent": (paired_percent_ci(runs, plain, arm, lambda r: r.cpu_ms_per_request, confidence)
                                      if arm != plain else None),
            **baseline_cpu(runs, labels, arm, confidence),
            "peak_rss_mb": (m / 1024 if (m := median_or_none(r.peak_rss_kb for r in arm_runs)) else None),
            "startup_s": median_or_none(r.startup_s for r in arm_runs),
            "idle_cpu_ms_per_s": median_or_none(r.idle_cpu_ms_per_s for r in arm_runs),
            "failed_requests": failed,
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
            "server_replay": data.get("server_replay"),
            "breakdown": {arm: mean_breakdown([r for r in runs if r.arm == arm]) for arm in labels}}


def mean_breakdown(runs: list[ArmRun]) -> dict[str, dict[str, float]]:
    endpoints = sorted({e for r in runs for e in r.breakdown})
    return {e: {part: statistics.fmean(r.breakdown[e][part] for r in runs if e in r.breakdown)
                for part in ("logic", "db", "cache")} for e in endpoints}


SPEC_VERDICT_TEXT = {"met": "as claimed", "missed": "NOT as claimed",
                     "undetermined": "cannot tell from these rounds (the interval spans 1%; add --rounds)"}


def spec_verdict(against: dict) -> str:
    """The spec's <1% p50 claim, judged on the p50 interval over rounds (the point estimate when
    there is one round only)."""
    ci = against.get("p50_ms_change_ci_percent")
    low, high = ci if ci else (against["p50_increase_percent"],) * 2
    return "met" if high < 1 else "missed" if low >= 1 else "undetermined"


def fmt(value, spec: str, missing: str = "n/a") -> str:
    return spec.format(value) if value is not None else missing


def ci_text(ci, unit: str = "") -> str:
    return f"[{ci[0]:+.1f} .. {ci[1]:+.1f}]{unit}" if ci else "[one round: no CI]"


def render(data: dict) -> str:
    s = summarise(data)
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
             f"95% CI over rounds (paired, Student's t; Bonferroni over the {2 * len(data['paths']) + 1} "
             "figures with a verdict)",
             (f"  pinned: the app on CPU {','.join(map(str, config['pinned']['app_cpus']))}, ab/hey on CPU "
              f"{','.join(map(str, config['pinned']['load_cpus']))}" if config.get("pinned")
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
    lines.append("\n  Per arm (the app process, all threads; medians over rounds):")
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
        if a["failed_requests"]:
            lines.append(f"      ERRORS: {a['failed_requests']} failed or non-2xx requests: this arm's figures "
                         "are not comparable")
        if a["exceptions"]:
            lines.append("      the app printed these exceptions:")
            lines += [f"        {e}" for e in a["exceptions"]]
    if s["server_replay"]:
        r = s["server_replay"]
        lines.append(f"\n  Replay of a recorded server run ({r['arm']}, round 1, with the package's replay tool): "
                     f"{r['verdict']}" + (f": {r['detail']}" if r["detail"] else ""))
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
    tools = [("plain", "plain", "")] + [("retrace", "Retrace", "<1%")] + \
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
                 "their intervals per path in the sections above)")
    for s in summaries:
        if "failure" not in s and (ranking := cpu_ranking(s)):
            lines.append(f"  {s['app']}: CPU per request, ranked where the intervals allow: "
                         + " < ".join("{" + ", ".join(titles.get(t, t) for t in group) + "}" if len(group) > 1
                                      else titles.get(group[0], group[0]) for group in ranking))
    if any(len(group) > 1 for s in summaries if "failure" not in s for group in cpu_ranking(s)):
        lines.append("  {a, b}: their 95% intervals overlap: this run cannot tell those tools apart.")
    if not any(s.get("per_arm", {}).get(a.name) for s in summaries for a in AGENTS.values()):
        lines.append("  No APM agent ran: ./run_all_benchmarks.sh --apm (or production_benchmark.py --arms all) adds them.")
    return lines


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


def render_chart(data: dict, path: Path) -> bool:
    """production.png: per arm, throughput (range over rounds), p50/p99 latency per path, and CPU
    per request. False when there is nothing to draw or matplotlib is missing."""
    if "failure" in data:
        return False
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    s = summarise(data)
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


# --------------------------------------------------------------------------- main

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--app", choices=sorted(SHIPPED_APPS), default="wsgi",
                        help="which shipped app (default wsgi: Flask on waitress; asgi: FastAPI on uvicorn)")
    parser.add_argument("--app-cmd", help="command that starts your own app instead; {port} and {python} "
                                          "are filled in ({python}: the arm's interpreter)")
    parser.add_argument("--path", dest="paths", action="append",
                        help="path to load (repeatable; default: the shipped apps' two endpoints)")
    parser.add_argument("--stats-path", help="JSON breakdown endpoint (the shipped apps' by default)")
    parser.add_argument("--arms", metavar="LIST",
                        help="comma-separated arms, plain first: plain, retrace, retrace==X.Y.Z, "
                             + ", ".join(AGENTS) + "; or all (default plain,retrace)")
    parser.add_argument("--versions", metavar="X,Y",
                        help="recorded arms of these retracesoftware releases instead of the pinned one")
    parser.add_argument("-n", "--requests", type=positive_int, help="saturated requests per path (300)")
    parser.add_argument("-c", "--concurrency", type=positive_int, default=10, help="concurrent requests (10)")
    parser.add_argument("-k", "--keep-alive", action="store_true", help="HTTP keep-alive (ab -k)")
    parser.add_argument("--warmup", type=positive_int, help="warmup requests per path (100)")
    parser.add_argument("--rate", type=positive_float, default=50,
                        help="requests per second of the fixed-rate latency load (50)")
    parser.add_argument("--rate-requests", type=int, metavar="N",
                        help="requests per path at that rate (50; 10 with --quick; 0 skips it)")
    parser.add_argument("--rounds", type=positive_int, help="rounds, each running every arm once (4, rounded up "
                                                             "to a multiple of the arm count; 1 with --quick)")
    parser.add_argument("--port", type=positive_int, help="fixed port (default: a free one per start)")
    parser.add_argument("--start-timeout", type=positive_float, default=60,
                        help="seconds to wait for the app (60)")
    parser.add_argument("--timeout", type=positive_float, default=facts.DEFAULT_PROCESS_TIMEOUT_S,
                        help=f"time limit of one load in seconds ({facts.DEFAULT_PROCESS_TIMEOUT_S})")
    parser.add_argument("--quick", action="store_true", help="a smoke run: -n 100 --warmup 20 --rounds 1 --rate-requests 10")
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True,
                        help="run the app on the first CPU and ab/hey on the second (default: pinned, on "
                             "a machine of two or more CPUs; --no-pin lets the scheduler place them)")
    parser.add_argument("--results", default="results", help="directory for production_<app>.json/.txt")
    parser.add_argument("--keep-recordings", action="store_true",
                        help="keep recordings (mode 0600) in RESULTS/recordings (0700); they hold the environment")
    args = parser.parse_args(argv)
    args.app_cpus, args.load_cpus = facts.pinning(args.pin)
    args.rounds_given = args.rounds is not None
    defaults = (100, 20, 1, 10) if args.quick else (300, 100, 4, 50)
    args.requests, args.warmup, args.rounds, args.rate_requests = (given if given is not None else default
                                                                    for given, default in zip(
        (args.requests, args.warmup, args.rounds, args.rate_requests), defaults))
    if args.rate_requests < 0:
        parser.error("--rate-requests must not be negative")
    if args.arms and args.versions:
        parser.error("--arms and --versions cannot be combined (name versions in --arms as retrace==X.Y.Z)")
    if args.app_cmd is not None and not args.app_cmd.strip():
        parser.error("--app-cmd is empty: give the command that starts your app, or leave the option out "
                     "for the shipped app")
    if args.app_cmd is not None:
        if "{port}" not in args.app_cmd and args.port is None:
            parser.error("--app-cmd has no {port} and no --port is given: the benchmark cannot know where "
                         "the app listens (put {port} where the app takes its port, or give --port P)")
        try:
            shlex.split(fill_template(args.app_cmd, 0, sys.executable))
        except ValueError as error:
            parser.error(f"--app-cmd cannot be split into words: {error}")
    for path in args.paths or []:
        if not path.startswith("/"):
            parser.error(f"--path {path!r}: a path starts with / (e.g. /api/orders/7)")
    shipped = args.app_cmd is None
    args.name = args.app if shipped else "app"
    args.app_cmd = args.app_cmd or SHIPPED_APPS[args.app]
    args.paths = args.paths or (SHIPPED_PATHS if shipped else parser.error("--path is needed with --app-cmd"))
    if args.stats_path is None and shipped:
        args.stats_path = SHIPPED_STATS_PATH
    if args.requests < args.concurrency:
        parser.error("-n must be at least -c")
    if args.versions:
        args.arm_names = ["plain", *(f"retrace=={v.strip()}" for v in args.versions.split(","))]
    else:
        try:
            args.arm_names = arms_mod.parse_arm_list(args.arms or "plain,retrace")
        except arms_mod.ArmError as error:
            parser.error(str(error))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    for tool, package in (("ab", "apache2-utils"), ("hey", "hey")):
        if shutil.which(tool) is None and (tool == "ab" or args.rate_requests):
            print(f"error: {tool} not found: apt-get install {package}", file=sys.stderr)
            return 2
    results = Path(args.results)
    if results.exists() and not results.is_dir():
        print(f"error: {results}: is a file, not a results directory", file=sys.stderr)
        return 2
    results.mkdir(parents=True, exist_ok=True)
    if args.keep_recordings:
        (results / "recordings").mkdir(mode=0o700, exist_ok=True)
    load.TIMEOUT_S = args.timeout
    load.LOAD_CPUS = args.load_cpus
    runs, idle_traces, failures, server_replay = [], {}, {}, None
    json_path, text_path = results / f"production_{args.name}.json", results / f"production_{args.name}.txt"
    sink = None
    try:
        with procs.managed(), procs.private_dir("retrace-prod.") as scratch:
            arms, unavailable = arms_mod.make_named_arms(args.arm_names, progress=lambda t: print(t, flush=True))
            if any(a.agent for a in arms):
                sink = Sink()
            first_recorded = next((a for a in arms if a.recorded), None)
            if not args.rounds_given and args.rounds > 1:
                args.rounds = arms_mod.balanced_rounds(args.rounds, len(arms))     # each arm in each position
            for round_ in range(1, args.rounds + 1):
                for arm in arms_mod.rotation(arms, round_):
                    if arm.label in failures:
                        continue
                    start = time.monotonic()
                    print(f"[production {args.name} round {round_}/{args.rounds}] {arm.label:<16} ", end="", flush=True)
                    try:
                        runs.append(run_arm(args, arm, round_, scratch, sink,
                                            keep_for_replay=round_ == 1 and arm is first_recorded))
                    except BenchmarkError as error:
                        if arm is arms[0]:
                            raise
                        failures[arm.label] = f"round {round_}: {error}"
                        print(f"FAILED ({error})", flush=True)
                        continue
                    print(f"done in {time.monotonic() - start:.0f}s: " + ", ".join(
                        f"{p} {r.requests_per_s:.0f} req/s" for p, r in runs[-1].results.items()), flush=True)
            # After the loads, so that one-time set-up an app does on its first start (seeding a
            # database it keeps) is in neither the idle nor the loaded recordings.
            for arm in (a for a in arms if a.recorded and a.label not in failures):
                print(f"[production {args.name} idle] {arm.label:<16} recording the idle app ", end="", flush=True)
                idle_traces[arm.label] = idle_trace_size(args, arm, scratch)
                print(f"{idle_traces[arm.label]:,} bytes", flush=True)
            if first_recorded is not None and (scratch / SERVER_REPLAY_NAME).is_file():
                print(f"[production {args.name} replay] {first_recorded.label:<16} replaying round 1's "
                      "recording ", end="", flush=True)
                server_replay = replay_server(first_recorded, scratch, min(args.timeout, SERVER_REPLAY_TIMEOUT_S))
                print(server_replay["verdict"] + (f" ({server_replay['detail']})" if server_replay["detail"] else ""),
                      flush=True)
    except (BenchmarkError, arms_mod.ArmError) as error:
        print(f"FAILED\nerror: {error}", file=sys.stderr)
        json_path.write_text(json.dumps({"format": FORMAT, "app": args.name, "failure": str(error)}))
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: the app was stopped", file=sys.stderr)
        return 130
    finally:
        if sink is not None:
            sink.close()
    data = {"format": FORMAT, "app": args.name, "retracesoftware": retrace_version(), "paths": args.paths,
            "arms": [a.label for a in arms], "agents": {a.label: a.agent for a in arms if a.agent},
            "unavailable": unavailable, "failures": failures, "idle_trace_bytes": idle_traces,
            "server_replay": server_replay,
            "config": {"app_cmd": args.app_cmd.replace("{python} ", "python ").replace(str(ROOT) + "/", ""),
                       "requests": args.requests, "concurrency": args.concurrency,
                       "keep_alive": args.keep_alive, "warmup": args.warmup, "rounds": args.rounds,
                       "rate": args.rate, "rate_requests": args.rate_requests,
                       "pinned": ({"app_cpus": sorted(args.app_cpus), "load_cpus": sorted(args.load_cpus)}
                                  if args.app_cpus else None)},
            "runs": [asdict(r) for r in runs]}
    text = render(data)
    json_path.write_text(json.dumps(data, indent=2))
    text_path.write_text(text)
    print(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
