"""Production benchmark: a real web app under load, plainly, recorded by Retrace, and under the APM
agents a team would otherwise run, all arms in the same rounds.

The spec's "Production Benchmarking" made runnable. For each arm: start the app on a free loopback
port, wait until it answers, warm it up, run `ab -n 300 -c 10` on each path (saturated throughput),
then `hey -c 1 -q RATE` (latency at a fixed, unsaturated rate), stay idle, stop it. Recorded arms
record into a private temporary directory (their trace growth per request, against an idle
recording of the same app, is the evidence; then deleted). Agent arms report to a local sink (its
received data is the evidence). The arms are interleaved over rounds (arms.rotation).

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
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from retrace_bench import arms as arms_mod
from retrace_bench import commands, facts, procs, services
from retrace_bench.agents import AGENTS
from retrace_bench.arms import Arm
from retrace_bench.commands import CommandError, is_python, launcher_refusal, recorded_command, split_command
from retrace_bench.harness import retrace_version
from retrace_bench.options import add_run_options, positive_float, positive_int
from retrace_bench.production import load
from retrace_bench.production.data import ArmRun
from retrace_bench.production.load import BenchmarkError, run_ab, run_hey
from retrace_bench.production.report import render
from retrace_bench.production.sink import Sink
from retrace_bench.replay import FAILS, RAN, replay
from retrace_bench.results import ROOT
from retrace_bench.rounds import Rounds
#: The shipped apps: same business logic, database and cache; WSGI (Flask on waitress) and ASGI
#: (FastAPI on uvicorn, with a sync endpoint that runs in the threadpool).
SHIPPED_APPS = {
    "wsgi": f"{{python}} {shlex.quote(str(ROOT / 'apps' / 'webapp.py'))} --port {{port}}",
    "asgi": f"{{python}} {shlex.quote(str(ROOT / 'apps' / 'asgiapp.py'))} --port {{port}}",
}
SHIPPED_PATHS = ["/api/report/7", "/api/orders/7"]
SHIPPED_STATS_PATH = "/api/stats"
IDLE_MEASURE_S = 1.0
#: Stopping the app: SIGTERM, then SIGKILL once its CPU rate over STOP_IDLE_S stayed under
#: STOP_IDLE_MS_PER_S (it ignores SIGTERM), or after STOP_BUSY_MAX_S however busy (a recording that
#: never ends draining). A recorded app is never quite idle: Retrace's writer polls every 10 ms, about
#: 6 ms of CPU per second (RETRACE_FACTS); a writer still draining uses most of a core.
STOP_IDLE_S = 2.0
STOP_IDLE_MS_PER_S = 25.0
STOP_BUSY_MAX_S = 60.0
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


def app_command(template: str, port: int, arm: Arm, recording: Path | None,
                sink: Sink | None = None, scratch: Path | None = None,
                variables: dict | None = None) -> tuple[list[str], dict]:
    """The app's command line and environment in `arm` (recorded when `recording` is given, as any
    program is: programs.recorded_command). An agent arm's command is wrapped in the agent's
    launcher, pointed at the sink. `variables`: its servers' (--services), in both."""
    argv = split_command(template, arm.python, port, variables)
    env = {**Arm("plain", "plain", arm.python).env(os.environ), **(variables or {})}
    if arm.agent:
        if sink is None and AGENTS[arm.agent].evidence == "sink":
            raise ValueError("an agent arm needs a sink")
        argv, extra = AGENTS[arm.agent].command(argv, Path(arm.python).parent,
                                               sink.url if sink else "http://127.0.0.1:0", scratch or Path("."))
        env.update(extra)
        return argv, env
    argv, env, _ = recorded_command(argv, arm.python, env, recording)
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
        self.stop_note: str | None = None
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
        """SIGTERM the app's process group (so a recording is closed cleanly), then SIGKILL once it
        has been idle for STOP_IDLE_S: an app still busy (a recording's writer draining) gets up to
        STOP_BUSY_MAX_S; one that ignores SIGTERM and does nothing is killed after STOP_IDLE_S, and
        said so (self.stop_note)."""
        if self.process.poll() is None:
            procs.signal_group(self.process, signal.SIGTERM)
            started = time.monotonic()
            cpu = self.cpu_ms()
            while self.process.poll() is None and time.monotonic() - started < STOP_BUSY_MAX_S:
                try:
                    self.process.wait(STOP_IDLE_S)
                    break
                except subprocess.TimeoutExpired:
                    now = self.cpu_ms()
                    if now is None or (now - cpu) / STOP_IDLE_S < STOP_IDLE_MS_PER_S:
                        self.stop_note = (f"the app did not exit on SIGTERM and was idle: killed after "
                                          f"{time.monotonic() - started:.0f} s")
                        print(f"[production] {self.stop_note}", flush=True)
                        break
                    cpu = now
        procs.stop(self.process, grace=0)

    def cpu_ms(self) -> float | None:
        try:
            return proc_cpu_ms(self.process.pid)
        except (OSError, ValueError, IndexError):
            return None


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


def start_app(args, arm: Arm, scratch: Path, name: str, recording: Path | None, sink: Sink | None,
              variables: dict | None = None) -> App:
    port = args.port or free_port()
    if args.port:
        check_port_free(port)
    argv, env = app_command(args.app_cmd, port, arm, recording, sink, scratch, variables)
    env["TMPDIR"] = str(scratch)         # whatever the app makes in temp stays in the scratch dir
    # Started on every CPU: the warm-up runs unpinned (run_arm), so that a race that only fires with
    # the app's threads on two cores shows; the measured load is pinned after it.
    return App(argv, env, port, args.paths[0], scratch / f"app.{name}.log", args.start_timeout)


def idle_trace_size(args, arm: Arm, scratch: Path) -> int:
    """The app recorded while idle (started, answered once, stopped): the baseline that a
    recorded load's trace is compared with."""
    recording = scratch / f"idle.{arm.file_label}.retrace"
    try:
        with services.for_each_process(args.service_list) as variables:
            start_app(args, arm, scratch, f"idle.{arm.file_label}", recording, None, variables).stop()
    except services.ServiceError as error:
        raise BenchmarkError(f"its services: {error}") from None
    size = recording.stat().st_size if recording.is_file() else 0
    keep_recording(args, recording)
    return size


def keep_recording(args, recording: Path, copy: bool = False) -> None:
    """With --keep-recordings: the recording (mode 0600) into RESULTS/recordings/ (mode 0700),
    moved, or copied when it is still needed (round 1's, for the server replay); else deleted."""
    if args.keep_recordings and recording.is_file():
        target = Path(args.results) / "recordings" / recording.name
        (shutil.copyfile if copy else shutil.move)(recording, target)
        target.chmod(0o600)
    if not copy:
        recording.unlink(missing_ok=True)


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
    replayed = replay(arm.python, scratch / SERVER_REPLAY_NAME, scratch, timeout, "server")
    (scratch / SERVER_REPLAY_NAME).unlink(missing_ok=True)
    if replayed.ok:
        return {"arm": arm.label, "verdict": RAN, "detail": None}
    return {"arm": arm.label, "verdict": FAILS, "detail": replayed.problem}


def run_arm(args, arm: Arm, round_: int, scratch: Path, sink: Sink | None, keep_for_replay: bool = False) -> ArmRun:
    """One arm's app under the loads: with --services, on fresh servers of its own."""
    try:
        with services.for_each_process(args.service_list) as variables:
            return run_arm_with(args, arm, round_, scratch, sink, keep_for_replay, variables)
    except services.ServiceError as error:
        raise BenchmarkError(f"its services: {error}") from None


def run_arm_with(args, arm: Arm, round_: int, scratch: Path, sink: Sink | None, keep_for_replay: bool,
                 variables: dict) -> ArmRun:
    recording = scratch / f"app.{arm.file_label}.{round_}.retrace" if arm.recorded else None
    evidence = AgentEvidence(arm, sink, scratch)
    app = start_app(args, arm, scratch, f"{arm.file_label}.{round_}", recording, sink, variables)
    run = ArmRun(arm.label, round_, {}, startup_s=app.startup_s)
    try:
        for path in args.paths:        # unpinned, at the load's concurrency: concurrency breakage shows here
            warm = run_ab(app.url(path), args.warmup, min(args.concurrency, args.warmup), args.keep_alive, scratch)
            run.warmup_requests += warm.complete
            run.warmup_failed += warm.failed + warm.non_2xx
        if args.app_cpus:
            procs.pin_group(app.process.pid, args.app_cpus)
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
            keep_recording(args, recording, copy=True)
            recording.rename(scratch / SERVER_REPLAY_NAME)
        else:
            keep_recording(args, recording)
    if problem:
        raise BenchmarkError(problem)
    return run


# --------------------------------------------------------------------------- main

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--app", choices=sorted(SHIPPED_APPS),
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
    add_run_options(parser, rounds="rounds, each running every arm once (4, rounded up to a multiple of the arm "
                                   "count; 1 with --quick)",
                    quick="a smoke run: -n 100 --warmup 20 --rounds 1 --rate-requests 10", timeout_of="one load",
                    kept_in="RESULTS/recordings")
    parser.add_argument("--services", metavar="NAMES",
                        help=f"with --app-cmd: private servers for your app ({', '.join(facts.SERVICE_TITLES)}), "
                             "fresh ones for each arm's start: DATABASE_URL, REDIS_URL and REDIS_SOCKET_URL in its "
                             "environment, {postgres_url} and {redis_url} in its command")
    parser.add_argument("--port", type=positive_int, help="fixed port (default: a free one per start)")
    parser.add_argument("--start-timeout", type=positive_float, default=60,
                        help="seconds to wait for the app (60)")
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True,
                        help="run the app on the first CPU and ab/hey on the second (default: pinned, on "
                             "a machine of two or more CPUs; --no-pin lets the scheduler place them)")
    parser.add_argument("--results", default=str(ROOT / "results" / "production"),
                        help="directory for production_<app>.json/.txt (default results/production/ of the "
                             "suite, which a driver run leaves alone; the driver passes its run's archive)")
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
    if args.app is not None and args.app_cmd is not None:
        parser.error("--app and --app-cmd cannot be combined: --app picks a shipped app, --app-cmd runs your own")
    args.app = args.app or "wsgi"
    if args.app_cmd is not None and not args.app_cmd.strip():
        parser.error("--app-cmd is empty: give the command that starts your app, or leave the option out "
                     "for the shipped app")
    if args.app_cmd is not None:
        if "{port}" not in args.app_cmd and args.port is None:
            parser.error("--app-cmd has no {port} and no --port is given: the benchmark cannot know where "
                         "the app listens (put {port} where the app takes its port, or give --port P)")
        try:
            argv = split_command(args.app_cmd, sys.executable, 0)
        except CommandError as error:
            parser.error(f"--app-cmd cannot be split into words: {error}")
        refusal = launcher_refusal(argv, os.getcwd()) if is_python(argv, sys.executable) else None
        if refusal:
            parser.error(f"--app-cmd: {refusal}")
    args.service_list = []
    if args.services is not None:
        if args.app_cmd is None:
            parser.error("--services starts servers for your own app: it needs --app-cmd")
        try:
            args.service_list = services.parse_names(args.services)
        except ValueError as error:
            parser.error(f"--services: {error}")
        missing = [services.missing(n) for n in args.service_list if services.missing(n)]
        if missing:
            parser.error(f"--services: {'; '.join(missing)}")
    if args.app_cmd is not None and commands.placeholder_problem(args.app_cmd, args.service_list):
        parser.error(f"--app-cmd: {commands.placeholder_problem(args.app_cmd, args.service_list)}")
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
    """production_benchmark.py: parse, measure, print the result's text."""
    procs.absolute_tmpdir()
    args = parse_args(argv)
    procs.remove_stale_scratch()
    try:
        with procs.managed(reap=True):
            outcome = measure(args)
    except KeyboardInterrupt:
        print("\ninterrupted: the app was stopped", file=sys.stderr)
        return 130
    if outcome.error:
        print(f"error: {outcome.error}", file=sys.stderr)
    elif outcome.text:
        print(outcome.text)
    return outcome.status


@dataclass
class Outcome:
    """What one app's measurement ended with: the status production_benchmark.py exits with (0
    every arm measured, 1 an arm failed, 2 nothing could start), the error that stopped it, the
    rendered text (empty when it stopped)."""
    status: int
    error: str = ""
    text: str = ""


def measure(args) -> Outcome:
    """One app under every arm, the rounds interleaved; writes production_<app>.json and .txt into
    args.results. Run in the caller's process (the driver's too): the app, the load generators and
    the agents' launchers are child processes, stopped on every way out; Ctrl-C propagates."""
    missing = load.missing_tools(rate=bool(args.rate_requests))
    if missing:
        return Outcome(2, f"not installed: {', '.join(missing)}")
    results = Path(args.results)
    if results.exists() and not results.is_dir():
        return Outcome(2, f"{results}: is a file, not a results directory")
    results.mkdir(parents=True, exist_ok=True)
    if args.keep_recordings:
        (results / "recordings").mkdir(mode=0o700, exist_ok=True)
    load.TIMEOUT_S = args.timeout
    load.LOAD_CPUS = args.load_cpus
    runs, idle_traces, failures, server_replay = [], {}, {}, None
    json_path, text_path = results / f"production_{args.name}.json", results / f"production_{args.name}.txt"
    sink = None
    try:
        with procs.private_dir("retrace-prod.") as scratch:
            arms, unavailable = arms_mod.make_named_arms(args.arm_names, progress=lambda t: print(t, flush=True))
            if any(a.agent for a in arms):
                sink = Sink()
            first_recorded = next((a for a in arms if a.recorded), None)
            if not args.rounds_given and args.rounds > 1:
                args.rounds = arms_mod.balanced_rounds(args.rounds, len(arms), carry_over=False)   # positions
            for round_, order in Rounds(arms, args.rounds, progress=lambda t: print(t, flush=True), minimum=1):
                for arm in order:
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
        print("FAILED", flush=True)
        json_path.write_text(json.dumps({"format": FORMAT, "app": args.name, "failure": str(error)}))
        return Outcome(1, str(error))
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
    return Outcome(1 if failures else 0, text=text)


if __name__ == "__main__":                  # python -m retrace_bench.production.run
    sys.exit(main())
