"""Instructions per call, counted by Valgrind's Callgrind (docs/instructions.md).

Wall time on a shared 2-core machine cannot resolve a few-percent change in a recorded call; an
instruction count can: the same code with the same inputs executes the same instructions, whatever
else the machine does. Each benchmark process runs under

    valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes

and benchlib --instructions opens and closes its windows with Callgrind's monitor commands "zero"
and "dump" (every thread), through a small C extension built here once (native/). A recorded window
closes only when Retrace's trace has stopped growing, so the writer's deferred work is inside it.
The manager reads each window's dump files: thread 1 (the caller, which ran the loop) and every
other thread (Retrace's writer and flusher, a test's own threads).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from retrace_bench import facts
from retrace_bench.arms import Arm, cache_dir

NATIVE = Path(__file__).resolve().parent / "native" / "callgrind_windows.c"
MODULE = "_retrace_bench_callgrind"
VALGRIND_HEADER = Path("/usr/include/valgrind/callgrind.h")
#: The Debian package that brings valgrind and its client-request headers.
PACKAGE = "valgrind"


class InstructionError(Exception):
    """Instructions cannot be counted here; the message says why and what to install."""


def missing() -> str | None:
    """Why instructions cannot be counted on this machine, or None."""
    if shutil.which("valgrind") is None:
        return f"valgrind not found (apt-get install {PACKAGE})"
    if not VALGRIND_HEADER.is_file():
        return f"{VALGRIND_HEADER} not found (apt-get install {PACKAGE})"
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        return "no C compiler (cc) to build the suite's Callgrind extension (apt-get install gcc)"
    return None


def build_extension(python: str = sys.executable, progress=print) -> Path:
    """The directory holding the suite's Callgrind extension for this interpreter's ABI, built once
    into the cache (keyed by the source, the compiler's target and the Python headers)."""
    reason = missing()
    if reason:
        raise InstructionError(reason)
    include, suffix = (subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['include']); "
                                       "print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                                      capture_output=True, text=True, timeout=60).stdout.split() + ["", ""])[:2]
    if not include or not Path(include, "Python.h").is_file():
        raise InstructionError(f"no Python.h for {python} (install the Python development headers)")
    key = hashlib.sha256(NATIVE.read_bytes() + f"{include}\n{suffix}".encode()).hexdigest()[:12]
    directory = cache_dir() / f"callgrind-ext-{key}"
    target = directory / f"{MODULE}{suffix}"
    if target.is_file():
        return directory
    progress(f"[setup] building the Callgrind extension in {directory} (once)")
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{target.name}.{os.getpid()}"
    compiler = shutil.which("cc") or shutil.which("gcc")
    result = subprocess.run([compiler, "-O2", "-shared", "-fPIC", f"-I{include}", str(NATIVE), "-o", str(tmp)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        said = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise InstructionError(f"the Callgrind extension did not build: {said}")
    os.replace(tmp, target)                     # another run building it too gets the same file
    return directory


def valgrind_prefix(out_file: Path, whole: bool = False) -> list[str]:
    """Callgrind's command line: counting only in the windows the extension opens, or (`whole`)
    the whole process, each thread in its own dump file."""
    return ["valgrind", "--tool=callgrind", f"--instr-atstart={'yes' if whole else 'no'}", "--separate-threads=yes",
            "--dump-line=no", "--trace-children=no", f"--callgrind-out-file={out_file}.%p", "--log-file=/dev/null"]


def process_counts(out_file: Path) -> tuple[int, int] | str:
    """(caller's instructions, every other thread's) of a whole process's dump files, or why none."""
    caller = others = 0
    found = False
    for path in out_file.parent.glob(f"{out_file.name}.*"):
        _, thread, ir = read_dump(path)
        found = True
        if thread == 1 or thread is None:
            caller += ir
        else:
            others += ir
    return (caller, others) if found else "Callgrind wrote no dump (the process did not run under it)"


def counted_command(arm: Arm, script: Path, args: list[str], recording: Path | None, out_file: Path) -> list[str]:
    """A benchmark process under Callgrind; a recorded arm's process is launched recorded directly
    (`python -m retracesoftware --recording R --`), since a re-executed child would run uncounted."""
    if arm.recorded:
        return [*valgrind_prefix(out_file), arm.python, "-m", "retracesoftware", "--recording", str(recording),
                "--", str(script), *args]
    return [*valgrind_prefix(out_file), arm.python, str(script), *args]


def counted_env(env: dict, extension: Path, script: Path) -> dict:
    """The extension's directory, a fixed hash seed, and the script's and the suite's directories on
    the path (`python -m retracesoftware` puts neither there)."""
    suite = str(Path(__file__).resolve().parent.parent)
    return {**env, facts.CALLGRIND_EXTENSION_VARIABLE: str(extension), "PYTHONHASHSEED": facts.INSTRUCTION_HASH_SEED,
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(filter(None, [str(script.parent), suite,
                                                                       env.get("PYTHONPATH")])))}


TRIGGER_RE = re.compile(r"^desc: Trigger: dump (\S+)")
THREAD_RE = re.compile(r"^thread: (\d+)")
SUMMARY_RE = re.compile(r"^summary: (\d+)")


def read_dump(path: Path) -> tuple[str | None, int | None, int]:
    """(window name, thread number, instructions) of one Callgrind dump file (its header only)."""
    name = thread = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if m := TRIGGER_RE.match(line):
                name = m.group(1)
            elif m := THREAD_RE.match(line):
                thread = int(m.group(1))
            elif m := SUMMARY_RE.match(line):
                return name, thread, int(m.group(1))
            elif line.startswith(("fl=", "fn=", "ob=")):
                break
    return name, thread, 0


def window_counts(out_file: Path) -> dict[str, tuple[int, int]]:
    """Window name -> (caller's instructions, every other thread's), from the dump files of a process."""
    counts: dict[str, list[int]] = {}
    for path in out_file.parent.glob(f"{out_file.name}.*"):
        name, thread, ir = read_dump(path)
        if name is None:
            continue                            # the dump at the process's end
        pair = counts.setdefault(name, [0, 0])
        pair[0 if thread == 1 else 1] += ir
    return {name: (c, o) for name, (c, o) in counts.items()}


def fill_windows(record, out_file: Path) -> str | None:
    """Put each window's counts into the record; why not, when a window has no dump."""
    counts = window_counts(out_file)
    for test in record.tests:
        for window in test.windows or []:
            if window.name not in counts:
                return f"Callgrind wrote no dump for window {window.name}"
            window.caller, window.others = counts[window.name]
            if window.capped:
                return (f"window {window.name}: Retrace's trace still grew after "
                        f"{facts.INSTRUCTION_DRAIN_CAP_S:g} s")
    return None


def remove_dumps(out_file: Path, keep: Path | None = None) -> None:
    """The process's dump files removed, or moved into `keep` (made private: they name the
    process's command line and paths)."""
    for path in out_file.parent.glob(f"{out_file.name}.*"):
        if keep is not None:
            keep.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.move(path, keep / path.name)
        else:
            path.unlink(missing_ok=True)


def run_counted(runner, arm: Arm, script: str, args: list[str], extension: Path, keep: Path | None = None):
    """One process of `script` in `arm` under Callgrind (ops.run.Runner.run_process), its windows'
    counts filled in from its dump files, which are then removed; with `keep`, its profile per test
    (profiles.py: test number -> side -> function -> [inclusive, self] per call) is read from them
    and they are moved there. Returns (result, profile or None)."""
    from retrace_bench import profiles
    from retrace_bench.results import ROOT
    out_file = runner.next_name(f"cg-{Path(script).stem}")
    path = ROOT / script
    result = runner.run_process(arm, script, lambda recording: counted_command(arm, path, args, recording, out_file),
                                lambda env: counted_env(env, extension, path))
    profile = None
    if result.record is not None and not result.failure:
        result.failure = fill_windows(result.record, out_file)
        if keep is not None and not result.failure:
            windows = profiles.window_functions(out_file, read_dump)
            profile = {str(test.number): found for test in result.record.tests
                       if (found := profiles.test_profile(test, windows)) is not None}
    remove_dumps(out_file, keep if profile else None)
    return result, profile


def run_instructions(runner, scripts: list[str], arms: list[Arm], rounds: int, windows: int, data,
                     progress=print, profile_dir: Path | None = None, target_percent: float | None = None) -> None:
    """Every benchmark script in every arm under Callgrind, `rounds` processes per arm in the order
    of the Williams design, worker_count() at a time (they time nothing: a count does not
    depend on what runs beside it); each process's record (with its windows' counts) goes to the
    benchmark's `instructions` list. An arm whose process fails gets an `instruction_failures` entry.
    With `profile_dir`, each arm's round-1 process also gives the benchmark's `functions` (its
    profile per test), and its dump files are kept in profile_dir/<script>/<arm>/.
    With `target_percent` and two or more recorded arms, version comparisons whose caller
    half-width misses it get more processes (extend_to_target)."""
    from retrace_bench.arms import rotation
    extension = build_extension(progress=progress)
    by_name = {b.name: b for b in data.benchmarks}
    jobs = [(round_number, position, script, arm, [through_argument()]) for round_number in range(1, rounds + 1)
            for script in scripts
            for position, arm in enumerate(rotation(arms, round_number), 1)
            if arm.label not in by_name[facts.result_name(script)].failures]
    started = time.monotonic()
    progress(f"[instructions] {len(jobs)} processes under Callgrind, {worker_count()} at a time")
    seconds = run_jobs(runner, jobs, rounds, windows, extension, by_name, progress, profile_dir)
    workers = worker_count()
    extended = {}
    if sum(arm.recorded for arm in arms) < 2:      # no comparison between versions to aim at
        target_percent = None
    if target_percent is not None:
        extend_to_target(runner, data, scripts, arms, rounds, windows, extension, target_percent, extended, progress,
                         started + facts.INSTRUCTION_SECTION_BUDGET_S, seconds)
    for bench in data.benchmarks:                 # a failed arm's other processes are no figure
        bench.instructions = [p for p in bench.instructions if p.arm not in bench.instruction_failures]
        bench.functions = {a: f for a, f in bench.functions.items() if a not in bench.instruction_failures}
    data.config["instructions"] = {"rounds": rounds, "windows": windows, "seconds": time.monotonic() - started,
                                   "calls_divisor": facts.INSTRUCTION_CALLS_DIVISOR,
                                   "quiet_s": facts.INSTRUCTION_QUIET_S, "workers": workers,
                                   "valgrind": valgrind_version(),
                                   **({"target_percent": target_percent, "extended": extended}
                                      if target_percent is not None else {})}


def extend_to_target(runner, data, scripts: list[str], arms: list[Arm], rounds: int, windows: int, extension: Path,
                     target_percent: float, extended: dict, progress, deadline: float, seconds: dict) -> None:
    """More processes of the recorded arms for the tests whose version comparisons miss the caller
    half-width `target_percent`, as many as their spread asks for (processes_for_target), in up to
    facts.INSTRUCTION_TARGET_STEPS steps, at most facts.INSTRUCTION_MAX_ROUNDS per arm, and as many
    as fit before `deadline` (time.monotonic(); `seconds`: script -> a recorded process's measured
    durations). An extra process runs its script up to the last test that needs it, with an argument
    list as long as the first processes' (through_argument): each such test is counted as in a whole
    process. `extended` gets, per benchmark, the tests, the processes per arm reached, and whether
    time cut them short."""
    from retrace_bench.arms import rotation
    from retrace_bench.ops import instruction_analysis
    most = max(facts.INSTRUCTION_MAX_ROUNDS, rounds)
    by_name = {b.name: b for b in data.benchmarks}
    scripts_of = {facts.result_name(s): s for s in scripts}
    done = {name: rounds for name in scripts_of}
    workers = worker_count()
    for _ in range(facts.INSTRUCTION_TARGET_STEPS):
        so_far = instruction_analysis.analyse(data)
        needed = instruction_analysis.processes_for_target(so_far, target_percent, most) if so_far else {}
        wanted = {name: max(tests.values()) for name, tests in needed.items() if max(tests.values()) > done[name]}
        if not wanted:
            return
        recorded = [a for a in arms if a.recorded]
        cost = {name: len(recorded) * statistics.median(seconds.get(scripts_of[name]) or [60.0]) for name in wanted}
        extra = max(wanted[name] - done[name] for name in wanted)
        while extra and sum(min(extra, wanted[n] - done[n]) * cost[n] for n in wanted) / workers \
                > deadline - time.monotonic():
            extra -= 1
        jobs = []
        for name, total in wanted.items():
            entry = extended.setdefault(name, {"tests": [], "processes": rounds, "cut_by_time": False})
            entry["tests"] = sorted(set(entry["tests"]) | set(needed[name]))
            reach = min(total, done[name] + extra)
            entry["cut_by_time"] = reach < total
            limit = [through_argument(entry["tests"][-1])]
            jobs += [(round_number, position, scripts_of[name], arm, limit)
                     for round_number in range(done[name] + 1, reach + 1)
                     for position, arm in enumerate((a for a in rotation(arms, round_number) if a.recorded), 1)
                     if arm.label not in by_name[name].failures and arm.label not in by_name[name].instruction_failures]
            done[name] = entry["processes"] = reach
        if not jobs:
            progress(f"[instructions] caller half-widths over ±{target_percent:g}% between versions, and no time "
                     f"left for more processes ({facts.INSTRUCTION_SECTION_BUDGET_S:g} s for the section)")
            return
        named = "; ".join(f"{name} test(s) {', '.join(map(str, sorted(needed[name])))} to {done[name]}"
                          + (" (time cut it short)" if extended[name]["cut_by_time"] else "") for name in wanted)
        progress(f"[instructions] caller half-widths over ±{target_percent:g}% between versions: {len(jobs)} more "
                 f"processes of the recorded arms, each running its script up to the last of those tests "
                 f"({named} processes per arm)")
        for script, taken in run_jobs(runner, jobs, max(done.values()), windows, extension, by_name, progress,
                                      None).items():
            seconds.setdefault(script, []).extend(taken)


def worker_count() -> int:
    """How many Callgrind processes run at once: facts.INSTRUCTION_WORKERS, at most one per CPU."""
    return max(1, min(facts.INSTRUCTION_WORKERS, os.cpu_count() or 1))


def through_argument(last: int | None = None) -> str:
    """The argument that limits a counted process to tests 1..`last` (every test when None), in one
    fixed width for every process: a recorded call's count moves with the length of the process's
    arguments (sqlite's caller: 65,616 per call with one argument list, 73,030 with one 4 bytes
    shorter, 66,022 with one of the same length; 4 processes each, docs/instructions.md)."""
    number = facts.INSTRUCTION_THROUGH_ALL if last is None else last
    return f"--through={number:0{len(str(facts.INSTRUCTION_THROUGH_ALL))}d}"


def run_jobs(runner, jobs: list, rounds: int, windows: int, extension: Path, by_name: dict, progress,
             profile_dir: Path | None) -> dict[str, list[float]]:
    """Run (round, position, script, arm, extra args) jobs under Callgrind, worker_count() at a
    time, each record into its benchmark's `instructions`; returns script -> the seconds its
    recorded processes took."""
    from concurrent.futures import ThreadPoolExecutor
    from retrace_bench.ops.run import ProcessEntry

    def one(job):
        round_number, position, script, arm, extra = job
        t0 = time.monotonic()
        keep = (profile_dir / Path(script).stem / arm.file_label) if profile_dir and round_number == 1 else None
        result, profile = run_counted(runner, arm, script, ["--instructions", "--windows", str(windows), *extra], extension,
                                      keep)
        return job, result, profile, time.monotonic() - t0
    workers = worker_count()
    durations: dict[str, list[float]] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for (round_number, position, script, arm, _), result, profile, seconds in pool.map(one, jobs):
            if arm.recorded:
                durations.setdefault(script, []).append(seconds)
            bench = by_name[facts.result_name(script)]
            head = f"[instructions {round_number}/{rounds}] {script:<30} {arm.label:<18} "
            if result.failure:
                bench.instruction_failures.setdefault(arm.label, f"round {round_number}: {result.failure}")
                progress(f"{head}FAILED ({result.failure})")
                continue
            if profile:
                bench.functions[arm.label] = profile
            bench.instructions.append(ProcessEntry(arm.label, round_number, position, result.record.to_json(),
                                                   result.trace_bytes))
            progress(f"{head}done in {seconds:.1f}s" + (f", trace {result.trace_bytes // 1024} KB verified"
                                                        if result.trace_bytes else ""))
    return durations


def valgrind_version() -> str:
    try:
        return subprocess.run(["valgrind", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
