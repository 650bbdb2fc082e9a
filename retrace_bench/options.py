"""What every command line of the suite shares: argument types (argparse `type=`) and the options every
run takes the same way (run_all_benchmarks.sh and production_benchmark.py)."""

from __future__ import annotations

import argparse
import math

from retrace_bench import facts


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def rounds_count(text: str) -> int:
    """--rounds: at least 1, at most facts.MAX_ROUNDS (more would run for days; --max-minutes bounds time)."""
    value = positive_int(text)
    if value > facts.MAX_ROUNDS:
        raise argparse.ArgumentTypeError(f"at most {facts.MAX_ROUNDS} (use --max-minutes to run for a time)")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def add_run_options(parser: argparse.ArgumentParser, rounds: str, quick: str, timeout_of: str, kept_in: str) -> None:
    """--rounds, --quick, --timeout and --keep-recordings, declared once for every run's command line;
    each names what it means there."""
    parser.add_argument("--rounds", type=rounds_count, metavar="N", help=rounds)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--timeout", type=positive_float, default=facts.DEFAULT_PROCESS_TIMEOUT_S, metavar="S",
                        help=f"time limit of {timeout_of} in seconds (default {facts.DEFAULT_PROCESS_TIMEOUT_S})")
    parser.add_argument("--keep-recordings", action="store_true",
                        help=f"keep the recordings (mode 0600) in {kept_in} (mode 0700): they hold the whole "
                             "environment, secrets included")


def run_argv(args: argparse.Namespace) -> list[str]:
    """add_run_options' options as given to this run, for a child run of another workload's command
    line (the driver's production benchmark): --rounds only when the user gave it."""
    return ([f"--timeout={args.timeout:g}"] + (["--quick"] if args.quick else [])
            + ([f"--rounds={args.rounds}"] if getattr(args, "rounds_given", args.rounds is not None) else [])
            + (["--keep-recordings"] if args.keep_recordings else []))
