"""Statistics and the analysis on constructed data: intervals, verdicts, A/A, calibration."""

import random

import pytest

from retrace_bench import arms as arms_mod, effects, facts, selfcheck
from retrace_bench.ops import analysis
from retrace_bench.ops.run import BenchmarkData, ProcessEntry, RunData
from retrace_bench.rounds import Target
from retrace_bench.handover import ProcessRecord, Run, TestRecord
from retrace_bench.stats import coefficient_of_variation, family_confidence, paired_t_interval, t_quantile


def test_t_quantiles_match_the_tables():
    assert t_quantile(0.975, 1) == pytest.approx(12.706, abs=1e-3)
    assert t_quantile(0.975, 5) == pytest.approx(2.571, abs=1e-3)
    assert t_quantile(0.995, 10) == pytest.approx(3.169, abs=1e-3)
    assert t_quantile(0.025, 5) == pytest.approx(-2.571, abs=1e-3)


def test_paired_interval_is_not_degenerate_at_four_rounds():
    interval = paired_t_interval([1.0, 2.0, 3.0, 4.0], 0.95)
    assert interval.estimate == 2.5 and interval.n == 4
    # a bootstrap of four values cannot reach beyond [1, 4]; Student's t does
    assert interval.low < 1.0 and interval.high > 4.0
    assert paired_t_interval([1.0], 0.95) is None


def test_bonferroni_and_cv():
    assert family_confidence(0.95, 10) == pytest.approx(0.995)
    assert coefficient_of_variation([1.0, 1.0]) == 0
    assert coefficient_of_variation([1.0]) == 0


def test_target_parsing():
    target = Target.parse("5%,0.05us")
    assert target.half_width_us(10) == pytest.approx(0.5) and target.half_width_us(0.1) == 0.05
    assert Target.parse("0.1us").half_width_us(100) == 0.1
    for bad in ("", "5", "-5%", "abc%"):
        with pytest.raises(ValueError):
            Target.parse(bad)


def record(wall_us, cpu_us, iterations=1000, tests=(("op", "internal"),), mode="plain"):
    """A process record whose every run costs wall_us / cpu_us per operation, per test."""
    return ProcessRecord("x_benchmark.py", {"python": "3.11", "os": "Linux", "cpu_count": "2",
                                            "timestamp": "2026-11-28T00:00:00", "retrace_version": "0.2.30"},
                         mode, None, [TestRecord(i, name, category, iterations,
                                                 [Run(w * iterations / 1e3, c * iterations / 1e3)
                                                  for w, c in zip(wall_us[i - 1], cpu_us[i - 1])])
                                      for i, (name, category) in enumerate(tests, 1)])


def run_data(arms, make, rounds=6):
    bench = BenchmarkData("x", "x_benchmark.py")
    for r in range(1, rounds + 1):
        for arm in arms:
            bench.processes.append(ProcessEntry(arm["label"], r, 1, make(arm["label"], r).to_json()))
    return RunData(arms, {"rounds_run": rounds}, [bench])


PLAIN = {"label": "plain", "kind": "plain", "version": None}
RETRACE = {"label": "retrace", "kind": "retrace", "version": "0.2.30"}


def noisy(rng, centre, n=5, spread=0.1):
    return [centre * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def test_aa_on_noisy_identical_data_is_within_noise():
    rng = random.Random(1)
    arms = [PLAIN, {**PLAIN, "label": "plain#2"}]
    data = run_data(arms, lambda arm, r: record([noisy(rng, 2.0)], [noisy(rng, 2.1)]))
    comparison = analysis.analyse(data).benchmarks[0].tests[0].comparisons[0]
    assert comparison.kind == "aa"
    assert comparison.latency.verdict == facts.WITHIN_NOISE and comparison.cpu.verdict == facts.WITHIN_NOISE


def test_overhead_latency_and_cpu_are_read_back():
    rng = random.Random(2)

    def make(arm, r):
        extra_wall, extra_cpu = (2.0, 20.0) if arm == "retrace" else (0.0, 0.0)
        return record([noisy(rng, 1.0 + extra_wall, spread=0.02)], [noisy(rng, 1.0 + extra_cpu, spread=0.02)])
    test = analysis.analyse(run_data([PLAIN, RETRACE], make)).benchmarks[0].tests[0]
    c = test.comparisons[0]
    assert c.kind == "overhead" and c.latency.verdict == facts.SLOWER and c.cpu.verdict == facts.SLOWER
    assert c.latency.estimate == pytest.approx(2.0, rel=0.05)
    assert c.cpu.estimate == pytest.approx(20.0, rel=0.05)
    assert c.latency.low < c.latency.estimate < c.latency.high
    kinds = {f.kind for f in test.findings}
    assert "spec_internal_missed" in kinds and "internal_over_100" in kinds


def test_version_difference_has_its_own_verdict():
    rng = random.Random(3)
    arms = [PLAIN, {**RETRACE, "label": "retrace==0.2.29"}, {**RETRACE, "label": "retrace==0.2.30"}]
    cost = {"plain": 1.0, "retrace==0.2.29": 3.0, "retrace==0.2.30": 5.0}
    data = run_data(arms, lambda arm, r: record([noisy(rng, cost[arm], spread=0.02)], [noisy(rng, cost[arm], spread=0.02)]))
    comparisons = analysis.analyse(data).benchmarks[0].tests[0].comparisons
    versions = [c for c in comparisons if c.kind == "versions"]
    assert len(versions) == 1 and versions[0].a == "retrace==0.2.29" and versions[0].b == "retrace==0.2.30"
    assert versions[0].latency.verdict == facts.SLOWER
    assert versions[0].latency.estimate == pytest.approx(2.0, rel=0.05)


def test_every_version_is_compared_with_the_first_the_baseline():
    labels = ["retrace==0.2.28", "retrace==0.2.29", "retrace==0.2.30"]
    pairs = arms_mod.comparison_pairs([PLAIN] + [{**RETRACE, "label": label} for label in labels])
    assert [(a, b) for a, b, kind in pairs if kind == "versions"] == [
        ("retrace==0.2.28", "retrace==0.2.29"), ("retrace==0.2.28", "retrace==0.2.30")]


def test_a_cpu_only_regression_fails_the_gate():
    rng = random.Random(8)
    arms = [PLAIN, {**RETRACE, "label": "retrace==0.2.29"}, {**RETRACE, "label": "retrace==0.2.30"}]
    cpu = {"plain": 1.0, "retrace==0.2.29": 20.0, "retrace==0.2.30": 25.0}      # latency unchanged
    data = run_data(arms, lambda arm, r: record([noisy(rng, 2.0, spread=0.01)], [noisy(rng, cpu[arm], spread=0.01)]))
    found = effects.regressions(analysis.effect_rows(analysis.analyse(data)))
    assert len(found) == 1 and found[0]["what"] == "cpu" and found[0]["a"] == "retrace==0.2.29"
    assert "cpu (retrace==0.2.30 vs retrace==0.2.29)" in effects.row_text(found[0])


def test_the_per_process_figure_is_the_mean_of_a_two_state_mixture():
    from retrace_bench.stats import process_figure
    # 3 fast and 2 slow runs: the median is the fast state; the user pays the mean
    assert process_figure([0.8, 0.8, 0.8, 1.6, 1.6]) == pytest.approx(1.12)


def test_rounds_are_rounded_up_to_a_balanced_design():
    from retrace_bench.arms import balanced_rounds
    assert balanced_rounds(8, 2) == 8 and balanced_rounds(8, 3) == 12 and balanced_rounds(8, 5) == 10
    assert balanced_rounds(4, 7, carry_over=False) == 7 and balanced_rounds(4, 7) == 14


@pytest.mark.parametrize("count", [2, 3, 4, 5, 6, 7])
def test_the_design_balances_positions_and_predecessors(count):
    """A Williams design: each arm in each position, and after each other arm, equally often. The
    old cyclic rotation gave every arm the same predecessor in every round (a carry-over bias)."""
    from collections import Counter
    from retrace_bench.arms import design_period, rotation
    arms = [f"arm{i}" for i in range(count)]
    rows = [rotation(arms, r) for r in range(1, 2 * design_period(count) + 1)]
    assert all(sorted(row) == arms for row in rows)
    positions = Counter((arm, i) for row in rows for i, arm in enumerate(row))
    after = Counter((row[i - 1], row[i]) for row in rows for i in range(1, count))
    assert len(positions) == count * count and len(set(positions.values())) == 1
    assert len(after) == count * (count - 1) and len(set(after.values())) == 1


def test_small_differences_are_within_noise_even_with_tight_intervals():
    data = run_data([PLAIN, RETRACE], lambda arm, r: record([[1.0 + (0.01 if arm == "retrace" else 0)] * 5],
                                                            [[1.0 + 0.001 * r] * 5]))
    c = analysis.analyse(data).benchmarks[0].tests[0].comparisons[0]
    assert c.latency.verdict == facts.WITHIN_NOISE      # 1% and 0.01 µs: under the minimum effect


def test_a_wide_interval_cannot_confirm_the_spec():
    rng = random.Random(4)
    data = run_data([PLAIN, RETRACE], lambda arm, r: record([noisy(rng, 1.0, spread=0.9)], [noisy(rng, 1.0, spread=0.9)]),
                    rounds=2)
    test = analysis.analyse(data).benchmarks[0].tests[0]
    assert any(f.kind == "spec_undetermined" for f in test.findings)


def test_target_resolution_is_checked():
    rng = random.Random(5)
    data = run_data([PLAIN, RETRACE], lambda arm, r: record([noisy(rng, 1.0, spread=0.5)], [noisy(rng, 1.0)]))
    test = analysis.analyse(data, target=Target(None, 0.0001)).benchmarks[0].tests[0]
    assert not test.comparisons[0].meets_target
    assert any(f.kind == "target_missed" for f in test.findings)
    assert analysis.analyse(data, target=Target(None, 100)).benchmarks[0].tests[0].comparisons[0].meets_target


def test_regimes_find_the_knee_and_compare_with_cpu():
    chunks = [1.0] * 40 + [30.0] * 40
    r = analysis.regimes_of(chunks, 500, 0.1, 31.0)
    assert r.knee_calls == 20_000 and r.burst_overhead_us == pytest.approx(0.9)
    assert r.sustained_overhead_us == pytest.approx(29.9)
    assert analysis.regimes_of([1.0] * 20, 500, 0.1, None).knee_calls is None


def test_self_check_judges_aa_calibration_and_timer(capsys):
    rng = random.Random(6)
    aa = run_data([PLAIN, {**PLAIN, "label": "plain#2"}],
                  lambda arm, r: record([noisy(rng, 0.1, spread=0.05)], [noisy(rng, 0.1, spread=0.05)],
                                        tests=(("time.time()", "internal"),)))
    recorded_aa = run_data([RETRACE, {**RETRACE, "label": "retrace#2"}],
                           lambda arm, r: record([noisy(rng, 2.0, spread=0.05)], [noisy(rng, 30.0, spread=0.05)]))
    calibration_tests = (("injected 2 µs per op when recorded", "internal"),
                         ("deferred 20 µs CPU per op when recorded", "internal"))

    def calibration(arm, r):
        rec = arm == "retrace"
        return record([noisy(rng, 2.05 if rec else 0.05, spread=0.01), noisy(rng, 0.1, spread=0.01)],
                      [noisy(rng, 2.05 if rec else 0.05, spread=0.01), noisy(rng, 20.1 if rec else 0.1, spread=0.01)],
                      tests=calibration_tests)
    work_arm = {**RETRACE, "label": "retrace+work"}
    sensitivity_tests = (("time.time() (+ the known work in the injected arm)", "internal"),
                         ("the known work alone", "internal"))

    def sensitivity(arm, r, work=0.35):
        clock = {"plain": 0.1, "retrace": 1.5, "retrace+work": 1.5 + work}[arm]
        cpu = {"plain": 0.1, "retrace": 25.0, "retrace+work": 25.0 + work}[arm]
        return record([noisy(rng, clock, spread=0.01), noisy(rng, work, spread=0.01)],
                      [noisy(rng, cpu, spread=0.001), noisy(rng, work, spread=0.01)], tests=sensitivity_tests)
    runs = {"aa": aa, "recorded_aa": recorded_aa, "calibration": run_data([PLAIN, RETRACE], calibration),
            "sensitivity": run_data([PLAIN, RETRACE, work_arm], sensitivity)}
    assert selfcheck.judge(runs, [(0.1, 0.1), (0.11, 0.1), (0.1, 0.09)]) == 0
    out = capsys.readouterr().out
    assert "Self-check passed" in out and "recorded A/A latency: median" in out
    assert selfcheck.judge(runs, [(0.1, 1.0), (0.1, 1.0), (0.1, 1.0)]) == 1
    # a sensitivity check that does not find the injected change fails the self-check
    runs["sensitivity"] = run_data([PLAIN, RETRACE, work_arm], lambda arm, r: sensitivity(arm, r, work=0.0001))
    assert selfcheck.judge(runs, [(0.1, 0.1), (0.11, 0.1), (0.1, 0.09)]) == 1


def test_runs_stop_by_the_rule_in_facts():
    import benchlib
    rule = benchlib.RunRule(budget_s=10.0)
    steady = [Run(1.0, 1.0)] * facts.MIN_RUNS
    assert not benchlib.enough_runs(steady[:-1], 1000, None, 0.0, rule)       # below the minimum
    assert benchlib.enough_runs(steady, 1000, None, 0.0, rule)                # steady: stop at the minimum
    mixture = [Run(0.8 if i % 2 else 1.6, 1.0) for i in range(facts.MIN_RUNS)]
    assert not benchlib.enough_runs(mixture, 1000, None, 0.0, rule)           # two states: go on
    assert benchlib.enough_runs(mixture, 1000, None, 10.0, rule)              # until the budget
    long = [Run(0.8 if i % 2 else 1.6, 1.0) for i in range(facts.MAX_RUNS)]
    assert benchlib.enough_runs(long, 1000, None, 0.0, rule)                  # or the cap
    assert not benchlib.enough_runs(steady[:2], 1000, 3, 0.0, rule)           # --runs N: exactly N
    assert benchlib.enough_runs(steady[:3], 1000, 3, 0.0, rule)
    quick = benchlib.RunRule.quick()
    assert benchlib.enough_runs(mixture[:facts.QUICK_MAX_RUNS], 1000, None, 0.0, quick)   # a smoke run


def test_one_round_is_cannot_tell_never_within_noise():
    arms = [PLAIN, {**RETRACE, "label": "retrace==0.2.29"}, {**RETRACE, "label": "retrace==0.2.30"}]
    cost = {"plain": 1.0, "retrace==0.2.29": 2.0, "retrace==0.2.30": 40.0}       # +1900%: still no interval
    data = run_data(arms, lambda arm, r: record([[cost[arm]] * 5], [[cost[arm]] * 5]), rounds=1)
    result = analysis.analyse(data)
    comparisons = result.benchmarks[0].tests[0].comparisons
    assert {c.latency.verdict for c in comparisons} == {facts.CANNOT_TELL}
    rows = analysis.effect_rows(result)
    assert effects.regressions(rows) == [] and {r["what"] for r in effects.undecided(rows)} == {"latency", "cpu"}
    assert all(r["b"] == "retrace==0.2.30" for r in effects.undecided(rows))
    from retrace_bench.ops.report import difference_text
    assert difference_text(comparisons[-1].latency, versions=True).startswith("cannot tell (one round) (+38.0 µs/op (+1900%))")


def test_two_tests_with_one_name_are_told_apart_and_warned_about():
    import json
    from retrace_bench.ops import report
    rng = random.Random(10)
    tests = (("op", "internal"), ("op", "internal"))
    data = run_data([PLAIN, RETRACE], lambda arm, r: record([noisy(rng, 1.0), noisy(rng, 1.0)],
                                                            [noisy(rng, 1.0), noisy(rng, 1.0)], tests=tests))
    result = analysis.analyse(data)
    names = [e["name"] for e in json.loads(report.render_action_benchmark(result))]
    assert len(names) == len(set(names)) == 4 and "x: op (test 2): latency retrace - plain" in names
    assert "WARNING: tests 1, 2 have the same name 'op'" in "\n".join(report.body_lines(result))


def test_every_output_file_gets_the_same_mode(tmp_path):
    import os
    from retrace_bench.results import write_atomically
    umask = os.umask(0o022)
    try:
        write_atomically(tmp_path / "summary.txt", "x")
        (tmp_path / "other.txt").write_text("x")
    finally:
        os.umask(umask)
    assert (tmp_path / "summary.txt").stat().st_mode & 0o777 == (tmp_path / "other.txt").stat().st_mode & 0o777 == 0o644
