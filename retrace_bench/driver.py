"""run_all_benchmarks.sh's work: every *_benchmark.py in every arm, interleaved over rounds, then
the trace-growth probes, regime profiles and replay checks, the production benchmark, the summary,
and the archive. `python -m retrace_bench.driver --help` (or ./run_all_benchmarks.sh --help)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import sys
import time
from pathlib import Path

from retrace_bench import arms as arms_mod
from retrace_bench import commands, facts, own_usage, procs, services
from retrace_bench.agents import AGENTS
from retrace_bench.inputs import InputError
from retrace_bench.instructions import callgrind
from retrace_bench.instructions.budget import BudgetError, load
from retrace_bench.ops import history as history_mod
from retrace_bench.ops import history_report, instruction_run
from retrace_bench.ops.analysis import target_misses
from retrace_bench.ops.run import (REPLAY_TEXT, Plan, RunData, Runner, check_replay, discover_scripts, probe_trace_growth, profile_regimes, record_each_test, replay_each_test, run_rounds, write_texts)
from retrace_bench.options import add_run_options, positive_float, positive_int, run_argv
from retrace_bench.production import run as production_run
from retrace_bench.production.load import missing_tools
from retrace_bench.replay import IDENTICAL
from retrace_bench.production.run import SHIPPED_APPS
from retrace_bench.programs import data as programs_data
from retrace_bench.programs import export_pyperf, pyperformance
from retrace_bench.programs import run as programs_mod
from retrace_bench.results import ROOT, ResultsLock, claim_results_dir, new_run_dir, publish, suite_commit, write_atomically
from retrace_bench.rounds import RunError, Target, say
from retrace_bench.selfcheck_plan import self_check
from retrace_bench.summary import write_summary

DEFAULT_ROUNDS, QUICK_ROUNDS = 8, 2
DEFAULT_TARGET_MINUTES = 10.0

#: Options that cannot be combined: (option, the options it refuses, why). Each pair is refused
#: with one line, never silently ignored (tests/e2e/test_driver.py gives each pair in turn).
INCOMPATIBLE = (
    ("--retrace-version", ("--versions",), "use --versions X,Y"),
    ("--budget", ("--no-instructions", "--no-synthetic"), "budgets judge instruction counts, which those skip"),
    ("--self-check", ("--versions", "--retrace-version", "--target-ci", "--fail-on-regression", "--apm",
                      "--no-synthetic", "--program", "--pyperformance", "--program-instructions", "--keep-recordings",
                      "--budget", "--max-minutes", "--max-trace", "--apps"),
     "the self-check runs a fixed plan of its own and keeps nothing"),
    ("--no-production", ("--apm", "--apps"), "they shape the production benchmark, which --no-production skips"),
    ("--no-instructions", ("--instruction-rounds", "--program-instructions"),
     "they count instructions, which --no-instructions skips"),
    ("--no-synthetic", ("--instruction-rounds", "--target-ci"),
     "they apply to the per-operation benchmarks, which --no-synthetic skips"),
)
#: A value of each option of INCOMPATIBLE that takes one, for its tests.
EXAMPLE_VALUES = {"--retrace-version": "0.2.30", "--versions": "0.2.29,0.2.30", "--budget": "examples/instruction-budgets.toml",
                  "--target-ci": "10%", "--apm": "sentry", "--program": "{python} x.py", "--pyperformance": "none",
                  "--max-minutes": "5", "--max-trace": "2G", "--apps": "wsgi", "--instruction-rounds": "3"}


def given_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> set[str]:
    """The options the user gave (their value differs from the default), as --names."""
    return {action.option_strings[-1] for action in parser._actions if action.option_strings
            and action.dest != "help" and getattr(args, action.dest) != action.default}


def refuse_incompatible(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    given = given_options(parser, args)
    for option, refused, why in INCOMPATIBLE:
        clash = [other for other in refused if other in given]
        if option in given and clash:
            parser.error(f"{option} cannot be combined with {', '.join(clash)} ({why})")


def build_parser() -> argparse.ArgumentParser:
    """The driver's options (docs/options.md)."""
    parser = argparse.ArgumentParser(
        prog="run_all_benchmarks.sh",
        description="Run every *_benchmark.py here in every arm (plain and recorded by Retrace, "
                    "or several Retrace versions), interleaved over rounds in the order of a Williams design; "
                    "then trace growth, regimes, replay, the production benchmark, and "
                    "results/summary.txt. Results are archived under results/archive/.")
    add_run_options(parser, rounds=f"rounds; each runs every arm once per benchmark and program (default "
                                   f"{DEFAULT_ROUNDS}, {QUICK_ROUNDS} with --quick, rounded up to a whole Williams design; "
                                   "a given N is run as given)",
                    quick="small iteration counts and loads: a smoke run", timeout_of="one benchmark process",
                    kept_in="the run's archive directory under recordings/")
    parser.add_argument("--versions", metavar="X,Y",
                        help="compare these retracesoftware releases in the same rounds (plus plain), "
                             "e.g. 0.2.29,0.2.30; each but the pinned one in its own cached virtualenv")
    parser.add_argument("--retrace-version", metavar="X.Y.Z",
                        help="measure this release instead of the pinned one (same as --versions X.Y.Z)")
    parser.add_argument("--fail-on-regression", action="store_true",
                        help="exit 1 on a regression: with --versions, a version slower than the first one "
                             "(the baseline) beyond noise in instructions per call of a per-operation test (its "
                             "latency and CPU where they were not counted), a program's time or the programs' "
                             "geometric means, production throughput, fixed-rate p50 or CPU per request; or such a "
                             "figure without an interval (one round); with --budget, a budget exceeded")
    parser.add_argument("--target-ci", metavar="SPEC",
                        help="add rounds until every difference's 95%% half-width is at most SPEC: "
                             "a percent of the recording overhead (or of the plain figure, where that "
                             "is larger) and/or a time, whichever is larger, e.g. 10%%,0.05us")
    parser.add_argument("--max-minutes", type=positive_float, metavar="M",
                        help="start no round of the per-operation benchmarks or programs predicted to end "
                             "after M minutes, once 2 of each have run (default "
                             f"{DEFAULT_TARGET_MINUTES:g} with --target-ci, else no limit; the instruction counts "
                             "and production are not limited)")
    parser.add_argument("--no-instructions", action="store_true",
                        help="skip the instruction counts (Callgrind) of the per-operation benchmarks")
    parser.add_argument("--instruction-rounds", type=positive_int, metavar="N",
                        help="processes per arm under Callgrind (default "
                             f"{facts.INSTRUCTION_ROUNDS}, {facts.QUICK_INSTRUCTION_ROUNDS} with --quick; 1 gives "
                             "no interval); without --quick, version comparisons whose caller half-width is over "
                             f"±{facts.INSTRUCTION_TARGET_PERCENT:g}%% then get more, up to "
                             f"{facts.INSTRUCTION_MAX_ROUNDS} (or N)")
    parser.add_argument("--budget", type=Path, metavar="FILE",
                        help="instruction budgets per recorded operation (TOML, caller and/or total per call; "
                             "example: examples/instruction-budgets.toml); with --fail-on-regression a run that "
                             "exceeds one exits 1 and names it")
    parser.add_argument("--no-production", action="store_true", help="skip the production benchmark")
    parser.add_argument("--apm", nargs="?", const="all", metavar="AGENTS",
                        help="the production benchmark also runs APM agents as arms (each in its own cached "
                             "virtualenv) beside plain and Retrace: every agent, or a comma-separated list "
                             "of them (" + ", ".join(agent_names()) + ")")
    parser.add_argument("--no-synthetic", action="store_true",
                        help="skip the per-operation benchmarks (and their instruction counts); the programs "
                             "and production still run")
    parser.add_argument("--pyperformance", default="default", metavar="NAMES",
                        help="the pyperformance benchmarks to run as whole programs, plain and recorded: "
                             "`default` (a subset of one program per kind of work, "
                             f"{', '.join(facts.PYPERFORMANCE_SUBSET)}; with --quick "
                             f"{', '.join(facts.PYPERFORMANCE_QUICK)}), `all`, `none`, or comma-separated names")
    parser.add_argument("--program-instructions", action="store_true",
                        help="also count the programs' instructions under Callgrind: per loop for pyperformance "
                             "(--loops L and 2L), beyond start-up for a {python} command, "
                             f"{facts.PROGRAM_INSTRUCTION_ROUNDS} rounds per arm; slow (each process runs ~50x "
                             "slower), so not in the default run")
    parser.add_argument("--program", action="append", default=[], metavar="COMMAND",
                        help="also measure your own command as a whole program in every arm (repeatable), "
                             "e.g. \"{python} myjob.py --input data.csv\": {python} is the arm's interpreter; "
                             "run from the directory you are in. A command that does not start with {python} "
                             "is recorded through Retrace's env hook")
    parser.add_argument("--services", metavar="NAMES",
                        help=f"private servers for your --program commands ({', '.join(facts.SERVICE_TITLES)}), fresh ones for "
                             "each process: DATABASE_URL, REDIS_URL and REDIS_SOCKET_URL in its environment, "
                             "{postgres_url} and {redis_url} in its command (docs/programs.md#services)")
    parser.add_argument("--max-trace", default="1G", metavar="SIZE",
                        help="the disk guard: stop a recorded program whose trace passes SIZE (e.g. 500M, 2G; "
                             "default 1G), or that would leave less than "
                             f"{facts.DISK_FREE_MARGIN_BYTES >> 30} GB free, and report it")
    parser.add_argument("--apps", default="wsgi,asgi", metavar="LIST",
                        help="the shipped apps the production benchmark runs (default wsgi,asgi)")
    parser.add_argument("--history", metavar="RELEASES",
                        help="instead of a run: instructions per call of every per-operation test across Retrace "
                             "releases, e.g. 0.2.20..0.2.30, last10 or 0.2.25,0.2.30; each release measured once "
                             "and cached under RESULTS/history-cache/ (delete it to measure again), with the steps "
                             "between releases and the functions behind them (docs/versions.md)")
    parser.add_argument("--self-check", action="store_true",
                        help="check the suite instead: A/A, calibration and sensitivity checks of wall time, "
                             "CPU, instructions, programs and production, and the harness's timer")
    parser.add_argument("--results", type=Path, default=ROOT / "results", metavar="DIR",
                        help="results directory (default: the suite's results/); a relative DIR is taken "
                             "from the directory you are in. It must be new, empty, or one this suite "
                             "writes to: a run replaces or removes only the files it wrote there")
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.history is not None:
        # A history runs only the instruction counts of the per-operation tests: every option that
        # shapes anything else is refused, not ignored.
        given = sorted(given_options(parser, args) - {"--history", "--quick", "--instruction-rounds", "--timeout",
                                                      "--results"})
        if given:
            parser.error(f"--history cannot be combined with {', '.join(given)} (it takes --quick, "
                         "--instruction-rounds, --timeout and --results)")
        if not args.history.strip():
            parser.error("--history: name the releases, e.g. 0.2.20..0.2.30")
    refuse_incompatible(parser, args)
    if args.retrace_version:
        args.versions = args.retrace_version
    args.version_list = [v.strip() for v in args.versions.split(",")] if args.versions else None
    if args.version_list is not None and (not all(args.version_list)):
        parser.error("--versions: an empty version in the list")
    if args.budget is not None:
        try:
            args.budgets = {"file": str(args.budget), "budgets": load(user_path(args.budget))}
        except BudgetError as error:
            parser.error(f"--budget: {error}")
    if args.fail_on_regression and (not args.version_list or len(args.version_list) < 2) and args.budget is None:
        parser.error("--fail-on-regression needs --versions with two or more versions, or --budget FILE")
    if args.fail_on_regression and args.rounds == 1:
        parser.error("--fail-on-regression needs at least 2 rounds: one round gives no interval")
    try:
        args.agents = select_agents(args.apm)
    except ValueError as error:
        parser.error(f"--apm: {error}")
    args.pyperformance = args.pyperformance.strip()
    if args.no_production and args.no_synthetic and args.pyperformance == "none" and not args.program:
        parser.error("--no-production with --no-synthetic and --pyperformance none: nothing would run")
    try:
        args.max_trace_bytes = parse_size(args.max_trace)
    except ValueError as error:
        parser.error(f"--max-trace: {error}")
    if args.program_instructions and args.pyperformance == "none" and not args.program:
        parser.error("--program-instructions counts the programs' instructions: it needs programs "
                     "(--pyperformance or --program)")
    args.service_list = []
    if args.services is not None:
        if not args.program:
            parser.error("--services starts servers for --program commands: give one")
        try:
            args.service_list = services.parse_names(args.services)
        except ValueError as error:
            parser.error(f"--services: {error}")
    for command in args.program:
        problem = commands.placeholder_problem(command, args.service_list)
        if problem:
            parser.error(f"--program {command!r}: {problem}")
    args.app_list = [a.strip() for a in args.apps.split(",") if a.strip()]
    if len(set(args.app_list)) < len(args.app_list):
        parser.error(f"--apps: {args.apps!r} names an app twice")
    if not args.app_list or any(a not in SHIPPED_APPS for a in args.app_list):
        parser.error(f"--apps: choose from {', '.join(SHIPPED_APPS)}")
    try:
        args.target = Target.parse(args.target_ci) if args.target_ci else None
    except ValueError as error:
        parser.error(str(error))
    if args.max_minutes is None and args.target:
        args.max_minutes = DEFAULT_TARGET_MINUTES
    args.results = user_path(args.results)
    args.rounds_given = args.rounds is not None
    args.rounds = args.rounds or (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    return args


def user_path(path: Path) -> Path:
    """A path the user typed, from the directory they ran the suite in (run_all_benchmarks.sh
    changes into the suite's own directory and names the user's in CALLER_CWD_VARIABLE)."""
    return Path(os.environ.get(facts.CALLER_CWD_VARIABLE) or os.getcwd(), path).absolute()


def shown(path: Path) -> str:
    """A path as the user can use it: relative to where they are when it is under it."""
    cwd = Path(os.environ.get(facts.CALLER_CWD_VARIABLE) or os.getcwd())
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)


def parse_size(text: str) -> int:
    """500M, 2G, 1.5GB, 1048576 -> bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.I)
    if not match:
        raise ValueError(f"{text!r} is not a size (e.g. 500M, 2G)")
    size = float(match.group(1)) * 1024 ** " KMGT".index(match.group(2).upper() or " ")
    if size < 1 << 20:
        raise ValueError(f"{text!r} is under 1 MB: no real program would fit")
    return int(size)


class QuietOnBrokenPipe:
    """Standard output that, once its reader has gone (`| head`), drops what is written instead of
    raising: the run goes on, and its results and archive are still written."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            self.detach_reader()
            return len(text)

    def flush(self):
        try:
            self.stream.flush()
        except BrokenPipeError:
            self.detach_reader()

    def detach_reader(self):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)               # what is still buffered for the old reader goes nowhere
        os.close(devnull)
        self.stream = open(os.devnull, "w", encoding="utf-8")

    def __getattr__(self, name):
        return getattr(self.stream, name)


def main(argv=None) -> int:
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:          # closed (`>&-`) with no run_all_benchmarks.sh to reopen it: nowhere
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
        elif hasattr(stream, "reconfigure"):
            # An ASCII or Latin-1 terminal: a name it cannot show is escaped, never a traceback after the run.
            stream.reconfigure(errors="backslashreplace")
    sys.stdout = QuietOnBrokenPipe(sys.stdout)
    procs.absolute_tmpdir(os.environ.get(facts.CALLER_CWD_VARIABLE))
    args = parse_args(argv)
    stale = procs.remove_stale_scratch() + services.remove_stale()
    if stale:
        say(f"[setup] removed {stale} scratch director{'y' if stale == 1 else 'ies'} of runs that were killed")
    try:
        with procs.managed(reap=True):
            return (self_check if args.self_check else run_history if args.history else run_suite)(args)
    except KeyboardInterrupt:
        print("\ninterrupted: every process the run started was stopped; the previous results "
              "are untouched", file=sys.stderr)
        return 130
    except (RunError, arms_mod.ArmError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:                    # a full disk, a file the run cannot write
        print(f"error: {error.filename or ''}: {error.strerror or error}; the previous results are kept",
              file=sys.stderr)
        return 2


def run_suite(args) -> int:
    """The whole run: check the options, claim the results directory, run every workload, publish."""
    results: Path = args.results
    if results.exists() and not results.is_dir():
        raise RunError(f"{shown(results)}: is a file, not a results directory")
    # Everything that can be refused is checked before the results directory is touched.
    programs = select_programs(args)
    if args.no_synthetic and not programs and missing_load_tools():
        raise RunError(f"--no-synthetic with no program runs only the production benchmark, which needs "
                          f"{' and '.join(missing_load_tools())}; nothing was run")
    arms = arms_mod.make_arms(args.version_list, progress=say)
    arms_mod.check_releases(arms)
    scripts = [] if args.no_synthetic else discover_scripts()
    if not scripts and not args.no_synthetic:
        raise RunError(f"no {facts.BENCHMARK_GLOB} found in {ROOT}")
    claim_results_dir(results)
    with ResultsLock(results):
        say(f"Python: {platform.python_version()} {sys.executable}")
        say(f"Arms: {', '.join(a.label for a in arms)}"
            + (f" (and the APM agents in the production benchmark: {', '.join(args.agents)})" if args.agents else "")
            + f"; benchmarks: {' '.join(scripts) or 'none (--no-synthetic)'}"
            + (f"; programs: {', '.join(p.name for p in programs)}" if programs else ""))
        if not args.rounds_given:
            args.rounds = arms_mod.balanced_rounds(args.rounds, len(arms))
        tag = "v" + "_v".join(a.version for a in arms if a.version)
        run_dir = new_run_dir(results, tag)
        try:
            status = run_workloads(args, arms, scripts, run_dir, programs)
        except BaseException:
            say(f"The run did not complete; its partial output is in {run_dir}/ (until the next run)")
            raise
        final = publish(run_dir, results)
        say(f"Results: {shown(results)}/summary.txt; archived to {shown(final)}/")
        return status


def run_history(args) -> int:
    """--history: the releases' instruction counts (history.py), from the cache where it has them."""
    results: Path = args.results
    reason = callgrind.missing()
    if reason:
        raise RunError(f"--history counts instructions, which cannot be done here: {reason}")
    published = history_mod.published_releases()         # a bad spec is refused before results/ is touched
    releases = history_mod.select_releases(args.history, published)
    claim_results_dir(results)
    with ResultsLock(results):
        tag = "history_" + re.sub(r"[^0-9A-Za-z.,-]+", "_", args.history.strip()).replace(",", "_")[:60]
        run_dir = new_run_dir(results, tag)
        try:
            data = history_mod.run_history(args.history, releases, published, results, run_dir, args.quick,
                                           args.instruction_rounds, args.timeout)
            write_atomically(run_dir / history_mod.HISTORY_FILE, json.dumps(data, indent=1, ensure_ascii=False))
            result = history_mod.analyse(history_mod.parse(data))
            say("")
            history_report.write(result, run_dir, progress=say)
        except BaseException:
            say(f"The run did not complete; its partial output is in {run_dir}/ (until the next run)")
            raise
        final = publish(run_dir, results)
        say(f"Results: {shown(results)}/summary.txt; archived to {shown(final)}/")
    failed = [r.release for r in result.releases if r.status != "ok"]
    if not result.measured:
        print("error: no release was measured", file=sys.stderr)
        return 1
    if failed:
        say(f"{len(failed)} release(s) have no figures: {', '.join(failed)} (their rows say why)")
    return 0


def select_programs(args) -> list:
    """The pyperformance benchmarks and --program commands of this run; refused up front when a
    name is unknown, a command cannot be split, or pyperformance is missing."""
    chosen = []
    if args.pyperformance != "none":
        spec = args.pyperformance
        if spec == pyperformance.DEFAULT and args.quick:
            spec = ",".join(facts.PYPERFORMANCE_QUICK)
        try:
            chosen = pyperformance.select(spec)
        except pyperformance.CatalogError as error:
            raise RunError(str(error)) from None
    cwd = os.environ.get(facts.CALLER_CWD_VARIABLE) or os.getcwd()
    names = set(p.name for p in chosen)
    for number, command in enumerate(args.program, 1):
        try:
            argv = commands.split_command(command, sys.executable)
        except commands.CommandError as error:
            raise RunError(f"--program: {error}") from None
        if commands.is_python(argv, sys.executable) and "{python}" not in command.split()[0]:
            raise RunError(f"--program {command!r} runs {argv[0]}, not the arm's interpreter: the recorded arm "
                              "needs the Python that has retracesoftware (and --versions one per release); write "
                              f"{{python}} {shlex.join(argv[1:])}")
        refusal = commands.launcher_refusal(argv, cwd) if commands.is_python(argv, sys.executable) else None
        if refusal:
            raise RunError(f"--program {command!r}: {refusal}")
        found = Path(cwd, argv[0]).is_file() if "/" in argv[0] else shutil.which(argv[0])
        if not found:
            raise RunError(f"--program {command!r}: {argv[0]} is not a program here")
        name = commands.command_name(argv, sys.executable)
        name = name if name not in names else f"{name}#{number}"
        names.add(name)
        chosen.append(programs_mod.Program(name, programs_mod.COMMAND, template=command, cwd=cwd,
                                           services=tuple(args.service_list)))
    missing = [services.missing(n) for n in args.service_list if services.missing(n)]
    if missing:
        raise RunError(f"--services: {'; '.join(missing)}")
    return chosen


def run_programs(args, arms, programs, run_dir: Path, keep: Path | None = None) -> None:
    """The program workload in the same arms: programs.json and the pyperf export."""
    rounds = args.rounds if args.rounds_given else arms_mod.balanced_rounds(
        facts.QUICK_PROGRAM_ROUNDS if args.quick else facts.DEFAULT_PROGRAM_ROUNDS, len(arms))

    def python_for(program, arm):
        if program.kind != programs_mod.PYPERFORMANCE:
            return arm.python
        version = arm.version if arm.recorded else None
        return pyperformance.python_for(program, arm.python, version, progress=say)
    started = time.monotonic()
    with procs.private_dir("retrace-bench.") as scratch:
        try:
            data = programs_mod.run_programs(programs, arms, rounds, scratch, args.timeout, args.max_trace_bytes,
                                             args.quick, deadline=getattr(args, "deadline", None),
                                             python_for=python_for, progress=say,
                                             instruction_rounds=program_instruction_rounds(args), keep_dir=keep)
        except commands.CommandError as error:
            raise RunError(str(error)) from None
    # The rounds that ran (--max-minutes can stop them before the rounds planned).
    ran = max((run.round for item in data for run in item.runs), default=0)
    programs_data.write(run_dir, [a.to_json() for a in arms],
                        {"rounds": ran, "rounds_planned": rounds, "peak_rss": "own" if own_usage.helper()[0] else f"n/a: {own_usage.helper()[1]}",
                         "quick": args.quick, "max_trace_bytes": args.max_trace_bytes,
                         "seconds": time.monotonic() - started}, data)
    export_pyperf.export(data, [a.label for a in arms], run_dir)
    say(f"[programs] done in {time.monotonic() - started:.0f}s")


def program_instruction_rounds(args) -> int:
    """Rounds of the programs' instruction counts: none without --program-instructions, or where
    instructions cannot be counted (said once)."""
    if not getattr(args, "program_instructions", False):
        return 0
    reason = callgrind.missing()
    if reason:
        say(f"[program instructions] not counted: {reason}")
        return 0
    return facts.QUICK_PROGRAM_INSTRUCTION_ROUNDS if args.quick else facts.PROGRAM_INSTRUCTION_ROUNDS


def run_workloads(args, arms, scripts, run_dir: Path, programs=()) -> int:
    """Every workload of a run into run_dir: operations, programs, production, then the summary."""
    # --max-minutes: one deadline for the rounds of the per-operation benchmarks and the programs.
    args.deadline = time.monotonic() + args.max_minutes * 60 if args.max_minutes else None
    keep = None
    if args.keep_recordings:
        keep = run_dir / "recordings"
        keep.mkdir(mode=0o700)
    bench_args = ["--quick"] if args.quick else []
    data = RunData([a.to_json() for a in arms],
                   {"rounds": args.rounds, "quick": args.quick, "target_ci": args.target_ci,
                    "max_minutes": args.max_minutes, "suite_commit": suite_commit(),
                    "python": platform.python_version(), "machine": f"{platform.system()} {platform.machine()}",
                    "cpu_count": os.cpu_count(), "timeout_s": args.timeout, "order": facts.WILLIAMS_ORDER,
                    "python_variables": {k: v for k, v in sorted(os.environ.items()) if k.startswith("PYTHON")},
                    **({"budget": args.budgets} if args.budget is not None else {})})
    texts: dict = {}
    with procs.private_dir("retrace-bench.") as scratch:
        runner = Runner(scratch, args.timeout, keep, keep_stderr=run_dir / "failures")
        for arm in arms:
            if arm.recorded:
                data.empty_trace_bytes[arm.label] = runner.measure_empty_trace(arm)
        recorded = [a for a in arms if a.recorded]
        # The servers the network scripts talk to, for everything but the replays, which run without them.
        with services.provided(facts.services_of(scripts), progress=say) as status:
            if status:
                data.config["services"] = status
            missing = run_rounds(runner, Plan(scripts, arms, args.rounds, bench_args, args.target, args.deadline,
                                              misses=target_misses),
                                 data, texts)
            data.config["missed_target"] = missing
            replayed = [(b, a) for b in data.benchmarks for a in recorded if a.label not in b.failures]
            for bench, arm in replayed:
                tests = [str(t["number"]) for t in bench.processes[0].record["tests"]] if bench.processes else []
                probe_trace_growth(runner, arm, bench, [int(n) for n in tests])
                if arm.label not in bench.failures and bench.script not in facts.NOT_PROFILED:
                    profile_regimes(runner, arm, bench, bench_args)
            if scripts and not args.no_instructions:
                count_instructions(args, runner, scripts, arms, data, run_dir / facts.CALLGRIND_DIRECTORY)
        for bench, arm in replayed:
            check_replay(runner, arm, bench, texts.get((REPLAY_TEXT, bench.name, arm.file_label), ""))
        replay_alone(runner, replayed, status, bench_args)
    write_texts(run_dir, texts)
    write_atomically(run_dir / "run.json", json.dumps(data.to_json(), indent=1, ensure_ascii=False))
    if programs:
        run_programs(args, arms, programs, run_dir, keep)
    production_failed = False
    if not args.no_production:
        production_failed = run_production(args, arms, run_dir)
    say("")
    try:
        status = write_summary(run_dir, fail_on_regression=args.fail_on_regression, in_progress=True)
    except InputError as error:
        raise RunError(f"analysis failed: {error}") from None
    if missing:
        say(f"{len(missing)} difference(s) missed the target resolution; see the summary")
    failed = [f"{b.name} ({arm})" for b in data.benchmarks for arm in b.failures]
    if failed or production_failed:
        print(f"error: failed: {', '.join(failed + (['production'] if production_failed else []))} "
              f"(see {shown(args.results / 'summary.txt')})", file=sys.stderr)
        return 1
    return status


def replay_alone(runner: Runner, replayed: list, status: dict, bench_args: list[str]) -> None:
    """A script that needs services and whose whole process did not replay: each of its tests
    recorded alone with the services up again, then replayed with them stopped, so that the
    summary can say which tests replay without them."""
    names = services.started(status)
    again = [(b, a) for b, a in replayed if b.script in facts.SCRIPT_SERVICES and names
             and b.replay.get(a.label, {}).get("verdict") != IDENTICAL]
    if not again:
        return
    say(f"[replay] the whole process did not replay: each test of {', '.join(sorted({b.script for b, _ in again}))} "
        "alone, recorded with the services and replayed without them")
    with services.provided(names, progress=say):
        kept = {(b.name, a.label): record_each_test(runner, a, b, bench_args) for b, a in again}
    for bench, arm in again:
        replay_each_test(runner, arm, bench, kept[bench.name, arm.label], [facts.SERVICE_TITLES[n] for n in names])


def count_instructions(args, runner: Runner, scripts: list[str], arms, data: RunData, profile_dir: Path) -> None:
    """The per-operation benchmarks under Callgrind (instructions.py), or a note saying why not;
    the Callgrind files of each arm's first process kept in profile_dir."""
    reason = callgrind.missing()
    if reason is None:
        rounds = args.instruction_rounds or (facts.QUICK_INSTRUCTION_ROUNDS if args.quick else facts.INSTRUCTION_ROUNDS)
        windows = facts.QUICK_INSTRUCTION_WINDOWS if args.quick else facts.INSTRUCTION_WINDOWS
        try:
            instruction_run.run_instructions(runner, scripts, arms, rounds, windows, data, progress=say,
                                          profile_dir=profile_dir,
                                          target_percent=None if args.quick else facts.INSTRUCTION_TARGET_PERCENT)
            return
        except callgrind.InstructionError as error:
            reason = str(error)
    say(f"[instructions] not counted: {reason}")
    data.config["instructions_skipped"] = reason


def missing_load_tools() -> list[str]:
    """The production benchmark's load generators that are not installed, with their packages."""
    return missing_tools()


def agent_names() -> list[str]:
    return list(AGENTS)


def select_agents(text: str | None) -> list[str]:
    """--apm's agents: none (not given), every one (`all`, or --apm alone), or the ones named."""
    if text is None:
        return []
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return agent_names()
    unknown = [n for n in names if n not in agent_names()]
    if not names or unknown:
        raise ValueError(f"{', '.join(unknown) or 'no agent named'}: choose from all, {', '.join(agent_names())}")
    return list(dict.fromkeys(names))


def run_production(args, arms, run_dir: Path) -> bool:
    """The production workload on each shipped app with the same arms (and the APM agents with
    --apm), its progress lines passed through. True when one failed."""
    missing = missing_load_tools()
    if missing:
        say(f"[production] skipped: {' and '.join(missing)} not found")
        return False
    names = [a.label.split("#")[0] for a in arms] + args.agents
    failed = False
    for app in args.app_list:
        failed |= run_production_app(args, app, names, run_dir)
    return failed


def run_production_app(args, app: str, names: list[str], run_dir: Path) -> bool:
    """One shipped app, measured in this process like the other workloads (its app, load generators
    and agents' launchers are this process's children, stopped on every way out). True when it failed."""
    production_args = production_run.parse_args(["--app", app, "--results", str(run_dir),
                                                 "--arms", ",".join(names), *run_argv(args)])
    outcome = production_run.measure(production_args)
    if outcome.status != 0:
        say(f"[production {app}] FAILED ({outcome.error or 'an arm failed: see the summary'})")
        return True
    return False


if __name__ == "__main__":
    sys.exit(main())
