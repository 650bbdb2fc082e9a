"""Production benchmark: a real web app loaded by ApacheBench, plainly and recorded by Retrace.

The spec's "Production Benchmarking" made runnable: start the app on a free loopback port, wait
until it answers, warm it up, run `ab -n 1000 -c 10` on each path, stop it; then the same recorded
(into a private temporary directory, verified, deleted). Arms alternate over rounds (P R, R P, ...).

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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchlib import positive_int, retrace_version

ROOT = Path(__file__).resolve().parent
SHIPPED_APP = f"{{python}} {ROOT / 'apps' / 'webapp.py'} --port {{port}}"
SHIPPED_PATHS = ["/api/report/7", "/api/orders/7"]
SHIPPED_STATS_PATH = "/api/stats"
SPEC_CLAIM = "<1% latency increase for most endpoints"
RETRACE_VARIABLES = ("RETRACE", "RETRACE_RECORDING", "RETRACE_RECORDING_PATH", "RETRACE_CONFIG")


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
    result = subprocess.run(command + [url], capture_output=True, text=True, timeout=1800)
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
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise BenchmarkError(f"port {port} on 127.0.0.1 is already in use") from None


def app_command(template: str, port: int, recording: Path | None) -> tuple[list[str], dict]:
    """The app's command line and environment, recorded when `recording` is given.

    A Python command is wrapped in `python -m retracesoftware --recording P --`, which records with
    or without Retrace's env hook; any other command gets RETRACE=1 and RETRACE_RECORDING=P and
    needs the hook (the trace check afterwards tells whether it recorded).
    """
    argv = shlex.split(template.format(port=port, python=shlex.quote(sys.executable)))
    env = {k: v for k, v in os.environ.items() if k not in RETRACE_VARIABLES}
    if recording is not None:
        if Path(argv[0]).name.startswith("python"):
            argv[1:1] = ["-m", "retracesoftware", "--recording", str(recording), "--"]
        else:
            env.update(RETRACE="1", RETRACE_RECORDING=str(recording))
    return argv, env


class App:
    """The app as a child process in its own session: started, waited for, always stopped."""

    def __init__(self, argv, env, port, ready_path, log: Path, start_timeout: float):
        self.port, self.log = port, log
        self.process = subprocess.Popen(argv, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + start_timeout
        while True:
            if self.process.poll() is not None:
                raise BenchmarkError(f"the app exited with status {self.process.returncode} before "
                                     f"answering; its output:\n{self.output_tail()}")
            try:
                with urllib.request.urlopen(self.url(ready_path), timeout=2) as response:
                    response.read()
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

    def stop(self, grace: float = 60.0) -> None:
        """SIGTERM the app's process group, then SIGKILL after `grace` seconds."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)    # anything the app left in its group
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------- one arm, all rounds

@dataclass
class ArmRun:
    arm: str                                  # "plain" or "recorded"
    round: int
    results: dict[str, AbResult]
    breakdown: dict[str, dict[str, float]] = field(default_factory=dict)  # ms per request
    trace_bytes: int | None = None
    requests_sent: int = 0


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


def run_arm(args, arm: str, round_: int, scratch: Path) -> ArmRun:
    recording = scratch / f"app.{round_}.retrace" if arm == "recorded" else None
    port = args.port or free_port()
    if args.port:
        check_port_free(port)
    argv, env = app_command(args.app_cmd, port, recording)
    app = App(argv, env, port, args.paths[0], scratch / f"app.{arm}.{round_}.log", args.start_timeout)
    run = ArmRun(arm, round_, {})
    try:
        for path in args.paths:
            run_ab(app.url(path), args.warmup, min(args.concurrency, args.warmup), args.keep_alive, scratch)
        before = app.get_json(args.stats_path) if args.stats_path else {}
        for path in args.paths:
            run.results[path] = run_ab(app.url(path), args.requests, args.concurrency, args.keep_alive, scratch)
        if args.stats_path:
            run.breakdown = breakdown_between(before, app.get_json(args.stats_path))
    finally:
        app.stop()
    run.requests_sent = len(args.paths) * (args.warmup + args.requests)
    if recording is not None:
        run.trace_bytes = verified_trace_size(recording, app)
        if args.keep_recordings:
            shutil.move(recording, Path(args.results) / "recordings" / recording.name)
        else:
            recording.unlink()
    return run


def verified_trace_size(recording: Path, app: App) -> int:
    if not recording.is_file() or recording.stat().st_size < 20_000:
        raise BenchmarkError(f"the recorded app left no real trace at {recording} (is it a Python "
                             "command, or is Retrace's env hook installed?); its output:\n"
                             + app.output_tail())
    return recording.stat().st_size


# --------------------------------------------------------------------------- compute and render

def median_of(runs: list[ArmRun], path: str, metric: str) -> float:
    return statistics.median(getattr(r.results[path], metric) for r in runs)


def summarise(data: dict) -> dict:
    """Per path: both arms' medians over rounds, and the overhead in the spec's terms."""
    if "failure" in data:
        return {"failure": data["failure"]}
    runs = [ArmRun(**{**r, "results": {p: AbResult(**a) for p, a in r["results"].items()}})
            for r in data["runs"]]
    summary = {}
    for path in data["paths"]:
        arms = {}
        for arm in ("plain", "recorded"):
            arm_runs = [r for r in runs if r.arm == arm]
            arms[arm] = {metric: median_of(arm_runs, path, metric)
                         for metric in ("requests_per_s", "mean_ms", "p50_ms", "p95_ms", "p99_ms")}
            arms[arm]["requests_per_s_range"] = [min(r.results[path].requests_per_s for r in arm_runs),
                                                 max(r.results[path].requests_per_s for r in arm_runs)]
            arms[arm]["failed"] = sum(r.results[path].failed + r.results[path].non_2xx for r in arm_runs)
        plain, recorded = arms["plain"], arms["recorded"]
        summary[path] = {
            **arms,
            "throughput_drop_percent": (plain["requests_per_s"] - recorded["requests_per_s"])
                                       / plain["requests_per_s"] * 100,
            "p50_increase_percent": (recorded["p50_ms"] - plain["p50_ms"]) / plain["p50_ms"] * 100,
            "p99_increase_percent": (recorded["p99_ms"] - plain["p99_ms"]) / plain["p99_ms"] * 100,
        }
    recorded_runs = [r for r in runs if r.trace_bytes]
    bytes_per_request = (statistics.median(r.trace_bytes / r.requests_sent for r in recorded_runs)
                         if recorded_runs else None)
    return {"paths": summary, "trace_bytes_per_request": bytes_per_request,
            "breakdown": {arm: mean_breakdown([r for r in runs if r.arm == arm])
                          for arm in ("plain", "recorded")}}


def mean_breakdown(runs: list[ArmRun]) -> dict[str, dict[str, float]]:
    endpoints = sorted({e for r in runs for e in r.breakdown})
    return {e: {part: statistics.fmean(r.breakdown[e][part] for r in runs if e in r.breakdown)
                for part in ("logic", "db", "cache")} for e in endpoints}


def render(data: dict) -> str:
    if "failure" in data:
        return f"## Production benchmark\n  FAILED: {data['failure'].splitlines()[0]}\n"
    s = summarise(data)
    config = data["config"]
    lines = [f"## Production benchmark (spec: \"{SPEC_CLAIM}\")",
             f"  app: {config['app_cmd']}",
             f"  ab -n {config['requests']} -c {config['concurrency']}{' -k' if config['keep_alive'] else ''}"
             f", {config['warmup']} warmup requests per path, {config['rounds']} alternating rounds; "
             "medians over rounds"]
    for path, p in s["paths"].items():
        lines.append(f"\n  {path}")
        for arm in ("plain", "recorded"):
            a = p[arm]
            lines.append(f"    {arm:<9} {a['requests_per_s']:8.1f} req/s "
                         f"(rounds {a['requests_per_s_range'][0]:.1f}-{a['requests_per_s_range'][1]:.1f})  "
                         f"mean {a['mean_ms']:.2f} ms  p50 {a['p50_ms']:.2f}  p95 {a['p95_ms']:.2f}  "
                         f"p99 {a['p99_ms']:.2f} ms  failed {a['failed']}")
        meets = p["p50_increase_percent"] < 1
        (plain_low, plain_high), (rec_low, rec_high) = (p[arm]["requests_per_s_range"]
                                                        for arm in ("plain", "recorded"))
        spread = (" - the arms' round ranges overlap: within run-to-run spread, add --rounds"
                  if rec_high >= plain_low and plain_high >= rec_low else "")
        lines.append(f"    overhead  throughput {-p['throughput_drop_percent']:+.1f}% "
                     f"(drop {p['throughput_drop_percent']:.1f}%), latency p50 "
                     f"{p['p50_increase_percent']:+.1f}%, p99 {p['p99_increase_percent']:+.1f}%{spread}")
        lines.append(f"    spec      {'as claimed' if meets else 'NOT as claimed'}: "
                     f"{SPEC_CLAIM} vs {p['p50_increase_percent']:+.1f}% at p50")
    if s["trace_bytes_per_request"] is not None:
        lines.append(f"\n  trace: {s['trace_bytes_per_request']:,.0f} bytes per request "
                     "(recordings verified, then deleted)")
    if any(s["breakdown"].values()):
        lines.append("\n  Request breakdown, ms per request (timed inside the app; the spec's example: "
                     "40 internal + 8 DB + 2 cache of 50 ms)")
        for arm, endpoints in s["breakdown"].items():
            for endpoint, parts in endpoints.items():
                lines.append(f"    {arm:<9} {endpoint:<8} logic {parts['logic']:.3f}  "
                             f"db {parts['db']:.3f}  cache {parts['cache']:.3f}")
    return "\n".join(lines) + "\n"


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
    parser.add_argument("-n", "--requests", type=positive_int, help="requests per path (1000)")
    parser.add_argument("-c", "--concurrency", type=positive_int, default=10, help="concurrent requests (10)")
    parser.add_argument("-k", "--keep-alive", action="store_true", help="HTTP keep-alive (ab -k)")
    parser.add_argument("--warmup", type=positive_int, help="warmup requests per path (100)")
    parser.add_argument("--rounds", type=positive_int, help="alternating plain/recorded rounds (2)")
    parser.add_argument("--port", type=positive_int, help="fixed port (default: a free one per start)")
    parser.add_argument("--start-timeout", type=float, default=60, help="seconds to wait for the app (60)")
    parser.add_argument("--quick", action="store_true", help="defaults of -n 100 --warmup 20 --rounds 1")
    parser.add_argument("--results", default="results", help="directory for production.json/.txt")
    parser.add_argument("--keep-recordings", action="store_true",
                        help="keep recordings in RESULTS/recordings (they hold the environment)")
    args = parser.parse_args(argv)
    defaults = (100, 20, 1) if args.quick else (1000, 100, 2)
    args.requests, args.warmup, args.rounds = (given or default for given, default in zip(
        (args.requests, args.warmup, args.rounds), defaults))
    shipped = args.app_cmd == SHIPPED_APP
    args.paths = args.paths or (SHIPPED_PATHS if shipped else parser.error("--path is needed with --app-cmd"))
    if args.stats_path is None and shipped:
        args.stats_path = SHIPPED_STATS_PATH
    if args.requests < args.concurrency:
        parser.error("-n must be at least -c")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if shutil.which("ab") is None:
        print("error: ab (ApacheBench) not found: apt-get install apache2-utils", file=sys.stderr)
        return 2
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    if args.keep_recordings:
        (results / "recordings").mkdir(mode=0o700, exist_ok=True)
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix="retrace-prod.") as scratch:
            for round_ in range(1, args.rounds + 1):
                order = ("plain", "recorded") if round_ % 2 else ("recorded", "plain")
                for arm in order:
                    start = time.monotonic()
                    print(f"[production round {round_}/{args.rounds}] {arm:<8} ", end="", flush=True)
                    runs.append(run_arm(args, arm, round_, Path(scratch)))
                    print(f"done in {time.monotonic() - start:.0f}s: " + ", ".join(
                        f"{p} {r.requests_per_s:.0f} req/s" for p, r in runs[-1].results.items()), flush=True)
    except BenchmarkError as error:
        print(f"FAILED\nerror: {error}", file=sys.stderr)
        (results / "production.json").write_text(json.dumps({"format": 1, "failure": str(error)}))
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: the app was stopped", file=sys.stderr)
        return 130
    data = {"format": 1, "retracesoftware": retrace_version(), "paths": args.paths,
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
