"""The parser and the arithmetic, on real sample outputs of both built-in benchmarks."""

import re
import statistics

import analyze_results as ar
from conftest import SAMPLE


def test_parses_every_process_and_test_of_the_samples():
    benchmarks = {b.name: b for b in ar.parse_results_dir(SAMPLE)}
    assert set(benchmarks) == {"internal", "external"}
    for bench in benchmarks.values():
        assert bench.failure is None
        assert len(bench.baseline) == len(bench.retrace) == 2      # two rounds
        assert [t.number for t in bench.baseline[0].tests] == list(range(1, 8))
        assert all(p.recording == "OFF" for p in bench.baseline)
        assert all(p.recording.startswith("ON -> ") for p in bench.retrace)
        assert all(p.trace_bytes and p.trace_bytes > 12_000 for p in bench.retrace)
    names = [t.name for t in benchmarks["internal"].baseline[0].tests]
    assert names[:2] == ["time.time()", "datetime.now()"]
    external = [t.name for t in benchmarks["external"].baseline[0].tests]
    assert external[0] == "os.environ.get()" and "file open()+read() 1 KiB" in external


def test_header_fields_come_from_the_outputs():
    process = ar.parse_output_file(SAMPLE / "internal_baseline.txt")[0][0]
    assert process.system["python"].startswith("3.")
    assert process.system["cpu_count"].isdigit()
    assert re.fullmatch(r"\d+\.\d+\.\d+", process.system["retrace_version"])


def test_runs_match_the_printed_average_and_per_operation():
    text = (SAMPLE / "internal_baseline.txt").read_text()
    first_test = text.split("## Test 1: ")[1].split("## Test 2")[0]
    printed_average = float(re.search(r"Average: ([\d.]+) ms", first_test).group(1))
    printed_per_op = float(re.search(r"Per-operation: ([\d.]+) µs", first_test).group(1))
    test = ar.parse_output_file(SAMPLE / "internal_baseline.txt")[0][0].tests[0]
    assert len(test.runs_ms) == 5
    assert abs(statistics.fmean(test.runs_ms) - printed_average) < 1e-3
    assert abs(statistics.fmean(test.per_op_us) - printed_per_op) < 1e-2
    assert test.per_op_us[0] == test.runs_ms[0] * 1000 / test.iterations


def test_overhead_is_recorded_minus_baseline_per_operation():
    results = {r.name: r for r in ar.compute(ar.parse_results_dir(SAMPLE))}
    for result in results.values():
        for t in result.tests:
            assert abs(t.overhead_us - (t.retrace.per_op_median_us - t.baseline.per_op_median_us)) < 1e-12
            assert abs(t.overhead_percent - t.overhead_us / t.baseline.per_op_median_us * 100) < 1e-9
            assert t.ci_low_us <= t.ci_high_us


def test_per_process_figures_are_medians_of_runs():
    bench = next(b for b in ar.parse_results_dir(SAMPLE) if b.name == "internal")
    stats, samples = ar.arm_stats(bench.baseline, 1)
    assert len(samples) == 10          # two processes: too few for process figures, runs are used
    assert stats.per_op_median_us == statistics.median(
        x for p in bench.baseline for x in p.tests[0].per_op_us)


def test_trace_growth_gives_bytes_per_operation():
    results = {r.name: r for r in ar.compute(ar.parse_results_dir(SAMPLE))}
    by_name = {t.name: t for r in results.values() for t in r.tests}
    # 25 000 bytes for 1 000 more time.time() calls in the sample
    assert by_name["time.time()"].trace_bytes_per_op == (41121 - 16120) / 1000
    assert by_name["time.time()"].recorded is True
    assert by_name["integer arithmetic"].recorded is False
    assert by_name["os.environ.get()"].recorded is False


def test_profile_and_replay_files_are_read():
    bench = next(b for b in ar.parse_results_dir(SAMPLE) if b.name == "internal")
    assert set(bench.profile) == {1, 2}            # only the recorded tests are profiled
    assert bench.profile_chunk == 500
    assert all(len(chunks) > 4 for chunks in bench.profile.values())
    assert bench.replay[0].startswith("Replay: identical")


def test_summary_lists_every_test_with_its_verdicts(sample_dir):
    assert ar.main([str(sample_dir)]) == 0
    summary = (sample_dir / "summary.txt").read_text()
    for bench in ar.parse_results_dir(SAMPLE):
        for test in bench.baseline[0].tests:
            assert f"Test {test.number}: {test.name}" in summary
    assert summary.count("    overhead  ") - summary.count("    overhead  throughput") == 14
    assert summary.count("95% CI") == 14
    assert "recorded: yes (25 B/op)" in summary
    assert "Replay check: identical" in summary
    assert "retracesoftware 0.2.30" in summary


def test_machine_readable_outputs(sample_dir):
    ar.main([str(sample_dir)])
    import json
    summary = json.loads((sample_dir / "summary.json").read_text())
    tests = [t for b in summary["benchmarks"] for t in b["tests"]]
    assert len(tests) == 14
    assert {"overhead_us", "ci_low_us", "ci_high_us", "within_noise", "trace_bytes_per_op"} <= set(tests[0])
    action = json.loads((sample_dir / "benchmark-action.json").read_text())
    assert len(action) == 14
    assert all(set(e) >= {"name", "unit", "value"} and isinstance(e["value"], float) for e in action)


def test_summary_has_the_production_section(sample_dir):
    assert ar.main([str(sample_dir)]) == 0
    summary = (sample_dir / "summary.txt").read_text()
    assert '## Production benchmark (spec: "<1% latency increase for most endpoints")' in summary
    for path in ("/api/report/7", "/api/orders/7"):
        assert f"\n  {path}\n" in summary
    assert summary.count("    overhead  throughput") == 2
    assert "Request breakdown" in summary


def test_production_summary_arithmetic():
    import json
    import production_benchmark as pb
    data = json.loads((SAMPLE / "production.json").read_text())
    s = pb.summarise(data)["paths"]["/api/report/7"]
    plain, recorded = s["plain"]["requests_per_s"], s["recorded"]["requests_per_s"]
    assert abs(s["throughput_drop_percent"] - (plain - recorded) / plain * 100) < 1e-9
    assert abs(s["p99_increase_percent"]
               - (s["recorded"]["p99_ms"] - s["plain"]["p99_ms"]) / s["plain"]["p99_ms"] * 100) < 1e-9


def test_production_notes_overlapping_rounds():
    import json
    import production_benchmark as pb
    data = json.loads((SAMPLE / "production.json").read_text())
    assert "round ranges overlap" not in pb.render(data)        # 229 vs 137 req/s: clearly apart
    plain = next(r for r in data["runs"] if r["arm"] == "plain")
    recorded = dict(plain, arm="recorded", round=2)
    assert "round ranges overlap" in pb.render(dict(data, runs=[plain, recorded]))
