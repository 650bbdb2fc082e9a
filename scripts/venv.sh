# shellcheck shell=bash
# Sourced by run_all_benchmarks.sh and run_tests.sh: create or reuse a virtualenv.

# ensure_venv VENV_DIR REQUIREMENTS_FILE
# Creates VENV_DIR with ${PYTHON:-python3} (3.11 or newer) and installs the requirements, once:
# a stamp of the requirements' content decides when to reinstall. Sets VENV_PYTHON.
ensure_venv() {
    local venv=$1 requirements=$2
    local base_python=${PYTHON:-python3}
    local stamp="$venv/.installed-${requirements##*/}"
    local wanted
    wanted=$(cat "$requirements")
    VENV_PYTHON="$venv/bin/python"
    if [[ -x $VENV_PYTHON && -f $stamp && "$(cat "$stamp")" == "$wanted" ]]; then
        return 0
    fi
    if ! command -v "$base_python" >/dev/null; then
        echo "error: $base_python not found; set PYTHON=/path/to/python3.11" >&2
        return 2
    fi
    if ! "$base_python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "error: Python 3.11 or newer is needed; $base_python is $("$base_python" -V 2>&1)" >&2
        return 2
    fi
    echo "Setting up $venv with $("$base_python" -V 2>&1) from $requirements ..."
    local log
    log=$(mktemp)
    if ! { "$base_python" -m venv "$venv" && "$venv/bin/pip" install -r "$requirements"; } >"$log" 2>&1; then
        grep -v '^WARNING: Location' "$log" | tail -n 15 >&2
        rm -f "$log"
        echo "error: could not install $requirements into $venv (see above)" >&2
        return 2
    fi
    rm -f "$log"
    printf '%s' "$wanted" >"$stamp"
}
