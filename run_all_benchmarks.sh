#!/usr/bin/env bash
# Run every *_benchmark.py plainly and recorded by Retrace, in alternating rounds; measure what
# each operation adds to the trace, its burst and sustained cost, and check that a recording
# replays; then write results/summary.txt. ./run_all_benchmarks.sh --help for the options.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/venv.sh
source scripts/venv.sh

usage() {
    cat <<'EOF'
Usage: ./run_all_benchmarks.sh [options]

Runs each *_benchmark.py in this directory plainly and recorded by Retrace (B R, R B, ... in
rounds), then production_benchmark.py (a web app under ab), then analyze_results.py.
Results: results/summary.txt (and .json), archived under results/archive/.

Options:
  --rounds N          baseline/recorded process pairs per benchmark (default 4, --quick 2)
  --quick             small iteration counts: a smoke run of well under a minute
  --keep-recordings   keep the recordings in results/recordings/ (they hold the whole
                      environment, secrets included); by default they are deleted
  --no-production     skip the production benchmark (the web app under ab)
  --retrace-version X.Y.Z
                      measure that retracesoftware release instead of the pinned one, in its own
                      virtualenv (created once under ~/.cache/retrace-benchmarks, then reused)
  --self-check        check the suite itself instead: A/A (two plain arms must come out within
                      noise), calibration (injected 2 and 20 µs must be reported within 10%),
                      timer fidelity (time.time() against python -m timeit)
  -h, --help          this text

Environment: PYTHON (interpreter for the virtualenv, default python3).
EOF
}

die() { echo "error: $*" >&2; exit 2; }

rounds=""
quick=0
keep_recordings=0
self_check=0
production=1
retrace_pin=""
while (($#)); do
    case $1 in
        --rounds)
            [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a whole number of at least 1"
            rounds=$2
            shift 2 ;;
        --quick) quick=1; shift ;;
        --keep-recordings) keep_recordings=1; shift ;;
        --self-check) self_check=1; shift ;;
        --no-production) production=0; shift ;;
        --retrace-version)
            [[ ${2:-} =~ ^[0-9]+(\.[0-9]+)*([a-z]+[0-9]*)?$ ]] || die "--retrace-version needs a version such as 0.2.29"
            retrace_pin=$2
            shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done
bench_args=()
if ((quick)); then
    bench_args=(--quick)
    rounds=${rounds:-2}
fi
rounds=${rounds:-4}

scratch=$(mktemp -d -t retrace-bench.XXXXXX)   # mode 0700: recordings hold the environment
trap 'rm -rf "$scratch"' EXIT
trap 'echo "interrupted" >&2; jobs -pr | xargs -r kill 2>/dev/null; exit 130' INT TERM

venv=.venv
requirements=requirements.txt
if [[ -n $retrace_pin ]]; then
    venv="${XDG_CACHE_HOME:-$HOME/.cache}/retrace-benchmarks/venv-$retrace_pin"
    requirements="$scratch/requirements-$retrace_pin.txt"
    sed "s/^retracesoftware==.*/retracesoftware==$retrace_pin/" requirements.txt >"$requirements"
    mkdir -p "$(dirname "$venv")"
fi
ensure_venv "$venv" "$requirements" || die "could not set up retracesoftware==${retrace_pin:-pinned} (is it a released version?)"
PY=$venv/bin/python
retrace_version=$("$PY" -c 'import importlib.metadata as m; print(m.version("retracesoftware"))')
echo "Python: $("$PY" -c 'import sys; print(sys.version.split()[0], sys.executable)')"
echo "retracesoftware: $retrace_version"

# The name of a script's result files: the spec's internal_* and external_* for the built-ins.
result_name() {
    case $1 in
        synthetic_benchmark.py) echo internal ;;
        external_boundary_benchmark.py) echo external ;;
        *) basename "$1" _benchmark.py ;;
    esac
}

plain_env=(env -u RETRACE -u RETRACE_RECORDING -u RETRACE_RECORDING_PATH -u RETRACE_CONFIG)

# run_arm ARM SCRIPT OUT RECORDING [ARGS...]: one process of SCRIPT, its stdout in OUT.
# ARM is "plain" or "record"; recording uses the spec's own command line.
run_arm() {
    local arm=$1 script=$2 out=$3 recording=$4
    shift 4
    if [[ $arm == record ]]; then
        RETRACE=1 RETRACE_RECORDING_PATH=$recording timeout 900 "$PY" "$script" "$@" >"$out" 2>"$out.err"
    else
        "${plain_env[@]}" timeout 900 "$PY" "$script" "$@" >"$out" 2>"$out.err"
    fi
}

# verify_trace OUT RECORDING: the run says it recorded to RECORDING, and the trace grew past an
# empty recording's size (the harness's own timer reads alone are recorded). Prints the size.
verify_trace() {
    local out=$1 recording=$2 size
    grep -qxF "Recording: ON -> $recording" "$out" || { echo "the run did not report recording to $recording"; return 1; }
    [[ -f $recording ]] || { echo "no trace at $recording"; return 1; }
    size=$(stat -c %s "$recording")
    ((size >= empty_trace_bytes + 200)) || { echo "trace is $size bytes, no larger than an empty recording ($empty_trace_bytes)"; return 1; }
    echo "$size"
}

failure_reason() { # failure_reason OUT STATUS
    local last
    last=$(grep -v '^\s*$' "$1.err" | tail -n 1 | cut -c1-300)
    echo "exit status $2${last:+: $last}"
}

# run_rounds DIR ARM_B SCRIPT...: alternate baseline and ARM_B ("record", or "plain" for A/A)
# processes of each script for $rounds rounds; results in DIR/<name>_{baseline,retrace}.txt.
declare -A failed=()
run_rounds() {
    local dir=$1 arm_b=$2
    shift 2
    local round script name arm label out recording status size start order
    mkdir -p "$dir"
    for ((round = 1; round <= rounds; round++)); do
        for script in "$@"; do
            name=$(result_name "$script")
            [[ -z ${failed[$name]:-} ]] || continue
            order="baseline retrace"
            ((round % 2)) || order="retrace baseline"
            for label in $order; do
                arm=plain
                [[ $label == retrace ]] && arm=$arm_b
                out="$scratch/$name.$label.$round.out"
                recording="$scratch/$name.$round.retrace"
                start=$SECONDS
                printf '[round %d/%d] %-28s %-8s ' "$round" "$rounds" "$script" "$label"
                status=0
                run_arm "$arm" "$script" "$out" "$recording" "${bench_args[@]}" || status=$?
                if ((status)); then
                    failed[$name]="round $round $label run: $(failure_reason "$out" "$status")"
                elif [[ $arm == record ]] && ! size=$(verify_trace "$out" "$recording"); then
                    failed[$name]="round $round recorded run: $size"
                fi
                if [[ -n ${failed[$name]:-} ]]; then
                    echo "FAILED (${failed[$name]})"
                    echo "FAILED: ${failed[$name]}" >>"$dir/${name}_retrace.txt"
                    break
                fi
                if [[ $arm == record ]]; then
                    echo "Trace: $size bytes (verified, then deleted)" >>"$out"
                    keep_or_delete "$name" "$round" "$recording"
                    printf 'done in %ds, trace %d KB\n' $((SECONDS - start)) $((size / 1024))
                else
                    printf 'done in %ds\n' $((SECONDS - start))
                fi
                cat "$out" >>"$dir/${name}_${label}.txt"
            done
        done
    done
}

# Round 1's recording is kept for the replay check; the others go now unless asked to keep them.
keep_or_delete() {
    local name=$1 round=$2 recording=$3
    if ((round == 1)); then
        mv "$recording" "$scratch/$name.replay.retrace"
    elif ((keep_recordings)); then
        mv "$recording" "results/recordings/$name.$round.retrace"
    else
        rm -f "$recording"
    fi
}

# probe_trace_growth DIR SCRIPT: trace bytes each test adds per call, from two recordings per
# test that differ only in the number of calls (100 and 1100), made side by side (they time nothing).
probe_trace_growth() {
    local dir=$1 script=$2 name tests number small large status
    name=$(result_name "$script")
    tests=$("$PY" "$script" --list | grep -c '^[0-9]')
    printf '[trace growth] %-28s %d tests x 2 recordings ' "$script" "$tests"
    for ((number = 1; number <= tests; number++)); do
        probe_once "$script" "$number" 100 &
        small=$!
        probe_once "$script" "$number" 1100 &
        large=$!
        status=0
        wait "$small" || status=1
        wait "$large" || status=1
        ((status == 0)) || return 1
        echo "Test $number: 100 calls -> $(<"$scratch/probe.$number.100.size") bytes; 1100 calls -> $(<"$scratch/probe.$number.1100.size") bytes" >>"$dir/${name}_trace.txt"
    done
    echo "done"
}

probe_once() { # probe_once SCRIPT TEST CALLS: the trace size goes to $scratch/probe.TEST.CALLS.size
    local base="$scratch/probe.$2.$3" size
    run_arm record "$1" "$base.out" "$base.retrace" --only "$2" --iterations "$3" --runs 1 --warmup 0 --settle 0 \
        || { echo "probe of test $2 failed: $(failure_reason "$base.out" $?)" >&2; return 1; }
    size=$(verify_trace "$base.out" "$base.retrace") || { echo "probe of test $2: $size" >&2; return 1; }
    rm -f "$base.retrace"
    echo "$size" >"$base.size"
}

# profile_regimes DIR SCRIPT: one recorded process timing chunks of calls of every test that
# the trace shows is recorded, after an idle pause: burst cost, sustained cost and the knee.
profile_regimes() {
    local dir=$1 script=$2 name only=() line number small large
    name=$(result_name "$script")
    while read -r line; do
        [[ $line =~ ^Test\ ([0-9]+):\ 100\ calls\ -\>\ ([0-9]+)\ bytes\;\ 1100\ calls\ -\>\ ([0-9]+) ]] || continue
        number=${BASH_REMATCH[1]} small=${BASH_REMATCH[2]} large=${BASH_REMATCH[3]}
        ((large - small >= 1000)) && only+=(--only "$number")   # at least 1 byte per call
    done <"$dir/${name}_trace.txt"
    if ((${#only[@]} == 0)); then
        echo "No test of $script is recorded: no regime profile." >"$dir/${name}_profile.txt"
        return 0
    fi
    printf '[regimes] %-28s %d recorded tests ' "$script" $((${#only[@]} / 2))
    local out="$scratch/$name.profile.out" recording="$scratch/$name.profile.retrace"
    run_arm record "$script" "$out" "$recording" --profile "${only[@]}" "${bench_args[@]}" \
        || { echo "FAILED ($(failure_reason "$out" $?))"; return 1; }
    verify_trace "$out" "$recording" >/dev/null || { echo "FAILED (trace not verified)"; return 1; }
    rm -f "$recording"
    cp "$out" "$dir/${name}_profile.txt"
    echo "done"
}

# check_replay DIR NAME: replay round 1's recording and compare its output with the recorded
# run's (the Recording: line names the mode, so it is left out of the comparison).
check_replay() {
    local dir=$1 name=$2
    local recording="$scratch/$name.replay.retrace" report="$dir/${name}_replay.txt"
    local extracted="$scratch/$name.extracted" replayed="$scratch/$name.replayed.out" pidfile
    printf '[replay] %-28s ' "$name"
    if [[ ! -x $venv/bin/replay ]]; then
        echo "Replay: skipped (this retracesoftware has no replay tool)" | tee "$report"
        return 0
    fi
    if ! "$venv/bin/replay" --recording "$recording" --extract "$extracted" >/dev/null 2>&1; then
        echo "Replay: skipped (replay --extract failed on the recording)" | tee "$report"
        return 0
    fi
    pidfile=$(find "$extracted" -name '*.bin' | head -n 1)
    timeout 300 "$venv/bin/replay" "$pidfile" --read_timeout 10 >"$replayed" 2>"$replayed.err" || true
    if diff <(grep -v '^Recording: ' "$scratch/$name.retrace.1.out" | grep -v '^Trace: ') \
            <(grep -v '^Recording: ' "$replayed") >"$scratch/$name.replay.diff"; then
        echo "Replay: identical ($(wc -l <"$replayed") lines compared)" | tee "$report"
    else
        {
            echo "Replay: differs"
            grep -m 4 '^[<>]' "$scratch/$name.replay.diff" | sed 's/^</  recorded:/; s/^>/  replayed:/' || true
            grep -m 1 -E '^[A-Za-z_.]*(Error|Exception)\b' "$replayed.err" | sed 's/^/  replay error: /' || true
        } >"$report"
        head -n 1 "$report"
    fi
    if ((keep_recordings)); then mv "$recording" "results/recordings/$name.1.retrace"; fi
}

# ---------------------------------------------------------------------------------------------
: >"$scratch/empty.py"
"${plain_env[@]}" "$PY" -m retracesoftware --recording "$scratch/empty.retrace" -- "$scratch/empty.py" \
    >/dev/null 2>&1 || die "retracesoftware cannot record even an empty script with $PY"
empty_trace_bytes=$(stat -c %s "$scratch/empty.retrace")

if ((self_check)); then
    echo "Self-check: A/A, calibration and timer fidelity ($rounds rounds)"
    run_rounds "$scratch/selfcheck/aa" plain synthetic_benchmark.py external_boundary_benchmark.py
    run_rounds "$scratch/selfcheck/calibration" record selfcheck/calibration_benchmark.py
    echo "[timer] python -m timeit time.time()"
    "${plain_env[@]}" "$PY" -m timeit -v -s 'import time' 'time.time()' >"$scratch/selfcheck/timeit.txt"
    ((${#failed[@]} == 0)) || die "self-check runs failed: ${failed[*]}"
    exec "$PY" analyze_results.py --self-check "$scratch/selfcheck"
fi

mapfile -t scripts < <(find . -maxdepth 1 -name '*_benchmark.py' ! -name production_benchmark.py -printf '%f\n' | sort)
((${#scripts[@]})) || die "no *_benchmark.py found in $PWD"
echo "Benchmarks: ${scripts[*]}"
mkdir -p results
find results -maxdepth 1 -type f \( -name '*.txt' -o -name '*.json' -o -name '*.png' \) -delete
if ((keep_recordings)); then mkdir -p results/recordings && chmod 700 results/recordings; fi

run_rounds results record "${scripts[@]}"
for script in "${scripts[@]}"; do
    name=$(result_name "$script")
    [[ -z ${failed[$name]:-} ]] || continue
    probe_trace_growth results "$script" && profile_regimes results "$script" \
        || failed[$name]="trace growth or regime profile failed"
    check_replay results "$name"
done

if ((production)); then
    if ! command -v ab >/dev/null; then
        echo "[production] skipped: ab (ApacheBench) not found; install it with: apt-get install apache2-utils"
    else
        production_args=()
        ((quick)) && production_args+=(--quick)
        ((keep_recordings)) && production_args+=(--keep-recordings)
        if ! "${plain_env[@]}" "$PY" production_benchmark.py --results results "${production_args[@]}" 2>&1 \
                | tee "$scratch/production.log" | grep --line-buffered '^\[production'; then
            failed[production]="production benchmark: $(grep -m 1 '^error: ' "$scratch/production.log" || tail -n 1 "$scratch/production.log")"
            echo "[production] FAILED (${failed[production]})"
        fi
    fi
fi

echo
status=0
"$PY" analyze_results.py results || status=$?
archive="results/archive/v${retrace_version}_$(date +%Y-%m-%d_%H%M%S)"
mkdir -p "$archive"
find results -maxdepth 1 -type f \( -name '*.txt' -o -name '*.json' -o -name '*.png' \) -exec cp {} "$archive/" \;
"$PY" analyze_results.py --manifest "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$rounds" "$quick" >"$archive/manifest.json"
echo "Archived to $archive/"
if ((${#failed[@]})); then
    echo "error: ${#failed[@]} benchmark(s) failed: ${!failed[*]} (see results/summary.txt)" >&2
    exit 1
fi
exit "$status"
