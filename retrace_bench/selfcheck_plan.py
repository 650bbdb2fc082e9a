"""The self-check's plan (./run_all_benchmarks.sh --self-check): the runs it makes, each a known
answer (two identical arms, an injected cost, a planted difference, the harness's timer against
timeit), which retrace_bench/selfcheck.py then judges. Nothing is kept."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from retrace_bench import arms as arms_mod
from retrace_bench import facts, procs, selfcheck
from retrace_bench.instructions import callgrind
from retrace_bench.ops import instruction_run
from retrace_bench.ops.run import BenchmarkData, Plan, RunData, Runner, run_rounds
from retrace_bench.production import load
from retrace_bench.programs import pyperformance
from retrace_bench.programs import run as programs_mod
from retrace_bench.results import ROOT
from retrace_bench.rounds import RunError, say


def self_check(args, keep=None) -> int:
    """A/A (plain and recorded), calibration (latency and CPU), timer fidelity; nothing kept.
    `keep`: a function given the raw data before it is judged (the tests' data is made that way)."""
    bench_args = ["--quick"] if args.quick else []
    pinned = arms_mod.pinned_version()
    plain_aa = arms_mod.make_arms(plain_copies=2)[:2]
    recorded_aa = arms_mod.make_arms([pinned, pinned])[1:]      # two recorded arms, no plain
    calibration = arms_mod.make_arms()
    arms_mod.check_releases(calibration)        # the release the self-check judges is the one it runs
    sensitivity = calibration + [arms_mod.Arm("retrace+work", arms_mod.RETRACE, sys.executable, pinned,
                                              extra_env=((facts.SENSITIVITY_VARIABLE, "1"),))]
    with procs.private_dir("retrace-selfcheck.") as scratch:
        runner = Runner(scratch, args.timeout)
        runs = {}
        for name, arms, scripts in (
                ("aa", plain_aa, ["synthetic_benchmark.py", "external_boundary_benchmark.py"]),
                ("recorded_aa", recorded_aa, ["synthetic_benchmark.py", "external_boundary_benchmark.py"]),
                ("calibration", calibration, ["selfcheck/calibration_benchmark.py"]),
                ("sensitivity", sensitivity, ["selfcheck/sensitivity_benchmark.py"])):
            rounds = args.rounds if args.rounds_given else arms_mod.balanced_rounds(args.rounds, len(arms))
            say(f"[self-check] {name}: {', '.join(a.label for a in arms)}, {rounds} rounds")
            for arm in arms:
                if arm.recorded and arm.label not in runner.empty_trace_bytes:
                    runner.measure_empty_trace(arm)
            data = RunData([a.to_json() for a in arms], {"rounds": rounds})
            run_rounds(runner, Plan(scripts, arms, rounds, bench_args), data, {})
            for bench in data.benchmarks:
                if bench.failures:
                    raise RunError(f"self-check {name}: {next(iter(bench.failures.values()))}")
            runs[name] = data
        production = None
        if not args.no_production:
            production = production_aa(args, scratch)
        timer = timer_pairs(runner, args)
        if not args.no_instructions:
            runs.update(instruction_check(args, runner))
    programs = program_check(args)
    if keep is not None:
        keep({"runs": {name: data.to_json() for name, data in runs.items()}, "timer": timer,
              "production": production, "programs": [p.to_json() for p in programs],
              "program_cost_s": facts.PROGRAM_COST_S})
    return selfcheck.judge(runs, timer, production, programs, facts.PROGRAM_COST_S)


def instruction_check(args, runner: Runner) -> dict:
    """The instruction A/A (the pinned release as two recorded arms, on the per-operation benchmarks)
    and calibration/sensitivity (selfcheck/instruction_benchmark.py), or nothing when instructions
    cannot be counted here (said)."""
    reason = callgrind.missing()
    if reason:
        say(f"[self-check] instructions not checked: {reason}")
        return {}
    pinned = arms_mod.pinned_version()
    work_arms = arms_mod.make_arms() + [
        arms_mod.Arm(f"retrace{kind}", arms_mod.RETRACE, sys.executable, pinned,
                     extra_env=((facts.INSTRUCTION_WORK_VARIABLE, kind.lstrip("+")),) if kind != "#2" else ())
        for kind in ("#2", "+calibration", "+sensitivity")]
    rounds = args.instruction_rounds or (facts.SELFCHECK_QUICK_INSTRUCTION_ROUNDS if args.quick
                                         else facts.INSTRUCTION_ROUNDS)
    windows = facts.INSTRUCTION_WINDOWS
    plan = [("instructions_calibration", work_arms, ["selfcheck/instruction_benchmark.py"])]
    if not args.quick:               # the A/A on every per-operation test too (a smoke run has no time for it)
        plan.append(("instructions_aa", arms_mod.make_arms([pinned, pinned]),
                     ["synthetic_benchmark.py", "external_boundary_benchmark.py"]))
    runs = {}
    for name, arms, scripts in plan:
        say(f"[self-check] {name}: {', '.join(a.label for a in arms)}, {rounds} processes per arm")
        for arm in arms:
            if arm.recorded and arm.label not in runner.empty_trace_bytes:
                runner.measure_empty_trace(arm)
        data = RunData([a.to_json() for a in arms], {})
        data.benchmarks = [BenchmarkData(facts.result_name(s), s) for s in scripts]
        try:
            instruction_run.run_instructions(runner, scripts, arms, rounds, windows, data, progress=say,
                                          target_percent=facts.INSTRUCTION_TARGET_PERCENT if name == "instructions_aa"
                                          else None)     # the A/A of the procedure a versions run uses
        except callgrind.InstructionError as error:
            raise RunError(f"self-check instructions: {error}") from None
        runs[name] = data
    return runs


def program_check(args):
    """The program workload's A/A and calibration: a pyperformance benchmark and a small program
    (selfcheck/program_calibration.py) in plain, plain#2, retrace, retrace#2 and retrace+cost, whose
    program sleeps facts.PROGRAM_COST_S more when recorded."""
    pinned = arms_mod.pinned_version()
    arms = arms_mod.make_arms(plain_copies=2) + [
        arms_mod.Arm("retrace#2", arms_mod.RETRACE, sys.executable, pinned),
        arms_mod.Arm("retrace+cost", arms_mod.RETRACE, sys.executable, pinned,
                     extra_env=((facts.PROGRAM_COST_VARIABLE, str(facts.PROGRAM_COST_S)),))]
    chosen = [*pyperformance.select(facts.PYPERFORMANCE_QUICK[0]),
              programs_mod.Program("program_calibration.py", programs_mod.COMMAND,
                                   template=f"{{python}} {ROOT / 'selfcheck' / 'program_calibration.py'}", cwd=str(ROOT))]
    rounds = args.rounds if args.rounds_given else arms_mod.balanced_rounds(args.rounds, len(arms))
    say(f"[self-check] programs: {', '.join(a.label for a in arms)}, {rounds} rounds")
    with procs.private_dir("retrace-selfcheck.") as scratch:
        data = programs_mod.run_programs(chosen, arms, rounds, scratch, args.timeout, facts.DEFAULT_MAX_TRACE_BYTES,
                                         args.quick, progress=say)
    for item in data:
        failed = next((r for r in item.runs if r.figure_s is None), None)
        if item.plain_failure or failed:
            raise RunError(f"self-check programs: {item.name}: {item.plain_failure or failed.failure or failed.not_recorded}")
    return data


def timer_pairs(runner: Runner, args) -> list[tuple[float, float]]:
    """(harness µs per time.time(), timeit µs per time.time()) pairs, measured alternately in one
    plain process (selfcheck/timer_fidelity.py), so that the machine's state is the same for both."""
    say("[self-check] timer: harness time.time() and timeit, alternately in one process")
    base = runner.next_name("timer")
    plain = arms_mod.make_arms()[0]
    outcome = procs.run([plain.python, str(ROOT / "selfcheck" / "timer_fidelity.py")], plain.env(os.environ),
                        args.timeout, base.with_suffix(".out"), base.with_suffix(".err"))
    if not outcome.ok:
        raise RunError(f"self-check timer: {outcome.describe(base.with_suffix('.err').read_text())}")
    try:
        return [tuple(p) for p in json.loads(base.with_suffix(".out").read_text())["pairs"]]
    except (ValueError, KeyError, TypeError) as error:
        raise RunError(f"self-check timer: unreadable output ({error})") from None


def production_aa(args, scratch: Path) -> dict | None:
    """The production benchmark with two plain arms on the shipped WSGI app: the production A/A."""
    if load.missing_tools():
        say(f"[self-check] production A/A skipped: not installed: {', '.join(load.missing_tools())}")
        return None
    say("[self-check] production A/A: plain, plain#2 on the WSGI app")
    directory = scratch / "production-aa"
    command = [sys.executable, str(ROOT / "production_benchmark.py"), "--arms", "plain,plain", "--app", "wsgi",
               "--results", str(directory), "--timeout", str(args.timeout), "--rounds", "4", "-n", "300",
               "--rate-requests", "100"]
    outcome = procs.run(command, arms_mod.make_arms()[0].env(os.environ), args.timeout * 10,
                        scratch / "production-aa.out", scratch / "production-aa.err")
    if not outcome.ok:
        raise RunError(f"self-check production A/A: {outcome.describe((scratch / 'production-aa.err').read_text())}")
    return json.loads((directory / "production_wsgi.json").read_text())
