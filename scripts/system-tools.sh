# shellcheck shell=bash
# Sourced by run_all_benchmarks.sh and run_tests.sh: the system tools the suite uses, from Debian's
# packages: ab (apache2-utils) and hey for the production benchmark, valgrind (with its client-request
# headers) and a C compiler for the instruction counts; postgresql and redis-server for the network
# benchmarks' private servers (retrace_bench/services.py).

# ensure_system_tools [PACKAGE ...]: the tools above, and each PACKAGE whose command has its name
# (run_tests.sh adds chromium, for the test that renders report.html in a real browser); installs the missing ones with apt-get when running as root where apt-get
# exists (once: nothing is done when they are there; RETRACE_BENCH_NO_APT=1 turns it off); otherwise
# says what is missing and the one command that installs it. Never fails: what needs a missing tool
# is skipped, and the run says so.
ensure_system_tools() {
    local missing=()
    command -v ab >/dev/null || missing+=(apache2-utils)
    command -v hey >/dev/null || missing+=(hey)
    if ! command -v valgrind >/dev/null || [[ ! -f /usr/include/valgrind/callgrind.h ]]; then
        missing+=(valgrind)
    fi
    command -v cc >/dev/null || command -v gcc >/dev/null || missing+=(gcc)
    compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
    command -v redis-server >/dev/null || missing+=(redis-server)
    local extra
    for extra in "$@"; do
        command -v "$extra" >/dev/null || missing+=("$extra")
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null && [[ -z ${RETRACE_BENCH_NO_APT:-} ]]; then
        echo "Installing ${missing[*]} with apt-get (once) ..."
        local log
        log=$(mktemp)
        if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
                >"$log" 2>&1; then
            rm -f "$log"
            return 0
        fi
        tail -n 5 "$log" >&2
        rm -f "$log"
        echo "warning: apt-get could not install ${missing[*]}; the parts that need them are skipped" >&2
    else
        echo "note: not installed: ${missing[*]}; the parts that need them are skipped." \
             "To have them: sudo apt-get install ${missing[*]}" >&2
    fi
    return 0
}
