"""Shared runner for the Retrace benchmarks.

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
import math
import os
import platform
import random
import statistics
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, ContextManager

INTERNAL = "internal"   # spec Category A: code Retrace is said not to intercept
BOUNDARY = "boundary"   # spec Category B: external boundaries Retrace intercepts

#: Variables that ask for a recording: the spec's RETRACE_RECORDING_PATH and the package's own.
PATH_VARIABLES = ("RETRACE_RECORDING_PATH", "RETRACE_RECORDING")
TRUTHY = {"1", "true", "yes", "on"}
#: Set in the environment of the process this module re-executes under Retrace.
REEXEC_MARK = "RETRACE_BENCH_REEXEC"

DEFAULT_RUNS = 5
DEFAULT_WARMUP = 1
QUICK_DIVISOR = 10
#: Seconds of idle time before each test when recording, so the writer queue has drained and
#: every test starts in the same (burst) regime instead of inheriting the previous test's backlog.
DEFAULT_SETTLE_S = 0.5
#: Regime profile: idle pause, chunk size, and the caps on one operation's sustained loop.
PROFILE_IDLE_S = 1.5
PROFILE_CHUNK = 500
PROFILE_MAX_CALLS = 60_000
PROFILE_MAX_SECONDS = 1.5


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
    return RecordingState("record", os.path.abspath(path) if path else None)


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
    env = dict(os.environ, PYTHONPATH=python_path, RETRACE_NO_VENV_BOOTSTRAP="1", **{REEXEC_MARK: "1"})
    command = [sys.executable, "-m", "retracesoftware", "--recording", wanted, "--",
               sys.argv[0], *sys.argv[1:]]
    sys.stdout.flush()
    os.execve(sys.executable, command, env)
    raise AssertionError("unreachable")


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


def header_lines(script: str, state: RecordingState) -> list[str]:
    return [
        f"# Retrace benchmark: {Path(script).name}",
        f"Python: {platform.python_version()} ({platform.python_implementation()})",
        f"OS: {platform.system()} {platform.release()} {platform.machine()}",
        f"CPU count: {os.cpu_count()}",
        f"Timestamp: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"retracesoftware: {retrace_version()}",
        state.header_line(),
    ]


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
        parser.add_argument("--runs", type=positive_int, default=DEFAULT_RUNS, metavar="N",
                            help=f"counted runs per test (default {DEFAULT_RUNS})")
        parser.add_argument("--warmup", type=non_negative_int, default=DEFAULT_WARMUP,
                            metavar="N", help=f"discarded warmup runs (default {DEFAULT_WARMUP})")
        parser.add_argument("--quick", action="store_true",
                            help=f"1/{QUICK_DIVISOR} of the iterations, short pauses: "
                                 "for tests and smoke runs")
        parser.add_argument("--only", type=positive_int, action="append", metavar="N",
                            help="run only test number N (repeatable)")
        parser.add_argument("--settle", type=float, metavar="SECONDS",
                            help="idle pause before each test while recording "
                                 f"(default {DEFAULT_SETTLE_S}, {DEFAULT_SETTLE_S / 5} with --quick)")
        parser.add_argument("--profile", action="store_true",
                            help="instead of timed runs, profile each test's cost per call over "
                                 "a long loop after an idle pause (burst vs sustained regime)")
        parser.add_argument("--list", action="store_true", help="list the tests and exit")
        args = parser.parse_args(argv)
        if args.only and max(args.only) > len(self.tests):
            parser.error(f"--only: there are {len(self.tests)} tests")
        if args.settle is None:
            args.settle = DEFAULT_SETTLE_S / 5 if args.quick else DEFAULT_SETTLE_S
        return args

    def main(self, argv=None) -> None:
        args = self.parse_args(argv)
        if args.list:
            for number, test in enumerate(self.tests, 1):
                print(f"{number}. {test.name} [{test.category}] {test.iterations} iterations")
            return
        state = ensure_recording_if_requested()
        print("\n".join(header_lines(sys.argv[0], state)), flush=True)
        for number, test in enumerate(self.tests, 1):
            if args.only and number not in args.only:
                continue
            iterations = args.iterations or max(1, test.iterations // (QUICK_DIVISOR if args.quick else 1))
            if state.mode != "plain":   # replay must make the same calls as the recording
                time.sleep(args.settle)
            print(f"\n## Test {number}: {test.name}")
            print(f"Category: {test.category}")
            with test.prepared() as loop:
                if args.profile:
                    profile_test(loop, quick=args.quick)
                else:
                    time_test(loop, iterations, args.runs, args.warmup)


def time_test(loop, iterations: int, runs: int, warmup: int) -> None:
    """Warm up, then time ``runs`` runs of ``iterations`` operations, printing each."""
    print(f"Iterations: {iterations}")
    for _ in range(warmup):
        loop(iterations)
    print(f"Warmup runs: {warmup} (discarded)")
    elapsed_ms = []
    for run in range(1, runs + 1):
        start = time.perf_counter()
        loop(iterations)
        elapsed_ms.append((time.perf_counter() - start) * 1e3)
        print(f"  Run {run}: {elapsed_ms[-1]:.4f} ms")
    average = statistics.fmean(elapsed_ms)
    print(f"  Average: {average:.4f} ms")
    print(f"  Median: {statistics.median(elapsed_ms):.4f} ms")
    print(f"  Per-operation: {average * 1e3 / iterations:.4f} µs", flush=True)


def profile_test(loop, quick: bool = False) -> None:
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


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


# --------------------------------------------------------------------------- statistics

def coefficient_of_variation(samples: list[float]) -> float:
    """Sample standard deviation over mean (0 for fewer than two samples)."""
    if len(samples) < 2 or statistics.fmean(samples) == 0:
        return 0.0
    return statistics.stdev(samples) / statistics.fmean(samples)


def bootstrap_median_difference_ci(baseline: list[float], treated: list[float],
                                   confidence: float, resamples: int = 4000,
                                   seed: int = 20261127) -> tuple[float, float]:
    """Percentile-bootstrap interval of median(treated) - median(baseline).

    Each arm is resampled independently with replacement. The samples are per-process
    figures, so the interval covers process-to-process variation. Seeded: same data, same interval.
    """
    rng = random.Random(seed)
    differences = sorted(
        statistics.median(rng.choices(treated, k=len(treated)))
        - statistics.median(rng.choices(baseline, k=len(baseline)))
        for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = differences[max(0, math.floor(tail * resamples))]
    high = differences[min(resamples - 1, math.ceil((1 - tail) * resamples) - 1)]
    return low, high
