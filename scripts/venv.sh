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
    # The interpreter says its version, so that a PYTHON that is not a Python (PYTHON=/bin/true) is named.
    local version
    version=$("$base_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
    if [[ ! $version =~ ^3\.([0-9]+)$ ]] || ((BASH_REMATCH[1] < 11)); then
        echo "error: Python 3.11 or newer is needed; $base_python is ${version:+Python }${version:-not a Python interpreter}" \
             "(set PYTHON=/path/to/python3.11)" >&2
        return 2
    fi
    echo "Setting up $venv with $("$base_python" -V 2>&1) from $requirements ..."
    # pip's temporary files (its cacert.pem, build folders) go to a private folder removed on every exit
    # path, an interrupted install's included.
    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/retrace-bench-setup.XXXXXX")
    # shellcheck disable=SC2064  # the folder's name is fixed now
    trap "rm -rf '$work'" EXIT
    if ! { "$base_python" -m venv "$venv" && TMPDIR=$work "$venv/bin/pip" install -r "$requirements"; } \
            >"$work/log" 2>&1; then
        grep -v '^WARNING: Location' "$work/log" | tail -n 15 >&2
        rm -rf "$work"
        echo "error: could not install $requirements into $venv (see above)" >&2
        return 2
    fi
    rm -rf "$work"
    trap - EXIT
    printf '%s' "$wanted" >"$stamp"
}
