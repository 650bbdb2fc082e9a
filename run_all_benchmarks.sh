#!/usr/bin/env bash
# The spec's entry point: set up .venv from the pinned requirements.txt, then hand over to the
# Python engine (retrace_bench/driver.py), which runs every *_benchmark.py in every arm,
# interleaved over rounds, and writes results/summary.txt. ./run_all_benchmarks.sh --help
# Under sh (a copy without the exec bit, run as `sh FILE`), say how to run it instead of failing on bash syntax.
if [ -z "${BASH_VERSION:-}" ]; then
    echo "error: this script needs bash: run it as ./$(basename "$0") or bash $(basename "$0")" >&2
    exit 2
fi
set -euo pipefail
# A closed stdout or stderr (`>&-`) is /dev/null for the run: the results are still written, and no
# file the run opens takes descriptor 1 or 2 (its children would write into it).
(exec 3>&1) 2>/dev/null || exec 1>/dev/null
(exec 3>&2) 2>/dev/null || exec 2>/dev/null
# --program commands run from the directory the user is in.
export RETRACE_BENCH_CWD="${RETRACE_BENCH_CWD:-$PWD}"
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/venv.sh
source scripts/venv.sh
# shellcheck source=scripts/system-tools.sh
source scripts/system-tools.sh
ensure_venv .venv requirements.txt || exit 2
# shellcheck disable=SC2119  # no extra package for a run (the tests add chromium)
ensure_system_tools
# -E: the driver runs apart from the user's PYTHON* variables (PYTHONSAFEPATH, PYTHONINSPECT, PYTHONPATH),
# which reach only the processes it measures (the summary names them).
exec .venv/bin/python -E -m retrace_bench.driver "$@"
