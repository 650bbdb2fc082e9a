"""The benchmark harness (imported by the scripts as ``benchlib``, the top-level name they have always
used): the shared runner of the Retrace benchmarks.

Written once, used by every ``*_benchmark.py``: recording detection (and turning recording on
when it was asked for), the system header, the timing loop with warmup and counted runs, the
output format that ``analyze_results.py`` parses, and the statistics the analyzer uses.

A benchmark script is a list of tests::

    suite = Suite("What this script measures")

    @suite.test("time.time()", INTERNAL)
    def time_time(loops):
        for _ in repeat(None, loops):
            time.time()

    if __name__ == "__main__":
        suite.main()

Each test function runs its operation ``loops`` times; the loop lives in the test so that the
timing includes no per-call function overhead (as ``python -m timeit`` does). A test that needs a
resource names a context manager with ``fixture=`` and receives what it yields.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import signal
import statistics
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, ContextManager

from retrace_bench import facts
from retrace_bench.facts import BOUNDARY, HOOK_DISABLE_VARIABLE, INTERNAL, PATH_VARIABLES, REEXEC_MARK, TRUTHY  # noqa: F401
from retrace_bench.options import non_negative_int, positive_int  # noqa: F401
from retrace_bench.handover import ProcessRecord, Run, TestRecord, Window

DEFAULT_WARMUP = 1
QUICK_DIVISOR = 10
#: Regime profile: idle pause, chunk size, and the caps on one operation's sustained loop.
PROFILE_IDLE_S = 1.5
PROFILE_CHUNK = 500
PROFILE_MAX_CALLS = 60_000
PROFILE_MAX_SECONDS = 1.5
#: Lines whose figures are measured live (CPU time), so a replay prints other values there.
LIVE_LINE_PREFIXES = ("Recording: ", "Idle CPU: ", "  CPU ", "  Per-operation CPU: ")


# --------------------------------------------------------------------------- recording detection

@dataclass(frozen=True)
class RecordingState:
    mode: str                 # "plain", "record" or "replay"
    path: str | None = None   # the trace file, when recording

    def header_line(self) -> str:
        if self.mode == "record":
            return f"Recording: ON -> {self.path}"
        if self.mode == "replay":
            return "Recording: REPLAY"
        return "Recording: OFF"


def recording_state(orig_argv: list[str] | None = None) -> RecordingState:
    """Tell from the interpreter's own command line whether this process is being recorded.

    Retrace re-executes a recorded script as ``python -m retracesoftware [opts] -- script``;
    replay runs ``python -m retracesoftware --recording X.bin`` with no ``--``.
    """
    argv = list(sys.orig_argv if orig_argv is None else orig_argv)
    if argv[1:3] != ["-m", "retracesoftware"]:
        return RecordingState("plain")
    if "--" not in argv:
        return RecordingState("replay")
    options = argv[3:argv.index("--")]
    path = None
    for i, arg in enumerate(options):
        if arg == "--recording" and i + 1 < len(options):
            path = options[i + 1]
        elif arg.startswith("--recording="):
            path = arg.split("=", 1)[1]
    shown = os.environ.get(facts.SHOWN_RECORDING_VARIABLE)    # recorded privately, then moved there
    return RecordingState("record", shown or (os.path.abspath(path) if path else None))


def requested_recording_path(script: str, env=os.environ) -> str | None:
    """Where the user asked the recording to go, or None when no recording was asked for.

    ``RETRACE_RECORDING_PATH`` (the spec's variable) wins over ``RETRACE_RECORDING`` (the
    package's); a directory means ``<dir>/<script>.retrace``; ``RETRACE=1`` alone means
    ``./<script>.retrace``, as the package's own hook does.
    """
    stem = Path(script).stem
    for name in PATH_VARIABLES:
        value = env.get(name)
        if value:
            path = Path(value).expanduser()
            if path.is_dir():
                path = path / f"{stem}.retrace"
            return str(path.absolute())
    if env.get("RETRACE", "").strip().lower() in TRUTHY:
        return str(Path(f"{stem}.retrace").absolute())
    return None


def ensure_recording_if_requested() -> RecordingState:
    """Return this process's recording state, re-executing under Retrace when one was asked for.

    Recording then happens whether or not Retrace's env hook is installed: without the hook this
    process re-executes itself through ``python -m retracesoftware``; with the hook, which ignores
    ``RETRACE_RECORDING_PATH``, a recording at the wrong path is dropped and the run restarted at
    the right one. Exits non-zero, saying why, when recording was asked for and cannot start.
    """
    state = recording_state()
    if state.mode != "plain" and os.environ.get(REEXEC_MARK) == "1":
        # Our own re-execution, recording or replaying: return before any system call, so that
        # record and replay run the same code and replay stays aligned with the trace.
        return state
    wanted = requested_recording_path(sys.argv[0])
    if wanted is None or state.mode == "replay" or same_file(state.path, wanted):
        return state
    if importlib.util.find_spec("retracesoftware") is None:
        fail("recording was asked for (RETRACE/RETRACE_RECORDING_PATH), but retracesoftware is "
             f"not installed for {sys.executable}; use ./run_all_benchmarks.sh or "
             "pip install -r requirements.txt")
    if state.mode == "record" and state.path and os.path.exists(state.path):
        os.unlink(state.path)   # the hook's recording at its own default path, now abandoned
    if not Path(wanted).parent.is_dir():
        fail(f"cannot record to {wanted}: directory {Path(wanted).parent} does not exist")
    # `python -m retracesoftware` puts the working directory on sys.path, not the script's:
    # add the script's directory so that its imports (this module) work from anywhere.
    script_dir = os.path.dirname(os.path.abspath(sys.argv[0]))
    python_path = os.pathsep.join(filter(None, [script_dir, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=python_path, **{HOOK_DISABLE_VARIABLE: "1", REEXEC_MARK: "1"})
    sys.stdout.flush()
    try:        # what this unrecorded process printed (a file's offset; a pipe or a terminal has none)
        env[facts.PREEXEC_OUTPUT_VARIABLE] = str(os.lseek(sys.stdout.fileno(), 0, os.SEEK_CUR))
    except (OSError, ValueError):
        pass
    if is_private_dir(Path(wanted).parent):
        os.execve(sys.executable, recording_command(wanted), env)
    record_privately(wanted, env)


def recording_command(path: str) -> list[str]:
    return [sys.executable, "-m", "retracesoftware", "--recording", path, "--", sys.argv[0], *sys.argv[1:]]


def is_private_dir(directory: Path) -> bool:
    """Only this user can enter it: a recording made there is private, whatever its own mode."""
    try:
        info = directory.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & 0o077


def record_privately(wanted: str, env: dict) -> None:
    """Record in a child process into a private (0700) directory beside `wanted`, then move the
    finished recording to `wanted` as mode 0600, and exit with the child's status. Retrace writes
    its recording mode 0755 and it holds the whole environment, secrets included: recorded straight
    into a shared directory, every user could read it while it is being written."""
    import shutil  # lazy: hand recordings only; a measured process imports no more than it needs
    import subprocess  # lazy: as above
    import tempfile  # lazy: as above
    hidden = tempfile.mkdtemp(prefix=".retrace-recording.", dir=Path(wanted).parent)
    inside = os.path.join(hidden, Path(wanted).name)
    env[facts.SHOWN_RECORDING_VARIABLE] = wanted
    # The terminal's Ctrl-C reaches the recorded child too; this process waits for it to finish.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    child = subprocess.Popen(recording_command(inside), env=env)
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
    try:
        status = child.wait()
        if os.path.exists(inside):
            os.chmod(inside, 0o600)
            os.replace(inside, wanted)
    finally:
        signal.signal(signal.SIGINT, previous)
        shutil.rmtree(hidden, ignore_errors=True)
    raise SystemExit(status if status >= 0 else 128 - status)


def same_file(a: str | None, b: str) -> bool:
    return a is not None and os.path.realpath(a) == os.path.realpath(b)


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


# --------------------------------------------------------------------------- system header

def retrace_version() -> str:
    try:
        return metadata.version("retracesoftware")
    except metadata.PackageNotFoundError:
        return "not installed"


#: The header's labels in the text output and its keys in the JSON record.
HEADER_LABELS = {"python": "Python", "os": "OS", "cpu_count": "CPU count",
                 "timestamp": "Timestamp", "retrace_version": "retracesoftware"}


def header_fields() -> dict[str, str]:
    return {"python": f"{platform.python_version()} ({platform.python_implementation()})",
            "os": f"{platform.system()} {platform.release()} {platform.machine()}",
            "cpu_count": str(os.cpu_count()),
            "timestamp": datetime.datetime.now().isoformat(timespec="seconds"),
            "retrace_version": retrace_version()}


def header_lines(script: str, state: RecordingState, fields: dict[str, str]) -> list[str]:
    return ([f"# Retrace benchmark: {Path(script).name}"]
            + [f"{HEADER_LABELS[key]}: {value}" for key, value in fields.items()]
            + [state.header_line()])


def unrecorded_env() -> dict:
    """The environment for a helper process a test talks to (an echo or HTTP server): never recorded,
    whatever asked for recording here, and with Retrace's env hook off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETRACE")}   # Retrace's and the suite's
    env[HOOK_DISABLE_VARIABLE] = "1"
    return env


@contextmanager
def helper_server(code: str):
    """A never-recorded child process running `code`, which prints the port it listens on to its
    standard output first; yields the port; the child is killed on the way out."""
    import subprocess  # lazy: a measured process imports no more than it needs
    server = subprocess.Popen([sys.executable, "-c", code], env=unrecorded_env(), stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"the helper server did not start (it printed {line!r})")
        yield int(line)
    finally:
        server.kill()
        server.wait()
        server.stdout.close()


# --------------------------------------------------------------------------- CPU accounting
#
# Retrace queues each recorded call; a writer thread serialises it later. The caller's wall time
# is half the price: the process's CPU (all threads) from a run's start until the writer has
# caught up is the other. Everything here calls only what Retrace does not record
# (process_time_ns, perf_counter_ns, sigtimedwait), so record and replay stay aligned however
# long a drain takes live.

def quiet_sleep(seconds: float) -> None:
    """Sleep without a recorded call (time.sleep is recorded by Retrace)."""
    if hasattr(signal, "sigtimedwait"):
        signal.sigtimedwait((signal.SIGUSR2,), seconds)
    else:                                                   # not Linux: Retrace does not run there
        time.sleep(seconds)


def spin(seconds: float) -> None:
    """Busy-wait on perf_counter_ns, which Retrace does not record."""
    end = time.perf_counter_ns() + seconds * 1e9
    while time.perf_counter_ns() < end:
        pass


def window_cpu_ns(seconds: float) -> int:
    """CPU the process spends (all threads) while this thread idles for `seconds`."""
    cpu = time.process_time_ns()
    quiet_sleep(seconds)
    return time.process_time_ns() - cpu


@dataclass
class CpuMeter:
    """What idling costs this process, so that only the work's CPU is counted.

    Waking up from a sleep costs CPU of its own (about 0.1 ms per wake on a virtual machine), so
    idle cost is measured in the same windows the drain detection uses (`window_ns`), plus the
    process's background rate between wakes (`background_rate`, cores: Retrace's writer polling).
    """
    window_ns: float = 0.0
    background_rate: float = 0.0

    @classmethod
    def measure(cls) -> "CpuMeter":
        meter = cls(window_ns=facts.DRAIN_TOLERANCE * facts.DRAIN_WINDOW_S * 1e9)
        meter.wait_for_drain()                      # whatever start-up left queued
        window_s = facts.DRAIN_WINDOW_S
        windows = [window_cpu_ns(window_s) for _ in range(facts.IDLE_WINDOWS)]
        meter.window_ns = statistics.fmean(windows)   # the mean: a periodic writer wake-up counts
        long_ns = window_cpu_ns(facts.IDLE_MEASURE_S)
        meter.background_rate = max(0.0, (long_ns - meter.window_ns) / ((facts.IDLE_MEASURE_S - window_s) * 1e9))
        return meter

    @property
    def idle_ms_per_s(self) -> float:
        """The idle cost a user pays: CPU per second of an idle process, wake-ups aside."""
        return self.background_rate * 1e3

    def wait_for_drain(self, cap_s: float = facts.DRAIN_CAP_S) -> tuple[int, bool]:
        """Wait until a few windows in a row cost no more than idle ones (within tolerance).

        Returns the number of windows waited and whether the cap was hit first."""
        limit = self.window_ns + facts.DRAIN_TOLERANCE * facts.DRAIN_WINDOW_S * 1e9
        start = time.perf_counter_ns()
        windows = quiet = 0
        while quiet < facts.DRAIN_QUIET:
            windows += 1
            quiet = quiet + 1 if window_cpu_ns(facts.DRAIN_WINDOW_S) <= limit else 0
            if (time.perf_counter_ns() - start) / 1e9 > cap_s:
                return windows, True
        return windows, False

    def run(self, loop, iterations: int) -> Run:
        """One timed run: the caller's wall time, then the process CPU over the run and its
        drain, less what the drain's own windows and the background rate cost when idle. The
        facts.WARM_CALLS untimed calls before it are in the CPU, shared out per call. Wall
        time uses time.perf_counter, which Retrace records, so a replay prints the recorded
        timings."""
        spin(facts.WARM_SPIN_S)                  # before the counters: it is not the work's cost
        cpu0 = time.process_time_ns()
        warm = min(facts.WARM_CALLS, iterations)
        loop(warm)                               # untimed: a loop's first calls run slow
        start = time.perf_counter()
        loop(iterations)
        wall_s = time.perf_counter() - start
        drain_start = time.perf_counter_ns()
        windows, capped = self.wait_for_drain()
        drain_ms = (time.perf_counter_ns() - drain_start) / 1e6
        cpu_ns = (time.process_time_ns() - cpu0 - windows * self.window_ns
                  - self.background_rate * wall_s * 1e9) * iterations / (iterations + warm)
        return Run(wall_s * 1e3, cpu_ns / 1e6, drain_ms, capped)


# --------------------------------------------------------------------------- the runner

@dataclass
class Test:
    name: str
    category: str
    iterations: int
    loop: Callable
    fixture: Callable[[], ContextManager] | None = None

    @contextmanager
    def prepared(self):
        """Yield a function of ``loops`` with the test's fixture set up around it."""
        with (self.fixture() if self.fixture else nullcontext()) as resource:
            if self.fixture:
                yield lambda loops: self.loop(loops, resource)
            else:
                yield self.loop


class Suite:
    """The tests of one benchmark script and the command line that runs them."""

    def __init__(self, description: str):
        self.description = description
        self.tests: list[Test] = []
        if sys._getframe(1).f_globals.get("__name__") == "__main__":
            # A script's suite: when recording was asked for, re-execute under Retrace now, before
            # the rest of the script runs, so that what it prints at import time is printed once.
            ensure_recording_if_requested()

    def test(self, name: str, category: str, iterations: int = 2000, fixture=None):
        """Register ``loop(loops[, resource])`` as a test."""
        if category not in (INTERNAL, BOUNDARY):
            raise ValueError(f"category must be {INTERNAL!r} or {BOUNDARY!r}")

        def register(loop):
            self.tests.append(Test(name, category, iterations, loop, fixture))
            return loop
        return register

    def parse_args(self, argv=None) -> argparse.Namespace:
        parser = argparse.ArgumentParser(
            description=self.description,
            epilog="Record with Retrace: RETRACE=1 RETRACE_RECORDING_PATH=/path/x.retrace "
                   "python SCRIPT (a directory means <dir>/<script>.retrace).")
        parser.add_argument("--iterations", type=positive_int, metavar="N",
                            help="operations per run (default: each test's own count)")
        parser.add_argument("--runs", type=positive_int, metavar="N",
                            help=f"exactly N counted runs per test (default: {facts.MIN_RUNS} to "
                                 f"{facts.MAX_RUNS}, until the mean wall time's standard error is within "
                                 f"{facts.RUN_STOP_SE_FRACTION * 100:g}%% or {facts.RUN_STOP_SE_US} µs, or the "
                                 f"test has used {facts.TEST_BUDGET_S:g} s)")
        parser.add_argument("--warmup", type=non_negative_int, default=DEFAULT_WARMUP,
                            metavar="N", help=f"discarded warmup runs (default {DEFAULT_WARMUP})")
        parser.add_argument("--quick", action="store_true",
                            help=f"1/{QUICK_DIVISOR} of the iterations: for tests and smoke runs")
        parser.add_argument("--only", type=positive_int, action="append", metavar="N",
                            help="run only test number N (repeatable)")
        parser.add_argument("--profile", action="store_true",
                            help="instead of timed runs, profile each test's cost per call over "
                                 "a long loop after an idle pause (burst vs sustained regime)")
        parser.add_argument("--trace-sizes", action="store_true",
                            help="when recorded, note the trace's size before and after each test (the "
                                 "suite's trace-growth probe)")
        parser.add_argument("--instructions", action="store_true",
                            help="instead of timed runs, count instructions in Callgrind windows (run "
                                 "under valgrind --tool=callgrind by the suite; docs/instructions.md)")
        parser.add_argument("--windows", type=positive_int, default=facts.INSTRUCTION_WINDOWS, metavar="K",
                            help="with --instructions: counted windows with calls, and as many without, "
                                 f"per test after one discarded window (default {facts.INSTRUCTION_WINDOWS})")
        parser.add_argument("--through", type=positive_int, metavar="K",
                            help="with --instructions: count tests 1 to K only (the suite passes it in a "
                                 "fixed width to every counted process: a count moves with argv's length)")
        parser.add_argument("--list", action="store_true", help="list the tests and exit")
        args = parser.parse_args(argv)
        if args.only and max(args.only) > len(self.tests):
            parser.error(f"--only: there are {len(self.tests)} tests")
        return args

    def main(self, argv=None) -> None:
        args = self.parse_args(argv)
        if args.list:
            for number, test in enumerate(self.tests, 1):
                print(f"{number}. {test.name} [{test.category}] {test.iterations} iterations")
            return
        state = ensure_recording_if_requested()
        header = header_fields()
        print("\n".join(header_lines(sys.argv[0], state, header)), flush=True)
        if args.instructions:
            return self.count_instructions(args, state, header)
        meter = CpuMeter.measure()
        print(f"Idle CPU: {meter.idle_ms_per_s:.3f} ms/s", flush=True)
        record = ProcessRecord(Path(sys.argv[0]).name, header, state.mode, state.path, [],
                               idle_cpu_ms_per_s=meter.idle_ms_per_s, extra=preexec_output())
        for number, test in enumerate(self.tests, 1):
            if args.only and number not in args.only:
                continue
            iterations = args.iterations or max(1, test.iterations // (QUICK_DIVISOR if args.quick else 1))
            # Whatever the previous test left in Retrace's queue is written before this one starts.
            meter.wait_for_drain()
            print(f"\n## Test {number}: {test.name}")
            print(f"Category: {test.category}")
            entry = TestRecord(number, test.name, test.category, iterations, [])
            sizes = args.trace_sizes and state.mode == "record" and state.path
            before = trace_size(state.path) if sizes else None
            with test.prepared() as loop:
                if args.profile:
                    entry.profile_chunk_calls = PROFILE_CHUNK
                    entry.profile_chunks_us = profile_test(loop, quick=args.quick)
                    entry.iterations = PROFILE_CHUNK
                else:
                    rule = RunRule.quick() if args.quick else RunRule()
                    entry.runs = time_test(loop, iterations, args.runs, args.warmup, meter, rule)
            if sizes:
                meter.wait_for_drain()
                entry.trace_bytes = [before, trace_size(state.path)]
            record.tests.append(entry)
        write_record(record)


    def count_instructions(self, args, state: RecordingState, header: dict) -> None:
        """Each test in Callgrind windows: one discarded window of calls, then windows with calls and
        without alternating; the record names each window's dump, and the manager reads the counts."""
        windows = Callgrind.load(state)
        record = ProcessRecord(Path(sys.argv[0]).name, header, state.mode, state.path, [])
        for number, test in enumerate(self.tests, 1):
            if args.only and number not in args.only or args.through and number > args.through:
                continue
            calls = args.iterations or max(1, test.iterations // facts.INSTRUCTION_CALLS_DIVISOR)
            print(f"\n## Test {number}: {test.name}")
            print(f"Category: {test.category}")
            print(f"Instruction windows: {args.windows} of {calls} calls and {args.windows} empty, "
                  "after one discarded", flush=True)
            entry = TestRecord(number, test.name, test.category, calls, [], windows=[])
            with test.prepared() as loop:
                loop(calls)                       # uncounted: what a first call sets up
                plan = [calls] + [n for _ in range(args.windows) for n in (calls, 0)]
                for index, n in enumerate(plan):
                    entry.windows.append(windows.window(loop, n, f"t{number}.w{index}.n{n}"))
            record.tests.append(entry)
        write_record(record)


class Callgrind:
    """Windows counted by Callgrind, through the suite's extension (retrace_bench/instructions/native/): its
    calls are not recorded by Retrace, and it waits for Retrace's writer in C."""

    def __init__(self, extension, trace: str | None):
        self.cg, self.trace, self.started = extension, trace, False

    @classmethod
    def load(cls, state: RecordingState) -> "Callgrind":
        directory = os.environ.get(facts.CALLGRIND_EXTENSION_VARIABLE)
        if not directory:
            fail(f"--instructions needs the suite's Callgrind extension ({facts.CALLGRIND_EXTENSION_VARIABLE}); "
                 "run it through ./run_all_benchmarks.sh")
        sys.path.insert(0, directory)
        import _retrace_bench_callgrind as extension  # lazy: its directory is known only at run time
        if not extension.on_valgrind():
            fail("--instructions must run under valgrind --tool=callgrind")
        return cls(extension, state.path if state.mode == "record" else None)

    def window(self, loop, calls: int, name: str) -> Window:
        if not self.started:                    # instrumentation from the first window on only
            self.cg.start()
            self.started = True
        self.cg.zero()
        loop(calls) if calls else None
        wait_s, capped = (self.cg.wait_quiet(self.trace, facts.INSTRUCTION_QUIET_S, facts.INSTRUCTION_POLL_S,
                                             facts.INSTRUCTION_DRAIN_CAP_S) if self.trace else (0.0, False))
        self.cg.dump(name)
        return Window(name, calls, wait_s, capped)


def preexec_output() -> dict:
    """The record's note of how much of this process's output an unrecorded process wrote before it
    re-executed under Retrace (the manager leaves it out of the replay comparison)."""
    value = os.environ.get(facts.PREEXEC_OUTPUT_VARIABLE, "")
    return {"preexec_stdout_bytes": int(value)} if value.isdigit() and int(value) else {}


def trace_size(path: str) -> int:
    """The recording's size once Retrace has flushed what its writer wrote (it flushes on a timer)."""
    quiet_sleep(facts.TRACE_FLUSH_WAIT_S)
    return os.stat(path).st_size


def write_record(record: ProcessRecord) -> None:
    """Hand the record to the manager through the descriptor it passed, if it passed one."""
    fd = os.environ.get(facts.RECORD_FD_VARIABLE)
    if not fd:
        return
    data = (json.dumps(record.to_json(), ensure_ascii=False) + "\n").encode()
    try:
        while data:
            data = data[os.write(int(fd), data):]
    except (OSError, ValueError) as error:
        fail(f"cannot write the JSON record to descriptor {fd}: {error}")


@dataclass(frozen=True)
class RunRule:
    """The stopping rule's bounds (facts.py, "runs in a process")."""
    min_runs: int = facts.MIN_RUNS
    max_runs: int = facts.MAX_RUNS
    budget_s: float = facts.TEST_BUDGET_S

    @classmethod
    def quick(cls) -> "RunRule":
        return cls(facts.QUICK_MIN_RUNS, facts.QUICK_MAX_RUNS, facts.TEST_BUDGET_S / QUICK_DIVISOR)


def time_test(loop, iterations: int, runs: int | None, warmup: int, meter: CpuMeter,
              rule: RunRule = RunRule()) -> list[Run]:
    """Warm up, then time runs of ``iterations`` operations, printing each: exactly ``runs`` runs,
    or (runs None) as many as the stopping rule in facts.py asks for."""
    print(f"Iterations: {iterations}")
    for _ in range(warmup):
        loop(iterations)
    meter.wait_for_drain()
    print(f"Warmup runs: {warmup} (discarded)")
    measured = []
    started = time.perf_counter()          # recorded: a replay takes the same decisions
    while not enough_runs(measured, iterations, runs, time.perf_counter() - started, rule):
        run = meter.run(loop, iterations)
        measured.append(run)
        number = len(measured)
        print(f"  Run {number}: {run.wall_ms:.4f} ms")
        print(f"  CPU {number}: {run.cpu_ms:.4f} ms (drained in {run.drain_ms:.0f} ms"
              f"{', CAPPED' if run.drain_capped else ''})")
    elapsed_ms = [r.wall_ms for r in measured]
    average = statistics.fmean(elapsed_ms)
    print(f"  Average: {average:.4f} ms")
    print(f"  Median: {statistics.median(elapsed_ms):.4f} ms")
    print(f"  Per-operation: {average * 1e3 / iterations:.4f} µs")
    print(f"  Per-operation CPU: {statistics.fmean(r.cpu_ms for r in measured) * 1e3 / iterations:.4f} µs",
          flush=True)
    return measured


def enough_runs(measured: list[Run], iterations: int, runs: int | None, elapsed_s: float,
                rule: RunRule = RunRule()) -> bool:
    """The stopping rule (facts.py, "runs in a process")."""
    if runs is not None:
        return len(measured) >= runs
    if len(measured) < rule.min_runs:
        return False
    if len(measured) >= rule.max_runs or elapsed_s >= rule.budget_s:
        return True
    per_op_us = [r.wall_ms * 1e3 / iterations for r in measured]
    mean = statistics.fmean(per_op_us)
    se = statistics.stdev(per_op_us) / len(per_op_us) ** 0.5
    if se > max(facts.RUN_STOP_SE_FRACTION * abs(mean), facts.RUN_STOP_SE_US):
        return False
    return True


def profile_test(loop, quick: bool = False) -> list[float]:
    """Time chunks of calls after an idle pause until the caps, printing µs per call per chunk."""
    scale = QUICK_DIVISOR if quick else 1
    time.sleep(PROFILE_IDLE_S / scale)
    chunks_us = []
    calls = 0
    deadline = time.perf_counter() + PROFILE_MAX_SECONDS / scale
    while calls < PROFILE_MAX_CALLS // scale and time.perf_counter() < deadline:
        start = time.perf_counter()
        loop(PROFILE_CHUNK)
        chunks_us.append((time.perf_counter() - start) * 1e6 / PROFILE_CHUNK)
        calls += PROFILE_CHUNK
    print(f"Idle pause: {PROFILE_IDLE_S / scale:.2f} s")
    print(f"Chunk calls: {PROFILE_CHUNK}")
    print("Chunks (µs/op): " + " ".join(f"{c:.3f}" for c in chunks_us), flush=True)
    return chunks_us
