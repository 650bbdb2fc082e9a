"""Instructions per call of the per-operation scripts: every script in every arm under Callgrind
(instructions.callgrind), processes in the order of the Williams design, two at a time, and more
processes of the recorded arms where a version comparison misses its target (docs/instructions.md)."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from retrace_bench import facts
from retrace_bench.arms import Arm, rotation
from retrace_bench.instructions import analysis as instruction_analysis
from retrace_bench.instructions import profiles
from retrace_bench.instructions.callgrind import (build_extension, counted_command, counted_env, fill_windows,
                                                  read_dump, remove_dumps, valgrind_version, worker_count)
from retrace_bench.ops.run import ProcessEntry
from retrace_bench.results import ROOT


def run_counted(runner, arm: Arm, script: str, args: list[str], extension: Path, keep: Path | None = None):
    """One process of `script` in `arm` under Callgrind (ops.run.Runner.run_process), its windows'
    counts filled in from its dump files, which are then removed; with `keep`, its profile per test
    (profiles.py: test number -> side -> function -> [inclusive, self] per call) is read from them
    and they are moved there. Returns (result, profile or None)."""
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
    extension = build_extension(progress=progress)
    by_name = {b.name: b for b in data.benchmarks}
    jobs = [(round_number, position, script, arm, [through_argument()]) for round_number in range(1, rounds + 1)
            for script in scripts
            for position, arm in enumerate(rotation(arms, round_number), 1)
            if arm.label not in by_name[facts.result_name(script)].failures
            and round_number <= facts.instruction_rounds_of(script, rounds)]
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
