"""Every fact the suite relies on, in one place: Retrace's variables, what counts as a real trace,
the minimum effect, the names of the built-in benchmarks, the spec's claims and red flags."""

from __future__ import annotations
import os
from pathlib import Path

# --------------------------------------------------------------------------- Retrace's environment
#: Variables that ask for a recording: the spec's RETRACE_RECORDING_PATH and the package's own.
PATH_VARIABLES = ("RETRACE_RECORDING_PATH", "RETRACE_RECORDING")
#: Set in every process the suite starts: Retrace's env hook (its "venv bootstrap") stays off, so
#: that only the recording the suite asks for happens. Removed for a command recorded through the hook.
HOOK_DISABLE_VARIABLE = "RETRACE_NO_VENV_BOOTSTRAP"
#: What Retrace's launcher (`python -m retracesoftware ... -- ARGS`) runs: `-m module`, `-c code`, or
#: a file whose name ends in .py. Anything else (a folder with __main__.py, a .pyz, a script without
#: the suffix, an interpreter option such as -u) it refuses with this line on stderr, and exits 0.
LAUNCHER_FORMS = ("-m", "-c")
LAUNCHER_SCRIPT_SUFFIX = ".py"
LAUNCHER_REFUSAL = "Error: Not a Python script"
#: Every variable that makes a process record (cleared for plain runs).
RETRACE_VARIABLES = ("RETRACE", *PATH_VARIABLES, "RETRACE_CONFIG")
TRUTHY = {"1", "true", "yes", "on"}
#: Set by benchlib in the environment of the process it re-executes under Retrace.
REEXEC_MARK = "RETRACE_BENCH_REEXEC"
#: Where a recording made in a private directory is moved when it is complete (benchlib's hand runs
#: into a shared directory): what the recorded process says it records to.
SHOWN_RECORDING_VARIABLE = "RETRACE_BENCH_RECORDING"
#: Set by benchlib when it re-executes a script under Retrace: the bytes the script had written to its
#: standard output before (import-time prints of the unrecorded process), which no replay prints.
PREEXEC_OUTPUT_VARIABLE = "RETRACE_BENCH_PREEXEC_BYTES"
#: The manager passes a benchmark process a file descriptor for its JSON record in this variable.
RECORD_FD_VARIABLE = "RETRACE_BENCH_RECORD_FD"
#: Set by the self-check in the arm whose recorded clock read is made dearer (sensitivity check).
SENSITIVITY_VARIABLE = "RETRACE_BENCH_SENSITIVITY"
#: Set by the self-check to the seconds its program calibration adds when recorded. A second: a
#: recorded program's wall time moves ±0.03 s from round to round, so 0.2 s read back 15-18% off in
#: one self-check of two, where 10% of a second is three times that noise.
PROGRAM_COST_VARIABLE = "RETRACE_BENCH_PROGRAM_COST"
PROGRAM_COST_S = 1.0
#: The suite's own variables, never passed on to a process it starts unless an arm sets them.
#: The directory the user ran the suite from: run_all_benchmarks.sh changes into the suite's own
#: directory, and a --program command's relative paths are the user's.
CALLER_CWD_VARIABLE = "RETRACE_BENCH_CWD"
#: The directory of the compiled Callgrind extension (retrace_bench/instructions/native/), for benchlib.
CALLGRIND_EXTENSION_VARIABLE = "RETRACE_BENCH_CALLGRIND_EXT"
#: Set by the self-check in the arm whose recorded call gets a known pure-Python piece of work.
INSTRUCTION_WORK_VARIABLE = "RETRACE_BENCH_INSTRUCTION_WORK"
SUITE_VARIABLES = (REEXEC_MARK, PREEXEC_OUTPUT_VARIABLE, SHOWN_RECORDING_VARIABLE, RECORD_FD_VARIABLE, SENSITIVITY_VARIABLE,
                   PROGRAM_COST_VARIABLE, CALLER_CWD_VARIABLE, CALLGRIND_EXTENSION_VARIABLE,
                   INSTRUCTION_WORK_VARIABLE)

# --------------------------------------------------------------------------- what is a real trace
#: A recorded benchmark process's trace must exceed an empty script's recording by this many bytes
#: (the harness's own timer reads are recorded: 2 per run, ~25 bytes each, so any real run of
#: one test with 5 runs passes; a run that did not record adds nothing).
REAL_TRACE_MIN_EXTRA_BYTES = 250


def trace_problem(size: int, empty_size: int) -> str | None:
    """Why a recorded benchmark process's trace is not a real trace, or None when it is."""
    if size < empty_size + REAL_TRACE_MIN_EXTRA_BYTES:
        return (f"trace is {size} bytes, not more than an empty recording ({empty_size}) plus "
                f"{REAL_TRACE_MIN_EXTRA_BYTES}: nothing was recorded")
    return None


#: An operation is "recorded" when one call adds at least this many trace bytes.
RECORDED_MIN_BYTES_PER_OP = 1.0
#: Trace-growth probe: the two call counts whose trace sizes are compared. One recorded process per
#: count runs every test and notes the trace's size before and after each one (benchlib
#: --trace-sizes), once the writer has drained and TRACE_FLUSH_WAIT_S has passed: Retrace flushes
#: its buffer every 10 ms (flush_interval in the package's release.toml).
PROBE_CALLS = (100, 1100)
TRACE_FLUSH_WAIT_S = 0.03

# --------------------------------------------------------------------------- noise and intervals
CONFIDENCE = 0.95
#: The minimum effects of the one verdict rule (effects.judge). A difference is a real effect ("slower"/"faster") only when its interval
#: excludes zero AND it is at least MIN_EFFECT_FRACTION of the reference figure AND, for a time per
#: operation, at least MIN_EFFECT_US; otherwise it is "within noise". So a difference under 2% OR
#: under 0.05 µs is noise (Datadog's benchmark gate treats changes under 2% as not significant;
#: 0.05 µs is about the cost of one timer read). Figures that are not times per operation
#: (production throughput, latency and CPU per request, in percent) use the 2% alone.
MIN_EFFECT_FRACTION = 0.02
MIN_EFFECT_US = 0.05


def minimum_effect_us(reference_us: float) -> float:
    """The smallest time-per-operation difference the suite calls a real effect."""
    return max(MIN_EFFECT_FRACTION * abs(reference_us), MIN_EFFECT_US)


# --------------------------------------------------------------------------- runs in a process
#: Where the variance is (measured on this 2-core VM, docs/methodology.md "Resolution"): a recorded operation's
#: runs are a mixture of a fast and a slow state of the machine (time.time() recorded: 0.75 or
#: 1.6 µs per call, the state set per run, whatever the run's length or the core the writer is
#: on); the processes' means differ no more than their runs predict. So the per-process figure is
#: the MEAN of its runs (a median of a two-state mixture jumps between the states), and the time
#: is spent on more runs per process, which cost a run and a drain, not a process start-up.
#: A test's runs stop when the standard error of the mean wall time is within RUN_STOP_SE_FRACTION
#: of the mean or RUN_STOP_SE_US, whichever is larger, after at least MIN_RUNS runs, at MAX_RUNS
#: runs, or when the test has used TEST_BUDGET_S seconds (--quick: QUICK_MIN_RUNS to
#: QUICK_MAX_RUNS runs, a tenth of the budget). The rule reads
#: only the wall times and time.perf_counter(), which Retrace records, so a replay takes the same
#: decisions as the recording (CPU time is measured live and would make the replay diverge).
#: Unrecorded operations stop at a few runs; recorded ones, whose runs vary by half their mean,
#: run to the cap. The state of the machine persists for seconds (a whole recorded process can run
#: in the fast state), so processes differ more than their runs predict: past ~20 runs, time is
#: better spent on rounds (docs/methodology.md, "Resolution"). MIN_RUNS is high enough that a few runs that
#: happen to share one state do not stop a noisy test early.
MIN_RUNS = 8
MAX_RUNS = 20
#: --quick is a smoke run: fewer runs per test.
QUICK_MIN_RUNS = 3
QUICK_MAX_RUNS = 5
RUN_STOP_SE_FRACTION = 0.02
RUN_STOP_SE_US = 0.01
TEST_BUDGET_S = 1.5


# Verdicts of a comparison B against A (summary.json carries these strings).
SLOWER = "slower"
FASTER = "faster"
WITHIN_NOISE = "within noise"
#: With a single round there is no interval: no verdict either way (never "within noise").
CANNOT_TELL = "cannot tell (one round)"
REAL_EFFECTS = (SLOWER, FASTER)

# --------------------------------------------------------------------------- CPU accounting
#: Drain detection: windows of this many seconds; the writer has caught up when the process's
#: CPU rate stays within DRAIN_TOLERANCE (cores) of its idle rate for DRAIN_QUIET windows.
DRAIN_WINDOW_S = 0.01
DRAIN_QUIET = 2
DRAIN_TOLERANCE = 0.05
DRAIN_CAP_S = 10.0
#: Idle cost: the mean of IDLE_WINDOWS drain-sized windows, and one long window.
IDLE_WINDOWS = 10
IDLE_MEASURE_S = 0.2
#: Busy-wait before each timed run, after the drain's idle windows: on a shared VM a core woken
#: from idle runs a short loop up to 2x slower until it ramps up (measured: time.time() 119 ns
#: right after idle, 67 ns after a 20 ms spin, 59 ns in timeit's sustained loop).
WARM_SPIN_S = 0.02
#: Then the test's own loop runs this many calls, untimed, right before the timed ones: after the
#: spin (or anything else), a loop's first calls run slow (measured 2026-12-02, 20 alternations of
#: 1,000 time.time() calls: median 0.068 µs/op after the spin alone, 0.047 after the spin and 10 calls,
#: timeit 0.047-0.050). Their CPU is counted with the run's and shared out per call.
WARM_CALLS = 10

# --------------------------------------------------------------------------- benchmarks
#: Result names of the built-in scripts (the spec's internal_* and external_* files).
RESULT_NAMES = {"synthetic_benchmark.py": "internal", "external_boundary_benchmark.py": "external"}
BENCHMARK_GLOB = "*_benchmark.py"
NOT_PER_OPERATION = ("production_benchmark.py",)

INTERNAL = "internal"   # spec Category A: code Retrace is said not to intercept
BOUNDARY = "boundary"   # spec Category B: external boundaries Retrace intercepts


def result_name(script: str) -> str:
    """internal / external for the built-ins, else the script's name without _benchmark.py; a user's
    script whose short name is a built-in's (internal_benchmark.py) keeps its whole stem, so that
    result names never collide."""
    name = Path(script).name
    if name in RESULT_NAMES:
        return RESULT_NAMES[name]
    short = name.removesuffix(".py").removesuffix("_benchmark")
    return name.removesuffix(".py") if short in RESULT_NAMES.values() else short


# --------------------------------------------------------------------------- network services
#: The servers the suite starts for a run (retrace_bench/services.py): each one's title, the Debian
#: package that has it, the account it runs as when the suite runs as root, and the conventional
#: variables that tell a program where it is (TCP; REDIS_SOCKET_URL: Redis over its Unix socket).
SERVICE_TITLES = {"postgres": "PostgreSQL", "redis": "Redis"}
SERVICE_PACKAGES = {"postgres": "postgresql", "redis": "redis-server"}
SERVICE_USERS = {"postgres": "postgres", "redis": "redis"}
SERVICE_VARIABLES = {"postgres": ("DATABASE_URL",), "redis": ("REDIS_URL", "REDIS_SOCKET_URL")}
#: What a user's command (--program, --app-cmd with --services) may hold: each filled in with the
#: service's URL (its first variable's value).
SERVICE_PLACEHOLDERS = {"postgres": "{postgres_url}", "redis": "{redis_url}"}
#: The per-operation scripts that need services, and which: the driver starts them for these.
SCRIPT_SERVICES = {"network_benchmark.py": ("postgres", "redis")}
#: The seeded data: this many rows (PostgreSQL table kv) and keys (Redis key:N), each of this many bytes.
SEED_ROWS, SEED_VALUE_BYTES = 1000, 100
SERVICE_START_TIMEOUT_S = 60.0
#: The FAQ's case: "only 0.3% of a 5 ms database query", measured on a query that waits 5 ms in the server.
SPEC_QUERY_TEST = "PostgreSQL query waiting 5 ms"
SPEC_QUERY_WAIT_S = 0.005
SPEC_QUERY_PERCENT = 0.3


#: Scripts timed in fewer rounds than the rest (rounded up to whole Williams designs): a process of
#: network_benchmark.py takes 9-12 s (8 tests; the harness's drain waits, not the calls, dominate),
#: so 8 rounds instead of 4 would add 1.5 minutes to the default run.
SCRIPT_ROUNDS = {"network_benchmark.py": 4}


#: Scripts whose recorded tests get no regime profile: network_benchmark.py's 8 profiles (an idle
#: pause and a sustained loop each) take 29 s, which the default run's 11 minutes do not have; its
#: trace growth and instruction counts still say what a call costs.
NOT_PROFILED = {"network_benchmark.py": "not profiled (8 profiles of network calls take 29 s; "
                                        "docs/benchmarks.md#network)"}


def services_of(scripts) -> list[str]:
    """The services that these per-operation scripts need, in a fixed order."""
    wanted = {name for script in scripts for name in SCRIPT_SERVICES.get(Path(script).name, ())}
    return [name for name in SERVICE_TITLES if name in wanted]


# --------------------------------------------------------------------------- instructions (Callgrind)
#: Instructions per call are counted under Valgrind's Callgrind (docs/instructions.md): one process
#: per arm and round, each test in windows of calls opened and closed by Callgrind's monitor
#: commands "zero" and "dump" (every thread, one file per thread). A window with calls and a window
#: with none alternate after one discarded window (the first reads high: first-call binding in
#: Retrace, caches); a test's figure in a process is (mean of its call windows - mean of its empty
#: windows) / calls. The caller is the thread that ran the loop (Callgrind's thread 1); "others" are
#: every other thread (Retrace's writer and flusher, a test's own threads).
#: Where the variance is (measured, docs/instructions.md): a recorded call's caller count repeats
#: to ~0.1% from window to window in one process, but moves from process to process: by 1-2.3% for
#: time.time(), os.getpid() and sqlite, under 0.5% for the others; all of it in Retrace's
#: Binder::call and Binder::lookup (profiles of identical processes differ there and nowhere else).
#: So time goes to processes, not windows: one counted pair per test (in the reference versions run,
#: a second window's caller differed from the first by 0.0-0.6%, median 0.1%; dropping it cuts a
#: recorded process under Callgrind from 13.7 to 10.2 s, external_boundary_benchmark.py).
INSTRUCTION_WINDOWS = 1
QUICK_INSTRUCTION_WINDOWS = 1
INSTRUCTION_ROUNDS, QUICK_INSTRUCTION_ROUNDS = 8, 3
#: A version comparison's caller half-width, in % of the baseline's figure, that a full run aims
#: for (a few-percent change between releases must be seen): after INSTRUCTION_ROUNDS
#: processes, the tests that miss it get more processes of the recorded arms, running only those
#: tests, as many as their spread asks for, up to INSTRUCTION_MAX_ROUNDS (time.time(), os.getpid()
#: and datetime.now() need about 18-20: their count moves 1-2% between processes).
INSTRUCTION_TARGET_PERCENT = 2.0
INSTRUCTION_MAX_ROUNDS = 20
#: The extra processes are planned for this fraction of the target (a spread read from 8 processes
#: is itself uncertain: planned for the whole target, sqlite's came out at 2.2% with 14), in up to
#: this many steps, each planned on the spread of all the processes so far.
INSTRUCTION_TARGET_AIM = 0.85
INSTRUCTION_TARGET_STEPS = 3
#: The extra processes stop where the instruction section would pass this many seconds (the
#: budget for a --versions run's instruction table), planned from the first processes' durations.
INSTRUCTION_SECTION_BUDGET_S = 300.0
#: Every counted process gets --through=K in this many digits (this value: every test), so that the
#: extra processes' arguments are as long as the first ones' (instruction_run.through_argument).
INSTRUCTION_THROUGH_ALL = 9999
#: Processes under Callgrind at a time (they time nothing; the self-check's instruction A/A shows
#: that two side by side leave the counts alone).
INSTRUCTION_WORKERS = 2
#: The quick self-check's processes per arm for its instruction checks: the sensitivity check's
#: +4% on a recorded time.time() (whose caller moves ~1.5% between processes) is called at the
#: family's confidence with 8, not reliably with fewer.
SELFCHECK_QUICK_INSTRUCTION_ROUNDS = 8
#: Calls in a window: the test's own iteration count divided by this (at least 1).
INSTRUCTION_CALLS_DIVISOR = 4
#: Scripts counted in fewer processes per arm than the rest: network_benchmark.py's process takes
#: 7 s plain and 12-13 s recorded under Callgrind (importing redis-py alone takes 8 s of a plain
#: interpreter's 10 s there). In 3 processes its plain counts were identical and its recorded callers'
#: varied by 0.2-2.9%: 3 (the fewest with a usable t) resolve its +21% to +130% changes.
SCRIPT_INSTRUCTION_ROUNDS = {"network_benchmark.py": 3}


def instruction_rounds_of(script: str, rounds: int) -> int:
    return min(rounds, SCRIPT_INSTRUCTION_ROUNDS.get(Path(script).name, rounds))
#: A recorded window stays open until the trace has not grown for this long (Retrace's writer has
#: written everything the calls queued: it flushes every 10 ms), or the cap has passed. Measured at
#: 0.1 s: the empty window after each window of calls counted only the idle polling (11,500-12,700
#: instructions on the other threads, as every later empty one), so nothing spilled; a recorded
#: process of external_boundary_benchmark.py took 12 s instead of 20 s at 0.3 s.
INSTRUCTION_QUIET_S = 0.1
INSTRUCTION_POLL_S = 0.01
INSTRUCTION_DRAIN_CAP_S = 60.0
#: The verdict rule for instructions per call: a difference is real only when its interval excludes
#: zero AND it is at least this fraction of the reference figure (instruction counts repeat to a
#: fraction of a percent; 1% is rustc-perf's order of a significant change).
INSTRUCTION_MIN_EFFECT_FRACTION = 0.01
#: A figure below this many instructions per call (another thread's, where nothing runs there) has
#: its spread shown in instructions, not as a percent of it.
INSTRUCTION_ABSOLUTE_BELOW = 100
#: The self-check's instruction calibration must read a known piece of work back within this.
INSTRUCTION_CALIBRATION_TOLERANCE = 0.03
#: Hash randomisation moves plain instruction counts by up to 1%: fixed in every counted process.
INSTRUCTION_HASH_SEED = "0"
#: A release's version is written in this many characters in its cached virtualenvs' names ("0.2.9"
#: padded with "_"), so that every release's interpreter, prefix and module paths have one length:
#: a recorded call's count moves with the length of the interpreter's path (sqlite's caller about
#: 62,000 per call against 71,000, for paths 4 characters apart; docs/instructions.md).
VERSION_NAME_WIDTH = 16

#: Profiles (profiles.py): per test and side, the PROFILE_KEPT_FUNCTIONS functions of most own
#: cost per call are kept, and as many outside the interpreter by inclusive cost; the summary
#: shows the PROFILE_TOP of those by inclusive cost, less the ones at PROFILE_SPINE_FRACTION of the
#: whole or more (on the path to the operation: each is the whole); a test's profile is shown when its recorded
#: total is at least PROFILE_MIN_RATIO times the plain one (Retrace does work of its own per call).
PROFILE_KEPT_FUNCTIONS = 40
PROFILE_TOP = 5
#: A --history summary's last section: per operation, this many functions of each side whose own
#: cost changed most in the newest release.
PROFILE_NEWEST_TOP = 3
PROFILE_SPINE_FRACTION = 0.9
PROFILE_MIN_RATIO = 1.5
#: The Callgrind files of one process per arm (round 1) are kept in the run's archive, here.
CALLGRIND_DIRECTORY = "callgrind"
#: --history's cache of each release's instruction counts, in the results directory (a user may
#: delete it: the releases are measured again).
HISTORY_CACHE_DIRECTORY = "history-cache"

# --------------------------------------------------------------------------- the spec's claims
SPEC_BOUNDARY_RANGE_US = (0.35, 15.0)
SPEC_INTERNAL_GOOD_PERCENT = 5
SPEC_INTERNAL_GOOD_US = 1.0
RED_FLAG_INTERNAL_PERCENT = 100
RED_FLAG_BOUNDARY_US = 50
RED_FLAG_CV = 0.20

# --------------------------------------------------------------------------- self-check
CALIBRATION_TOLERANCE = 0.10
#: The resolution goal: a recorded operation's overhead (and a version difference) known to within
#: this fraction of the overhead (95% half-width), or RESOLUTION_FLOOR_US where the overhead is
#: under RESOLUTION_SMALL_US.
RESOLUTION_FRACTION = 0.10
RESOLUTION_FLOOR_US = 0.05
RESOLUTION_SMALL_US = 0.5


def resolution_goal_us(overhead_us: float) -> float:
    """The 95% half-width the resolution goal asks for, for an overhead of `overhead_us`."""
    if abs(overhead_us) < RESOLUTION_SMALL_US:
        return RESOLUTION_FLOOR_US
    return RESOLUTION_FRACTION * abs(overhead_us)
TIMER_FIDELITY_RATIO = 1.3

# --------------------------------------------------------------------------- production pinning
#: Pinned (the default) on a machine of two or more CPUs: the app (all its threads, Retrace's writer
#: and an agent's included) on the first CPU, the load generators (ab, hey) on the second, so that
#: the load generator does not take CPU from the app it measures, and whatever the recording or an
#: agent costs in CPU comes out of the app's own core, as on a saturated server.


def pinning(enabled: bool) -> tuple[frozenset | None, frozenset | None]:
    """(app CPUs, load CPUs), or (None, None) when not pinning or the machine has one CPU."""
    if not enabled or len(os.sched_getaffinity(0)) < 2:
        return None, None
    available = sorted(os.sched_getaffinity(0))
    return frozenset(available[:1]), frozenset(available[1:2])


#: Default per-process time limit (seconds) for every benchmark process the manager starts.
DEFAULT_PROCESS_TIMEOUT_S = 600

# --------------------------------------------------------------------------- whole programs
#: The pyperf-format export's directory in a run (retrace_bench/export_pyperf.py), one of its latest outputs.
PYPERF_EXPORT_DIRECTORY = "pyperf"
#: The disk guard: a recorded process whose trace passes this many bytes is stopped and reported
#: (--max-trace), and so is one that would leave less than DISK_FREE_MARGIN_BYTES free on the
#: scratch directory's file system (a recording can grow at 1 GB/s: RETRACE_FACTS, "Real programs").
DEFAULT_MAX_TRACE_BYTES = 1 << 30
DISK_FREE_MARGIN_BYTES = 2 << 30
#: A process that failed on a scratch file system with less than this free is said to have run out
#: of disk (its error message may not have been written either).
FULL_DISK_BYTES = 1 << 20
#: How often the guard looks at the trace (at 1 GB/s, 50 MB between looks).
TRACE_POLL_S = 0.05

#: The pyperformance benchmarks of every default run (docs/programs.md): one per kind of
#: work, each a few tenths of a second per process. The asyncio programs with an event loop
#: (async_tree*, asyncio_tcp) take a second or more per iteration: they are in `all`.
PYPERFORMANCE_SUBSET = {
    "richards": "compute (objects, calls)",
    "nbody": "compute (floats)",
    "regex_v8": "regex",
    "json_loads": "json",
    "logging": "logging",
    "sqlite_synth": "sqlite",
    "pathlib": "file system (pathlib)",
    "async_generators": "asyncio",
}
#: Benchmarks that time child processes, which Retrace does not record: their figure would be an
#: unrecorded child's, so they get a row saying so instead of a ratio.
PYPERFORMANCE_CHILD_PROCESSES = ("python_startup", "python_startup_no_site", "hg_startup", "dask", "2to3",
                                 "concurrent_imap")
#: pyperf worker settings: each value is about this long in the plain arm (loops calibrated once).
PROGRAM_VALUE_S, QUICK_PROGRAM_VALUE_S = 0.03, 0.01
PROGRAM_VALUES, PROGRAM_WARMUPS = 3, 1
#: A benchmark whose one loop takes longer than this runs one value and no warmup per process.
LONG_PROGRAM_LOOP_S = 0.2
#: The smoke run's (--quick) benchmarks.
PYPERFORMANCE_QUICK = ("richards", "json_loads")
#: Rounds of the program workload when --rounds is not given (each round is one process per
#: program and arm: a recorded process costs ~0.3 s of start-up).
DEFAULT_PROGRAM_ROUNDS, QUICK_PROGRAM_ROUNDS = 4, 2
#: A --history release measured (its virtualenv built and its processes counted): the reference
#: run, 0.2.20..0.2.30 (10 releases and plain), took about 21 minutes on the 2-core machine.
HISTORY_S_PER_RELEASE = 115
#: --rounds at most: a round of every workload takes seconds to minutes, so 1,000 is days already.
MAX_ROUNDS = 1000
#: --program-instructions: rounds per arm (each two processes under Callgrind: pyperf's --loops L
#: and 2L, or the command and an empty script).
PROGRAM_INSTRUCTION_ROUNDS, QUICK_PROGRAM_INSTRUCTION_ROUNDS = 3, 2
#: Replay of a program's round-1 recording: at most this many seconds, or 5x the recorded run.
PROGRAM_REPLAY_MIN_TIMEOUT_S = 30


#: config["order"] of runs whose arms' order came from a Williams design (arms.rotation); older
#: archives, whose arms were rotated cyclically, have none.
WILLIAMS_ORDER = "williams"
