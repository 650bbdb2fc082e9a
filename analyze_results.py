#!/usr/bin/env python3
"""Summarise Retrace benchmark results: parse -> compute -> render (the work is in retrace_bench/).

    analyze_results.py [RESULTS_DIR]        summary.txt, summary.json, benchmark-action.json and
                                            overhead.png in RESULTS_DIR (default results/), from its
                                            run.json or, for hand runs, the spec's text files
    analyze_results.py --compare A B        compare two archived runs (drift included: prefer
                                            ./run_all_benchmarks.sh --versions A,B)

--fail-on-regression exits 1 when a later version is slower beyond noise (with RESULTS_DIR: the
run's own version comparison; with --compare: B against A). Bad input is a one-line error naming
the file, exit status 2, and the previous summary is kept.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SUITE = Path(__file__).resolve().parent
SUITE_PYTHON = SUITE / ".venv" / "bin" / "python"
# Run as ./analyze_results.py (or with a python that lacks the suite's packages): the suite's own
# interpreter draws the charts when it exists, started before anything is imported.
if SUITE_PYTHON.exists() and Path(sys.prefix).resolve() != SUITE_PYTHON.parent.parent.resolve() \
        and __name__ == "__main__":
    os.execv(str(SUITE_PYTHON), [str(SUITE_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
sys.path.insert(0, str(SUITE))
from retrace_bench.compare import compare  # noqa: E402
from retrace_bench.inputs import InputError  # noqa: E402
from retrace_bench.summary import write_summary  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("results_dir", nargs="?", type=Path,
                        help="directory with the benchmark outputs (default: results)")
    parser.add_argument("--compare", nargs=2, metavar=("ARCHIVE_A", "ARCHIVE_B"), type=Path,
                        help="compare two archived runs (results/archive/...) test by test")
    parser.add_argument("--fail-on-regression", action="store_true",
                        help="exit 1 when the later version is slower beyond noise")
    args = parser.parse_args(argv)
    if args.compare and args.results_dir:
        parser.error("give either RESULTS_DIR or --compare A B, not both")
    try:
        if args.compare:
            return compare(*args.compare, args.fail_on_regression)
        return write_summary(args.results_dir or Path("results"), fail_on_regression=args.fail_on_regression)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error.filename or ''}: {error.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the previous summary is untouched", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
