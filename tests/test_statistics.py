"""Statistics and verdicts on synthetic run data (no timing assertions)."""

import random

import analyze_results as ar
import benchlib


def test_bootstrap_interval_is_deterministic_and_ordered():
    a, b = [1.0, 1.1, 0.9, 1.05], [2.0, 2.1, 1.9, 2.2]
    first = benchlib.bootstrap_median_difference_ci(a, b, 0.95)
    assert first == benchlib.bootstrap_median_difference_ci(a, b, 0.95)
    low, high = first
    assert low <= 1.0 <= high and low > 0


def test_bootstrap_interval_covers_zero_for_identical_distributions():
    rng = random.Random(1)
    a = [rng.gauss(10, 1) for _ in range(5)]
    b = [rng.gauss(10, 1) for _ in range(5)]
    low, high = benchlib.bootstrap_median_difference_ci(a, b, 1 - 0.05 / 14)
    assert low < 0 < high


def test_wider_confidence_gives_a_wider_interval():
    a, b = [1.0, 1.2, 0.8, 1.1, 0.95], [1.5, 1.7, 1.4, 1.6, 1.9]
    low95, high95 = benchlib.bootstrap_median_difference_ci(a, b, 0.95)
    low99, high99 = benchlib.bootstrap_median_difference_ci(a, b, 0.999)
    assert low99 <= low95 and high99 >= high95


def test_coefficient_of_variation():
    assert benchlib.coefficient_of_variation([2.0]) == 0.0
    assert abs(benchlib.coefficient_of_variation([1.0, 3.0]) - 2 ** 0.5 / 2) < 1e-12


def test_regimes_find_the_knee():
    chunks = [0.8] * 40 + [25.0] * 80      # burst for 20 000 calls, then writer-bound
    regimes = ar.regimes_of(chunks, 500, baseline_us=0.1)
    assert regimes.burst_us == 0.8 and regimes.sustained_us == 25.0
    assert regimes.knee_calls == 20_000
    assert abs(regimes.burst_overhead_us - 0.7) < 1e-12
    assert regimes.calls_profiled == 60_000


def test_regimes_without_a_knee():
    regimes = ar.regimes_of([30.0, 31.0, 29.0, 30.5] * 5, 500, baseline_us=10.0)
    assert regimes.knee_calls is None
    assert 19 < regimes.sustained_overhead_us < 21


def arm(median, cv=0.05):
    return ar.ArmStats(median, median, median * cv, cv, median, 4, 20)


def test_spec_verdicts():
    assert "as the spec expects" in ar.spec_verdict(ar.INTERNAL, 0.001, 1.0, True)
    assert "NOT as the spec expects" in ar.spec_verdict(ar.INTERNAL, 1.7, 1400, False)
    assert "within the spec's" in ar.spec_verdict(ar.BOUNDARY, 2.0, 500, False)
    assert "outside the spec's" in ar.spec_verdict(ar.BOUNDARY, 40.0, 170, False)
    assert "no measurable overhead" in ar.spec_verdict(ar.BOUNDARY, 0.1, 10, True)


def test_red_flags():
    recorded = ar.red_flags(ar.INTERNAL, arm(0.1), arm(1.8), 1.7, 1600, 25.0, False)
    assert len(recorded) == 1 and "records this call" in recorded[0]
    unrecorded = ar.red_flags(ar.INTERNAL, arm(0.1), arm(1.8), 1.7, 1600, 0.0, False)
    assert "measurement issue" in unrecorded[0]
    assert ar.red_flags(ar.BOUNDARY, arm(10), arm(70), 60, 600, 200, False)[0].startswith("more than 50 µs")
    noisy = ar.red_flags(ar.BOUNDARY, arm(10, cv=0.3), arm(11), 1, 10, 0, False)
    assert "baseline runs vary by 30%" in noisy[0]
    assert ar.red_flags(ar.INTERNAL, arm(0.1), arm(0.3), 0.2, 200, 0, True) == []


def synthetic_process(per_op_us, recording="OFF", iterations=1000):
    runs = [[x * iterations / 1000 for x in per_op_us]]
    tests = [ar.TestRuns(1, "op", ar.BOUNDARY, iterations, runs[0])]
    return ar.ProcessOutput("x_benchmark.py", {"timestamp": "t"}, recording, tests)


def bench_from(baseline_runs, retrace_runs):
    bench = ar.BenchmarkInput("x")
    bench.baseline = [synthetic_process(r) for r in baseline_runs]
    bench.retrace = [synthetic_process(r, "ON -> /x") for r in retrace_runs]
    return bench


def test_aa_analysis_path_is_within_noise_on_noisy_identical_data():
    rng = random.Random(7)
    noisy = lambda: [rng.uniform(1.0, 1.5) for _ in range(5)]   # the 1.5x spread of this machine
    result = ar.compute([bench_from([noisy() for _ in range(4)], [noisy() for _ in range(4)])])
    assert result[0].tests[0].within_noise


def test_calibration_analysis_path_reports_an_injected_cost():
    rng = random.Random(3)
    base = [[rng.gauss(0.05, 0.005) for _ in range(5)] for _ in range(4)]
    treated = [[x + 2.0 for x in runs] for runs in base]
    t = ar.compute([bench_from(base, treated)])[0].tests[0]
    assert not t.within_noise
    assert abs(t.overhead_us - 2.0) < 0.2
    assert t.ci_source == "processes" and t.ci_low_us > 0


def test_small_differences_are_within_noise_even_with_tight_intervals():
    base = [[10.0] * 5 for _ in range(4)]
    treated = [[10.1] * 5 for _ in range(4)]      # 1%: below the 2% minimum effect
    assert ar.compute([bench_from(base, treated)])[0].tests[0].within_noise


TIMEIT_OUTPUT = """1 loop -> 1.1e-06 secs
2000000 loops -> 0.207 secs

raw times: 207 msec, 206 msec, 212 msec, 215 msec, 213 msec

2000000 loops, best of 5: 103 nsec per loop
"""


def test_timeit_median_is_taken_from_the_raw_times(tmp_path):
    (tmp_path / "timeit.txt").write_text(TIMEIT_OUTPUT)
    assert abs(ar.parse_timeit_median_us(tmp_path / "timeit.txt") - 0.106) < 1e-9


def write_arms(directory, name, baseline_text, retrace_text):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}_baseline.txt").write_text(baseline_text)
    (directory / f"{name}_retrace.txt").write_text(retrace_text)


def test_self_check_judges_aa_calibration_and_timer(tmp_path, capsys):
    from conftest import SAMPLE
    plain = (SAMPLE / "internal_baseline.txt").read_text()
    write_arms(tmp_path / "aa", "internal", plain, plain)           # A/A: the same data twice
    header = ("# Retrace benchmark: calibration_benchmark.py\nPython: 3.11.7 (CPython)\nOS: Linux x\n"
              "CPU count: 2\nTimestamp: t\nretracesoftware: 0.2.30\nRecording: {}\n")
    test = ("\n## Test 1: injected 2 µs per op when recorded\nCategory: internal\nIterations: 1000\n"
            + "".join(f"  Run {i}: {{:.4f}} ms\n" for i in range(1, 6))
            + "  Average: 1 ms\n  Per-operation: 1 µs\n")
    base = "".join(header.format("OFF") + test.format(*[0.05 + 0.001 * i for i in range(5)]) for _ in range(4))
    treated = "".join(header.format("ON -> /x") + test.format(*[2.05 + 0.001 * i for i in range(5)])
                      for _ in range(4))
    write_arms(tmp_path / "calibration", "calibration", base, treated)
    (tmp_path / "timeit.txt").write_text(TIMEIT_OUTPUT)
    status = ar.self_check(tmp_path)
    out = capsys.readouterr().out
    assert "[ok] internal: time.time()" in out
    assert "[ok] injected 2 µs per op when recorded: measured +2.000 µs/op" in out
    # the sample's time.time() (~0.09 µs) against timeit's 0.106 µs: within 1.3x
    assert "Timer fidelity" in out and "MISS" not in out and status == 0
