"""Production benchmark: a real web app loaded by ApacheBench, plainly and recorded by Retrace.

The spec's "Production Benchmarking" made runnable: start the app on a free loopback port, wait
until it answers, warm it up, run `ab -n 500 -c 10` on each path, stop it; then the same recorded
(into a private temporary directory, verified, deleted). The arms (plain, the pinned Retrace, or
--versions X,Y) are interleaved over rounds, the order rotated every round.

    production_benchmark.py                                   the shipped app (apps/webapp.py)
    production_benchmark.py --app-cmd "python myapp.py --port {port}" --path /api/endpoint

Writes RESULTS_DIR/production.json and production.txt; analyze_results.py adds them to the summary.
"""

from __future__ import annotations

import argparse
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
from retrace_bench.options import positive_float, positive_int
from retrace_bench import arms as arms_mod
from retrace_bench import facts, procs
from retrace_bench.arms import Arm
from retrace_bench.stats import paired_t_interval

ROOT = Path(__file__).resolve().parent
SHIPPED_APP = f"{{python}} {ROOT / 'apps' / 'webapp.py'} --port {{port}}"
SHIPPED_PATHS = ["/api/report/7", "/api/orders/7"]
SHIPPED_STATS_PATH = "/api/stats"
SPEC_CLAIM = "<1% latency increase for most endpoints"
#: A recorded app whose trace grows less than this per request did not record its requests.
RECORDED_MIN_BYTES_PER_REQUEST = 1.0
IDLE_MEASURE_S = 1.0


AB_TIMEOUT_S = float(facts.DEFAULT_PROCESS_TIMEOUT_S)


class BenchmarkError(Exception):
    """A clear, user-facing reason the benchmark cannot go on."""


# --------------------------------------------------------------------------- ab

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


def parse_ab(output: str, percentiles_csv: str) -> AbResult:
    """ab's report and its -e CSV (percentiles with decimals; the report rounds them to ms).

    ab 2.3 writes a wrong 99th percentile to the CSV when -n is under 100 (smaller than the 98th);
    a CSV value below the one before it is replaced by the report's whole-ms figure.
    """
    def number(label):
        match = re.search(rf"^{label}:\s+([\d.]+)", output, re.M)
        if not match:
            last = output.strip().splitlines()[-1:] or ["(no output)"]
            raise BenchmarkError(f"ab printed no '{label}' line; it said: {last[0][-300:]}")
        return float(match.group(1))

    csv = {int(p): float(ms) for p, ms in re.findall(r"^(\d+),([\d.]+)$", percentiles_csv, re.M)}
    report = {int(p): float(ms) for p, ms in re.findall(r"^\s+(\d+)%\s+(\d+)", output, re.M)}
    if not {49, 50, 94, 95, 98, 99} <= set(csv):
        raise BenchmarkError("ab wrote no percentile table (-e)")

    def percentile(p):
        return csv[p] if csv[p] >= csv[p - 1] or p not in report else report[p]

    non_2xx = re.search(r"^Non-2xx responses:\s+(\d+)", output, re.M)
    return AbResult(number("Requests per second"), number(r"Time per request"),
                    percentile(50), percentile(95), percentile(99),
                    int(number("Complete requests")), int(number("Failed requests")),
                    int(non_2xx.group(1)) if non_2xx else 0)


def run_ab(url: str, requests: int, concurrency: int, keep_alive: bool, scratch: Path) -> AbResult:
    csv = scratch / "percentiles.csv"
    command = ["ab", "-q", "-n", str(requests), "-c", str(concurrency), "-s", "60", "-e", str(csv)]
    command += ["-k"] if keep_alive else []
    process = procs.start(command + [url], dict(os.environ), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=AB_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"ab on {url} timed out after {AB_TIMEOUT_S:g} s") from None
    finally:
        procs.stop(process)
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines() or ["(no output)"]
        reason = said[0] if said[0].startswith("ab:") else said[-1]     # usage errors come first
        raise BenchmarkError(f"ab failed on {url} (exit {result.returncode}): {reason.strip()}")
    return parse_ab(result.stdout, csv.read_text())


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


def app_command(template: str, port: int, arm: Arm, recording: Path | None) -> tuple[list[str], dict]:
    """The app's command line and environment in `arm` (recorded when `recording` is given).

    A Python command is wrapped in `python -m retracesoftware --recording P --`, which records with
    or without Retrace's env hook; any other command gets RETRACE=1 and RETRACE_RECORDING=P and
    needs the hook (the trace evidence afterwards tells whether it recorded)."""
    argv = shlex.split(template.format(port=port, python=shlex.quote(arm.python)))
    env = Arm("plain", "plain", arm.python).env(os.environ)
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

    def __init__(self, argv, env, port, ready_path, log: Path, start_timeout: float):
        self.port, self.log = port, log
        started = time.monotonic()
        with log.open("w") as output:
            self.process = procs.start(argv, env, stdout=output, stderr=subprocess.STDOUT)
        deadline = started + start_timeout
        while True:
            if self.process.poll() is not None:
                raise BenchmarkError(f"the app exited with status {self.process.returncode} before "
                                     f"answering; its output:\n{self.output_tail()}")
            try:
                with urllib.request.urlopen(self.url(ready_path), timeout=2) as response:
                    response.read()
                self.startup_s = time.monotonic() - started
                return
            except urllib.error.HTTPError:
                self.startup_s = time.monotonic() - started    # it answers, if not with 2xx
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise BenchmarkError(f"the app did not answer {ready_path} within {start_timeout:.0f} s; "
                                     f"its output:\n{self.output_tail()}")
            time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get_json(self, path: str):
        with urllib.request.urlopen(self.url(path), timeout=10) as response:
            return json.load(response)

    def output_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) or "(nothing)"

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


# --------------------------------------------------------------------------- one arm, all rounds

@dataclass
class ArmRun:
    arm: str                                  # the arm's label: plain, retrace, retrace==X.Y.Z
    round: int
    results: dict[str, AbResult]
    breakdown: dict[str, dict[str, float]] = field(default_factory=dict)  # ms per request
    trace_bytes: int | None = None
    requests_sent: int = 0
    cpu_ms_per_request: float | None = None   # the app process, all threads, over the measured load
    peak_rss_kb: int | None = None
    startup_s: float | None = None
    idle_cpu_ms_per_s: float | None = None    # after the load
    exceptions: list[str] = field(default_factory=list)


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


def start_app(args, arm: Arm, scratch: Path, name: str, recording: Path | None) -> App:
    port = args.port or free_port()
    if args.port:
        check_port_free(port)
    argv, env = app_command(args.app_cmd, port, arm, recording)
    env["TMPDIR"] = str(scratch)         # whatever the app makes in temp stays in the scratch dir
    return App(argv, env, port, args.paths[0], scratch / f"app.{name}.log", args.start_timeout)


def idle_trace_size(args, arm: Arm, scratch: Path) -> int:
    """The app recorded while idle (started, answered once, stopped): the baseline that a
    recorded load's trace is compared with."""
    recording = scratch / f"idle.{arm.file_label}.retrace"
    app = start_app(args, arm, scratch, f"idle.{arm.file_label}", recording)
    app.stop()
    size = recording.stat().st_size if recording.is_file() else 0
    recording.unlink(missing_ok=True)
    return size


def run_arm(args, arm: Arm, round_: int, scratch: Path) -> ArmRun:
    recording = scratch / f"app.{arm.file_label}.{round_}.retrace" if arm.recorded else None
    app = start_app(args, arm, scratch, f"{arm.file_label}.{round_}", recording)
    run = ArmRun(arm.label, round_, {}, startup_s=app.startup_s)
    try:
        for path in args.paths:
            run_ab(app.url(path), args.warmup, min(args.concurrency, args.warmup), args.keep_alive, scratch)
        before = app.get_json(args.stats_path) if args.stats_path else {}
        cpu_before = proc_cpu_ms(app.process.pid)
        for path in args.paths:
            run.results[path] = run_ab(app.url(path), args.requests, args.concurrency, args.keep_alive, scratch)
        cpu_after = proc_cpu_ms(app.process.pid)
        run.cpu_ms_per_request = (cpu_after - cpu_before) / (args.requests * len(args.paths))
        if args.stats_path:
            run.breakdown = breakdown_between(before, app.get_json(args.stats_path))
        time.sleep(IDLE_MEASURE_S / 2)       # let a recorded app's writer catch up first
        idle_start = proc_cpu_ms(app.process.pid)
        time.sleep(IDLE_MEASURE_S)
        run.idle_cpu_ms_per_s = (proc_cpu_ms(app.process.pid) - idle_start) / IDLE_MEASURE_S
        run.peak_rss_kb = proc_peak_rss_kb(app.process.pid)
    except (OSError, urllib.error.URLError) as error:
        if app.process.poll() is not None:
            raise BenchmarkError(f"{arm.label}: the app died during the load (exit status "
                                 f"{app.process.returncode}); its exceptions: "
                                 f"{'; '.join(exception_lines(app.log.read_text(errors='replace'))) or 'none printed'}")
        raise BenchmarkError(f"{arm.label}: {error}") from None
    finally:
        app.stop()
    run.exceptions = exception_lines(app.log.read_text(errors="replace"))
    run.requests_sent = len(args.paths) * (args.warmup + args.requests)
    if recording is not None:
        run.trace_bytes = recording.stat().st_size if recording.is_file() else 0
        if args.keep_recordings:
            target = Path(args.results) / "recordings" / recording.name
            shutil.move(recording, target)
            target.chmod(0o600)
        else:
            recording.unlink(missing_ok=True)
    return run


# --------------------------------------------------------------------------- compute and render

def median_of(runs: list[ArmRun], path: str, metric: str) -> float:
    return statistics.median(getattr(r.results[path], metric) for r in runs)


def median_or_none(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def load_runs(data: dict) -> list[ArmRun]:
    return [ArmRun(**{**r, "results": {p: AbResult(**a) for p, a in r["results"].items()}})
            for r in data["runs"]]


def paired_percent_ci(runs: list[ArmRun], plain: str, arm: str, figure) -> list[float] | None:
    """The 95% interval of arm - plain, paired by round (Student's t), in % of plain's median;
    None with fewer than two rounds that have both."""
    by_round = {(r.arm, r.round): figure(r) for r in runs}
    rounds = sorted({r.round for r in runs if (plain, r.round) in by_round and (arm, r.round) in by_round
                     and by_round[(plain, r.round)] is not None and by_round[(arm, r.round)] is not None})
    interval = paired_t_interval([by_round[(arm, n)] - by_round[(plain, n)] for n in rounds], facts.CONFIDENCE)
    if interval is None:
        return None
    reference = statistics.median(by_round[(plain, n)] for n in rounds)
    return [interval.low / reference * 100, interval.high / reference * 100] if reference else None


def summarise(data: dict) -> dict:
    """Per path and arm: medians over rounds; per arm: CPU per request, peak RSS, start-up, idle
    CPU, errors and trace evidence; each arm against plain in the spec's terms."""
    if "failure" in data:
        failure = data["failure"]
        if not isinstance(failure, str) or not failure.strip():
            raise ValueError("production.json: 'failure' is not a message")
        return {"failure": failure}
    runs = load_runs(data)
    labels = data["arms"]
    plain = labels[0]
    paths = {}
    for path in data["paths"]:
        arms = {}
        for arm in labels:
            arm_runs = [r for r in runs if r.arm == arm]
            arms[arm] = {metric: median_of(arm_runs, path, metric)
                         for metric in ("requests_per_s", "mean_ms", "p50_ms", "p95_ms", "p99_ms")}
            arms[arm]["requests_per_s_range"] = [min(r.results[path].requests_per_s for r in arm_runs),
                                                 max(r.results[path].requests_per_s for r in arm_runs)]
            arms[arm]["failed"] = sum(r.results[path].failed + r.results[path].non_2xx for r in arm_runs)
        against = {}
        for arm in labels[1:]:
            p, a = arms[plain], arms[arm]
            against[arm] = {
                **{f"{metric}_change_ci_percent": paired_percent_ci(
                    runs, plain, arm, lambda r, m=metric: r.results[path].__dict__[m])
                   for metric in ("requests_per_s", "p50_ms", "p99_ms")},
                "throughput_drop_percent": (p["requests_per_s"] - a["requests_per_s"]) / p["requests_per_s"] * 100,
                "p50_increase_percent": (a["p50_ms"] - p["p50_ms"]) / p["p50_ms"] * 100,
                "p99_increase_percent": (a["p99_ms"] - p["p99_ms"]) / p["p99_ms"] * 100,
                "ranges_overlap": (a["requests_per_s_range"][1] >= p["requests_per_s_range"][0]
                                   and p["requests_per_s_range"][1] >= a["requests_per_s_range"][0])}
        paths[path] = {"arms": arms, "against_plain": against}
    per_arm = {}
    for arm in labels:
        arm_runs = [r for r in runs if r.arm == arm]
        idle_trace = data.get("idle_trace_bytes", {}).get(arm)
        bytes_per_request = None
        if idle_trace is not None and arm_runs and all(r.trace_bytes is not None for r in arm_runs):
            bytes_per_request = statistics.median((r.trace_bytes - idle_trace) / r.requests_sent for r in arm_runs)
        per_arm[arm] = {
            "cpu_ms_per_request": median_or_none(r.cpu_ms_per_request for r in arm_runs),
            "cpu_change_ci_percent": (paired_percent_ci(runs, plain, arm, lambda r: r.cpu_ms_per_request)
                                      if arm != plain else None),
            "peak_rss_mb": (m / 1024 if (m := median_or_none(r.peak_rss_kb for r in arm_runs)) else None),
            "startup_s": median_or_none(r.startup_s for r in arm_runs),
            "idle_cpu_ms_per_s": median_or_none(r.idle_cpu_ms_per_s for r in arm_runs),
            "failed_requests": sum(r.results[p].failed + r.results[p].non_2xx for r in arm_runs for p in r.results),
            "exceptions": sorted({e for r in arm_runs for e in r.exceptions}),
            "trace_bytes_per_request": bytes_per_request,
            "idle_trace_bytes": idle_trace,
            "requests_recorded": (None if bytes_per_request is None
                                  else bytes_per_request >= RECORDED_MIN_BYTES_PER_REQUEST)}
    return {"arms": labels, "paths": paths, "per_arm": per_arm,
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


def render(data: dict) -> str:
    if "failure" in data:
        return f"## Production benchmark\n  FAILED: {summarise(data)['failure'].splitlines()[0]}\n"
    s = summarise(data)
    config = data["config"]
    lines = [f"## Production benchmark (spec: \"{SPEC_CLAIM}\")",
             f"  app: {config['app_cmd']}",
             f"  ab -n {config['requests']} -c {config['concurrency']}{' -k' if config['keep_alive'] else ''}"
             f", {config['warmup']} warmup requests per path, {config['rounds']} rounds, arms "
             f"{', '.join(s['arms'])} in rotating order; medians over rounds"]
    width = max(len(a) for a in s["arms"]) + 1
    for path, p in s["paths"].items():
        lines.append(f"\n  {path}")
        for arm in s["arms"]:
            a = p["arms"][arm]
            lines.append(f"    {arm:<{width}} {a['requests_per_s']:8.1f} req/s "
                         f"(rounds {a['requests_per_s_range'][0]:.1f}-{a['requests_per_s_range'][1]:.1f})  "
                         f"p50 {a['p50_ms']:.2f}  p95 {a['p95_ms']:.2f}  p99 {a['p99_ms']:.2f} ms  "
                         f"failed {a['failed']}")
        for arm, o in p["against_plain"].items():
            spread = " - round ranges overlap: within run-to-run spread, add --rounds" if o["ranges_overlap"] else ""
            lines.append(f"    {arm} vs {s['arms'][0]}: throughput {-o['throughput_drop_percent']:+.1f}%, "
                         f"latency p50 {o['p50_increase_percent']:+.1f}%, p99 {o['p99_increase_percent']:+.1f}%{spread}")
            cis = [(label, o[key]) for label, key in (("throughput", "requests_per_s_change_ci_percent"),
                                                      ("p50", "p50_ms_change_ci_percent"),
                                                      ("p99", "p99_ms_change_ci_percent"))]
            lines.append("      95% CI over rounds: " + "; ".join(
                f"{label} {ci[0]:+.1f}% .. {ci[1]:+.1f}%" if ci else f"{label} n/a (one round)" for label, ci in cis))
            lines.append(f"      spec: {SPEC_VERDICT_TEXT[spec_verdict(o)]}: {SPEC_CLAIM} vs "
                         f"{o['p50_increase_percent']:+.1f}% at p50")
    lines.append("\n  Per arm (the app process, all threads):")
    for arm in s["arms"]:
        a = s["per_arm"][arm]
        fig = lambda v, fmt: fmt.format(v) if v is not None else "n/a"
        lines.append(f"    {arm:<{width}} CPU {fig(a['cpu_ms_per_request'], '{:.2f}')} ms/request  "
                     f"peak RSS {fig(a['peak_rss_mb'], '{:.0f}')} MB  start-up {fig(a['startup_s'], '{:.2f}')} s  "
                     f"idle CPU {fig(a['idle_cpu_ms_per_s'], '{:.1f}')} ms/s"
                     + (f"  (CPU vs {s['arms'][0]}: 95% CI {a['cpu_change_ci_percent'][0]:+.0f}% .. "
                        f"{a['cpu_change_ci_percent'][1]:+.0f}%)" if a.get("cpu_change_ci_percent") else ""))
        if a["trace_bytes_per_request"] is not None:
            lines.append(f"      trace: {a['trace_bytes_per_request']:,.0f} bytes per request over an idle "
                         f"recording of {a['idle_trace_bytes']:,} bytes (recordings deleted)")
            if not a["requests_recorded"]:
                lines.append("      FLAG: Retrace recorded ~0 bytes per request: these requests could not be "
                             "replayed from this recording")
        if a["failed_requests"] or a["exceptions"]:
            lines.append(f"      ERRORS: {a['failed_requests']} failed or non-2xx requests; its figures are not "
                         "comparable" if a["failed_requests"] else "      the app printed exceptions:")
            lines += [f"        {e}" for e in a["exceptions"]]
    if any(s["breakdown"].values()):
        lines.append("\n  Request breakdown, ms per request (timed inside the app; the spec's example: "
                     "40 internal + 8 DB + 2 cache of 50 ms)")
        for arm, endpoints in s["breakdown"].items():
            for endpoint, parts in endpoints.items():
                lines.append(f"    {arm:<{width}} {endpoint:<8} logic {parts['logic']:.3f}  "
                             f"db {parts['db']:.3f}  cache {parts['cache']:.3f}")
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--app-cmd", default=SHIPPED_APP,
                        help="command that starts the app; {port} and {python} are filled in "
                             "(default: the shipped apps/webapp.py)")
    parser.add_argument("--path", dest="paths", action="append",
                        help="path to load (repeatable; default: the shipped app's two endpoints)")
    parser.add_argument("--stats-path", help="JSON breakdown endpoint (the shipped app's by default)")
    parser.add_argument("-n", "--requests", type=positive_int, help="requests per path (500)")
    parser.add_argument("-c", "--concurrency", type=positive_int, default=10, help="concurrent requests (10)")
    parser.add_argument("-k", "--keep-alive", action="store_true", help="HTTP keep-alive (ab -k)")
    parser.add_argument("--warmup", type=positive_int, help="warmup requests per path (100)")
    parser.add_argument("--rounds", type=positive_int, help="rounds, each running every arm once (5; 2 with --quick)")
    parser.add_argument("--versions", metavar="X,Y",
                        help="recorded arms of these retracesoftware releases instead of the pinned one")
    parser.add_argument("--port", type=positive_int, help="fixed port (default: a free one per start)")
    parser.add_argument("--start-timeout", type=positive_float, default=60,
                        help="seconds to wait for the app (60)")
    parser.add_argument("--timeout", type=positive_float, default=facts.DEFAULT_PROCESS_TIMEOUT_S,
                        help=f"time limit of one ab load in seconds ({facts.DEFAULT_PROCESS_TIMEOUT_S})")
    parser.add_argument("--quick", action="store_true", help="defaults of -n 100 --warmup 20 --rounds 2")
    parser.add_argument("--results", default="results", help="directory for production.json/.txt")
    parser.add_argument("--keep-recordings", action="store_true",
                        help="keep recordings (mode 0600) in RESULTS/recordings (0700); they hold the environment")
    args = parser.parse_args(argv)
    defaults = (100, 20, 2) if args.quick else (500, 100, 5)
    args.requests, args.warmup, args.rounds = (given or default for given, default in zip(
        (args.requests, args.warmup, args.rounds), defaults))
    shipped = args.app_cmd == SHIPPED_APP
    args.paths = args.paths or (SHIPPED_PATHS if shipped else parser.error("--path is needed with --app-cmd"))
    if args.stats_path is None and shipped:
        args.stats_path = SHIPPED_STATS_PATH
    if args.requests < args.concurrency:
        parser.error("-n must be at least -c")
    args.version_list = [v.strip() for v in args.versions.split(",")] if args.versions else None
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if shutil.which("ab") is None:
        print("error: ab (ApacheBench) not found: apt-get install apache2-utils", file=sys.stderr)
        return 2
    results = Path(args.results)
    if results.exists() and not results.is_dir():
        print(f"error: {results}: is a file, not a results directory", file=sys.stderr)
        return 2
    results.mkdir(parents=True, exist_ok=True)
    if args.keep_recordings:
        (results / "recordings").mkdir(mode=0o700, exist_ok=True)
    global AB_TIMEOUT_S
    AB_TIMEOUT_S = args.timeout
    runs = []
    idle_traces = {}
    try:
        with procs.managed(), procs.private_dir("retrace-prod.") as scratch:
            arms = arms_mod.make_arms(args.version_list, progress=lambda t: print(t, flush=True))
            for round_ in range(1, args.rounds + 1):
                for arm in arms_mod.rotation(arms, round_):
                    start = time.monotonic()
                    print(f"[production round {round_}/{args.rounds}] {arm.label:<16} ", end="", flush=True)
                    runs.append(run_arm(args, arm, round_, scratch))
                    print(f"done in {time.monotonic() - start:.0f}s: " + ", ".join(
                        f"{p} {r.requests_per_s:.0f} req/s" for p, r in runs[-1].results.items()), flush=True)
            # After the loads, so that one-time set-up an app does on its first start (seeding a
            # database it keeps) is in neither the idle nor the loaded recordings.
            for arm in (a for a in arms if a.recorded):
                print(f"[production idle] {arm.label:<16} recording the idle app ", end="", flush=True)
                idle_traces[arm.label] = idle_trace_size(args, arm, scratch)
                print(f"{idle_traces[arm.label]:,} bytes", flush=True)
    except (BenchmarkError, arms_mod.ArmError) as error:
        print(f"FAILED\nerror: {error}", file=sys.stderr)
        (results / "production.json").write_text(json.dumps({"format": 2, "failure": str(error)}))
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: the app was stopped", file=sys.stderr)
        return 130
    data = {"format": 2, "retracesoftware": retrace_version(), "paths": args.paths,
            "arms": [a.label for a in arms], "idle_trace_bytes": idle_traces,
            "config": {"app_cmd": args.app_cmd.replace("{python} ", "python ").replace(str(ROOT) + "/", ""),
                       "requests": args.requests, "concurrency": args.concurrency,
                       "keep_alive": args.keep_alive, "warmup": args.warmup, "rounds": args.rounds},
            "runs": [asdict(r) for r in runs]}
    text = render(data)
    (results / "production.json").write_text(json.dumps(data, indent=2))
    (results / "production.txt").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
