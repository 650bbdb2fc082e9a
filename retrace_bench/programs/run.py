"""The program workload: a whole command (a pyperformance benchmark in pyperf's worker mode, or the
user's own --program) run once per arm per round, interleaved with the others by the one
rounds loop (rounds.Rounds).

Per process: wall time, CPU of all its threads until it exited (Retrace's writer drains before a
recorded process exits, so the recording's whole CPU is in it), peak RSS, exit status, a digest of
its output, its trace size (verified to have grown with the work), and for pyperformance pyperf's
own values (seconds per iteration). A recorded process is watched by the disk guard.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shlex
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from retrace_bench import facts, procs, services
from retrace_bench.arms import Arm, rotation
from retrace_bench.commands import CommandError, is_python, recorded_command, split_command
from retrace_bench.instructions import callgrind
from retrace_bench.instructions.callgrind import worker_count
from retrace_bench.procs import read_output as read
from retrace_bench.programs.data import Program, ProgramData, ProgramRun, Settings
from retrace_bench.recordings import empty_recording_size, file_part
from retrace_bench.replay import DIFFERS, FAILS, IDENTICAL, replay
from retrace_bench.rounds import Rounds, RunError

PYPERFORMANCE, COMMAND = "pyperformance", "command"


class TraceGuard:
    """The disk guard of one recorded process: the reason to stop it once its trace passes the
    limit, or the file system would keep less than facts.DISK_FREE_MARGIN_BYTES free."""

    def __init__(self, trace: Path, limit_bytes: int):
        self.trace, self.limit = trace, limit_bytes
        self.started = time.monotonic()

    def __call__(self, process=None) -> str | None:
        try:
            size = self.trace.stat().st_size
        except OSError:
            return None
        free = shutil.disk_usage(self.trace.parent).free
        if size <= self.limit and free >= facts.DISK_FREE_MARGIN_BYTES:
            return None
        rate = size / 1e6 / max(time.monotonic() - self.started, 1e-3)
        why = ("" if size > self.limit else
               f" with {free / 1e9:.1f} GB left free on the disk (margin {facts.DISK_FREE_MARGIN_BYTES / 1e9:.1f} GB)")
        return f"stopped: trace grew at {rate:,.0f} MB/s, {size / 1e9:.1f} GB{why}"


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class ProgramRunner:
    """Runs program processes of the arms in a private scratch directory."""

    def __init__(self, scratch: Path, timeout: float, max_trace: int, empty_trace):
        self.scratch, self.timeout, self.max_trace = scratch, timeout, max_trace
        self.empty_trace = empty_trace        # python -> bytes of an empty script's recording
        self.numbers = itertools.count(1)     # next() is atomic: two counting workers share the runner

    def argv(self, program: Program, settings: Settings | None, python: str, output: Path,
             variables: dict | None = None) -> list[str]:
        if program.kind == PYPERFORMANCE:
            s = settings or Settings()
            return [python, program.script, "--worker", "--loops", str(s.loops), "--warmups", str(s.warmups),
                    "--values", str(s.values), "--output", str(output), *program.extra_args]
        return split_command(program.template, python, variables=variables)

    def run(self, arm: Arm, program: Program, python: str, round_: int, position: int,
            settings: Settings | None = None, keep_as: Path | None = None, prefix: list[str] | None = None,
            extra_env: dict | None = None) -> tuple[ProgramRun, list | None]:
        """One process; its figures, and pyperf's benchmarks (JSON) for a pyperformance benchmark.
        `prefix`: a command the process runs under (Callgrind), with `extra_env` in its environment.
        A command with --services gets fresh servers for this process alone."""
        try:
            with services.for_each_process(program.services) as variables:
                return self.run_with(arm, program, python, round_, position, settings, keep_as, prefix,
                                     {**(extra_env or {}), **variables})
        except services.ServiceError as error:
            return ProgramRun(arm.label, round_, position, failure=f"its services: {error}"), None

    def run_with(self, arm: Arm, program: Program, python: str, round_: int, position: int,
                 settings: Settings | None, keep_as: Path | None, prefix: list[str] | None,
                 extra_env: dict) -> tuple[ProgramRun, list | None]:
        base = self.scratch / f"p{next(self.numbers):05d}"
        recording = base.with_suffix(".retrace") if arm.recorded else None
        output = base.with_suffix(".pyperf.json")
        # A kept recording is replayed with the same TMPDIR, recreated empty.
        tmp = keep_as.with_suffix(".tmp") if keep_as is not None else base.with_suffix(".tmp")
        tmp.mkdir(mode=0o700)
        env = Arm(arm.label, "plain", python, extra_env=arm.extra_env).env(os.environ)
        env["TMPDIR"] = str(tmp)           # what the program makes in temp stays in scratch
        argv, env, _ = recorded_command(self.argv(program, settings, python, output, extra_env), python, env, recording)
        argv, env = [*(prefix or []), *argv], {**env, **(extra_env or {})}
        cwd = program.cwd or str(self.scratch)
        run = ProgramRun(arm.label, round_, position)
        guard = TraceGuard(recording, self.max_trace) if recording else None
        out, err = base.with_suffix(".out"), base.with_suffix(".err")
        try:
            try:
                outcome, usage, stopped = procs.run_watched(argv, env, self.timeout, out, err, guard, cwd,
                                                                    own_usage=True)
            except OSError as error:            # the program or its directory is gone
                run.failure = f"cannot start: {error.strerror or error}: {error.filename or argv[0]}"
                return run, None
            run.exit_status, run.stopped = outcome.returncode, stopped
            if usage:
                run.wall_s, run.cpu_s, run.peak_rss_kb = outcome.seconds, usage.cpu_s, usage.peak_rss_kb
            run.output_sha256 = digest(out)
            stderr = read(err)
            if recording is not None:
                run.trace_bytes = recording.stat().st_size if recording.is_file() else None
            if stopped:
                return run, None
            if not outcome.ok:
                run.failure = outcome.describe(stderr) + procs.full_disk_note(self.scratch)
                return run, None
            refused = next((line for line in stderr.splitlines() if line.startswith(facts.LAUNCHER_REFUSAL)), None)
            if recording is not None and refused:       # the launcher refused the command, and exited 0
                run.not_recorded = f"Retrace's launcher refused the command: {refused.strip()}"
            elif recording is not None:
                run.not_recorded, run.trace_note = self.trace_problem(recording, python, program)
            benches = None
            if program.kind == PYPERFORMANCE and not run.failure:
                benches, run.values, problem = read_pyperf(output)
                run.failure = run.failure or problem
            if keep_as is not None and recording is not None and run.figure_s is not None:
                recording.rename(keep_as)
                out.rename(keep_as.with_suffix(".out"))      # what replay must print again
            return run, benches
        finally:
            for path in (recording, output, out, err):
                if path is not None:
                    path.unlink(missing_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)

    def trace_problem(self, recording: Path, python: str, program: Program) -> tuple[str | None, str | None]:
        """(why the process did not record, or None; a note on a recording that holds nothing).

        A pyperformance worker's trace must grow past an empty script's (pyperf's timer reads are
        recorded: facts.trace_problem). A command may do nothing Retrace records (pure computation):
        its trace must be a recording at least half an empty script's size, and is noted when it
        is no bigger than that."""
        if not recording.is_file():
            hook = not (program.kind == PYPERFORMANCE or is_python(split_command(program.template, python), python))
            return (f"no trace at {recording.name}: the process did not record"
                    + (" (a command that does not start with {python} records only through Retrace's env hook: "
                       "`python -m retracesoftware enable-hook` in the Python it runs)" if hook else "")), None
        size, empty = recording.stat().st_size, self.empty_trace(python)
        if program.kind == PYPERFORMANCE:
            return facts.trace_problem(size, empty), None
        if size < empty // 2:
            return f"the trace ({size} bytes) is not a recording (an empty script's is {empty})", None
        note = facts.trace_problem(size, empty)
        return None, ("the trace holds nothing beyond start-up: the program made no call Retrace records"
                      if note else None)


def read_pyperf(output: Path) -> tuple[list[dict] | None, list[float] | None, str | None]:
    """pyperf's JSON of one worker: (its benchmarks, each benchmark's mean time per iteration, or
    why there are none). A script may hold several pyperf benchmarks (logging: silent, simple,
    format); pyperformance reports each, and the program's figure is their geometric mean."""
    try:
        suite = json.loads(output.read_text(encoding="utf-8"))
        benches = suite["benchmarks"]
        means = []
        for bench in benches:
            values = [v for r in bench["runs"] for v in r.get("values", [])]
            if not values:
                return None, None, "pyperf wrote no values"
            means.append(sum(values) / len(values))
            # Metadata common to the suite's benchmarks is kept at its top: put it back on each.
            bench["metadata"] = {**suite.get("metadata", {}), **bench.get("metadata", {})}
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None, None, "pyperf wrote no result"
    if not means:
        return None, None, "pyperf wrote no result"
    return benches, means, None



# --------------------------------------------------------------------------- the workload's rounds

def empty_trace_sizes(scratch: Path, timeout: float):
    """python -> the size of an empty script's recording by that interpreter's Retrace (measured
    once per interpreter, as the per-operation runner does: recordings.empty_recording_size)."""
    sizes: dict[str, int] = {}

    def size(python: str) -> int:
        if python not in sizes:
            try:
                sizes[python] = empty_recording_size(python, scratch / f"empty{len(sizes)}", timeout)
            except RunError as error:
                raise CommandError(str(error)) from None
        return sizes[python]
    return size


def calibrate(runner: ProgramRunner, plain: Arm, program: Program, python: str, quick: bool) -> Settings | str:
    """pyperf's loops for a value of about facts.PROGRAM_VALUE_S in the plain arm (one process with
    one loop); a benchmark whose one loop is already long gets one value and no warmup. Returns the
    settings, or why the benchmark fails plainly."""
    run, benches = runner.run(plain, program, python, 0, 0, Settings(1, 0, 1))
    if run.figure_s is None:
        return run.failure or run.stopped or "no figure"
    # pyperf's values are per inner loop: one outer loop takes value x inner_loops.
    loop_s = max(mean * b.get("metadata", {}).get("inner_loops", 1) for mean, b in zip(run.values, benches))
    target = facts.QUICK_PROGRAM_VALUE_S if quick else facts.PROGRAM_VALUE_S
    loops = max(1, round(target / max(loop_s, 1e-9)))
    if loop_s * loops > facts.LONG_PROGRAM_LOOP_S:       # one loop is already long: fewer values
        return Settings(loops, 0, 1)
    if loop_s * loops > 2 * target or quick:
        return Settings(loops, 1, 2 if not quick else 1)
    return Settings(loops)


def run_programs(programs: list[Program], arms: list[Arm], rounds: int, scratch: Path, timeout: float,
                 max_trace: int, quick: bool, deadline: float | None = None, python_for=None,
                 progress=print, instruction_rounds: int = 0, keep_dir: Path | None = None) -> list[ProgramData]:
    """Every program in every arm over interleaved rounds (rounds.Rounds), then (with
    `instruction_rounds`) their instruction counts, then a replay of round 1's recording of each
    (kept in `keep_dir` afterwards, 0600, with --keep-recordings).
    `python_for(program, arm)`: the interpreter (default: the arm's)."""
    python_for = python_for or (lambda program, arm: arm.python)
    runner = ProgramRunner(scratch, timeout, max_trace, empty_trace_sizes(scratch, timeout))
    data, ready = [], []
    plain = arms[0]
    for program in programs:
        item = ProgramData(program.name, program.kind, program.category, unavailable=program.unavailable)
        data.append(item)
        if program.unavailable:
            progress(f"[programs] {program.name}: not run ({program.unavailable})")
            continue
        try:
            pythons = {arm.label: python_for(program, arm) for arm in arms}
        except ValueError as error:
            item.setup_failure = str(error)
            progress(f"[programs] {program.name}: FAILED ({error})")
            continue
        settings = None
        if program.kind == PYPERFORMANCE:
            found = calibrate(runner, plain, program, pythons[plain.label], quick)
            if isinstance(found, str):
                item.plain_failure = found
                progress(f"[programs] {program.name}: fails plainly ({found})")
                continue
            settings = found
            item.settings = asdict(settings)
        else:
            for arm in arms:                   # one unmeasured process per arm: caches, imports
                runner.run(arm, program, pythons[arm.label], 0, 0)
        ready.append((program, item, pythons, settings))
    failed: dict[tuple[str, str], bool] = {}
    schedule = Rounds(arms, rounds, deadline, progress)
    for round_number, order in schedule:
        for program, item, pythons, settings in ready:
            for position, arm in enumerate(order, 1):
                if failed.get((program.name, arm.label)):
                    continue
                keep = scratch / f"replay.{file_part(program.name)}.{arm.file_label}.retrace" \
                    if arm.recorded and round_number == 1 else None
                progress(f"[programs round {round_number}/{schedule.planned}] {program.name:<24} {arm.label:<18} ",
                         end="")
                run, benches = runner.run(arm, program, pythons[arm.label], round_number, position, settings, keep)
                item.runs.append(run)
                if benches:
                    item.pyperf.setdefault(arm.label, []).extend(benches)
                if run.figure_s is None:
                    failed[(program.name, arm.label)] = True
                    progress(run.stopped or (f"FAILED ({run.failure})" if run.failure else
                                             f"NOT RECORDED ({run.not_recorded})"))
                    continue
                progress(f"done in {run.wall_s:.1f}s"
                         + (f", trace {run.trace_bytes / 1e6:.1f} MB verified" if run.trace_bytes else ""))
    if instruction_rounds:
        for program, item, _, _ in ready:
            if any(failed.get((program.name, a.label)) for a in arms):
                item.instructions_skipped = "it failed in the timed rounds"
        count_programs(runner, [r for r in ready if not r[1].instructions_skipped], arms, instruction_rounds, progress)
    for program, item, pythons, settings in ready:
        for arm in (a for a in arms if a.recorded):
            recording = scratch / f"replay.{file_part(program.name)}.{arm.file_label}.retrace"
            if recording.is_file():
                item.replay[arm.label] = replay_program(pythons[arm.label], recording, item, arm, scratch,
                                                        timeout, progress, keep_dir)
    return data


@dataclass
class CountedRun:
    """One round's instruction count of a program in an arm (Callgrind, the whole process): per
    loop for a pyperformance benchmark (pyperf's --loops L and 2L: the difference / L), beyond
    start-up for a command (the command less an empty script run the same way)."""
    arm: str
    round: int
    caller: float | None = None
    others: float | None = None
    failure: str | None = None


def count_program(runner: ProgramRunner, arm: Arm, program: Program, python: str, settings: Settings | None,
                  round_: int) -> CountedRun:
    """One round of a program's instruction count in an arm (two processes under Callgrind)."""
    counted = CountedRun(arm.label, round_)

    def whole(prog: Program, s: Settings | None) -> tuple[int, int] | str:
        out_file = runner.scratch / f"cg-program-{next(runner.numbers):05d}"
        try:
            run, _ = runner.run(arm, prog, python, round_, 0, s, prefix=callgrind.valgrind_prefix(out_file, True),
                                extra_env={"PYTHONHASHSEED": facts.INSTRUCTION_HASH_SEED})
            problem = run.stopped or run.failure or run.not_recorded
            return problem if problem else callgrind.process_counts(out_file)
        finally:
            callgrind.remove_dumps(out_file)
    if program.kind == PYPERFORMANCE:
        loops = (settings or Settings()).loops
        first, second = whole(program, Settings(loops, 0, 1)), whole(program, Settings(2 * loops, 0, 1))
        divisor = loops
    else:
        empty = runner.scratch / "empty_program.py"
        empty.touch()
        first = whole(Program("start-up", COMMAND, template="{python} " + shlex.quote(str(empty))), None)
        second = whole(program, None)
        divisor = 1
    problem = next((x for x in (first, second) if isinstance(x, str)), None)
    if problem:
        counted.failure = problem
    else:
        counted.caller = (second[0] - first[0]) / divisor
        counted.others = (second[1] - first[1]) / divisor
    return counted


def count_programs(runner: ProgramRunner, ready: list, arms: list[Arm], rounds: int, progress=print) -> None:
    """--program-instructions: every measured program in every arm, `rounds` times, under Callgrind,
    worker_count() processes at a time; each item's `instructions` list gets the rounds,
    or `instructions_skipped` says why it has none (a command not run by the arm's Python)."""
    jobs = []
    for program, item, pythons, settings in ready:
        if program.kind == COMMAND and not is_python(split_command(program.template, pythons[arms[0].label]),
                                                      pythons[arms[0].label]):
            item.instructions_skipped = "not run by {python}: Callgrind would count the command, not the Python it starts"
            continue
        jobs += [(program, item, pythons, settings, arm, n) for n in range(1, rounds + 1)
                 for arm in rotation(arms, n)]
    progress(f"[program instructions] {len(jobs)} rounds under Callgrind (2 processes each), "
             f"{worker_count()} at a time")

    def one(job):
        program, item, pythons, settings, arm, n = job
        t0 = time.monotonic()
        return job, count_program(runner, arm, program, pythons[arm.label], settings, n), time.monotonic() - t0
    with ThreadPoolExecutor(max_workers=worker_count()) as pool:
        for (program, item, _, _, arm, n), counted, seconds in pool.map(one, jobs):
            item.instructions.append(asdict(counted))
            progress(f"[program instructions {n}/{rounds}] {program.name:<24} {arm.label:<18} "
                     + (f"FAILED ({counted.failure})" if counted.failure else
                        f"{counted.caller + counted.others:,.0f} in {seconds:.0f}s"))


def replay_program(python: str, recording: Path, item: ProgramData, arm: Arm, scratch: Path, timeout: float,
                   progress=print, keep_dir: Path | None = None) -> dict:
    """Round 1's recording replayed with the package's tool: identical (the same output as the
    recorded run), differs, or fails; and how long the replay took against the recorded run. The
    recording is then deleted, or moved into `keep_dir` (0600) as program.<name>.<arm>.round1.retrace."""
    recorded = next(r for r in item.runs if r.arm == arm.label and r.round == 1)
    limit = min(timeout, max(facts.PROGRAM_REPLAY_MIN_TIMEOUT_S, 5 * (recorded.wall_s or 0)))
    recorded_text = read(recording.with_suffix(".out"))
    started = time.monotonic()
    try:
        tmp = recording.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(mode=0o700)
        replayed = replay(python, recording, scratch, limit, f"replay-{file_part(item.name)}", {"TMPDIR": str(tmp)})
    finally:
        shutil.rmtree(recording.with_suffix(".tmp"), ignore_errors=True)
        if keep_dir is not None and recording.is_file():
            kept = keep_dir / f"program.{file_part(item.name)}.{arm.file_label}.round1.retrace"
            shutil.move(recording, kept)
            kept.chmod(0o600)
        recording.unlink(missing_ok=True)
        recording.with_suffix(".out").unlink(missing_ok=True)
    seconds = time.monotonic() - started
    if not replayed.ok:
        verdict, detail = FAILS, replayed.problem
    elif replayed.stdout == recorded_text:
        verdict, detail = IDENTICAL, None
    else:
        verdict, detail = DIFFERS, first_difference(recorded_text, replayed.stdout)
    progress(f"[programs replay] {item.name} {arm.label}: {verdict}"
             + (f" ({detail})" if detail else "") + f", {seconds:.1f}s against {recorded.wall_s:.1f}s recorded")
    return {"verdict": verdict, "detail": detail, "seconds": seconds, "recorded_s": recorded.wall_s}


def first_difference(a: str, b: str) -> str:
    for number, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1):
        if x != y:
            return f"line {number}: recorded {x[:80]!r}, replayed {y[:80]!r}"
    return f"recorded {len(a.splitlines())} lines, replayed {len(b.splitlines())}"
