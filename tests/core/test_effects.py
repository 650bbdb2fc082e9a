"""The one verdict rule and the one Effect (retrace_bench/effects.py), for every unit the suite
compares in: µs per call, instructions per call, ratios and percent changes."""

import math

import pytest

from retrace_bench import effects, facts
from retrace_bench.effects import INSTRUCTIONS, PERCENT, RATIO, US


@pytest.mark.parametrize("estimate,low,high,unit,reference,exact,verdict", [
    # instructions per call, reference 100: the 1% minimum of an exact count
    (1.1, 0.5, 1.7, INSTRUCTIONS, 100.0, True, facts.SLOWER),
    (0.9, 0.5, 1.3, INSTRUCTIONS, 100.0, True, facts.WITHIN_NOISE),   # under 1%, although the interval excludes 0
    (5.0, -1.0, 11.0, INSTRUCTIONS, 100.0, True, facts.WITHIN_NOISE),  # the interval holds 0
    (-2.0, -3.0, -1.0, INSTRUCTIONS, 100.0, True, facts.FASTER),
    (3.0, None, None, INSTRUCTIONS, 100.0, True, facts.CANNOT_TELL),  # one round
    # µs per call: 2% of the reference and at least 0.05 µs
    (0.04, 0.03, 0.05, US, 0.5, False, facts.WITHIN_NOISE),            # 8%, but under the 0.05 µs floor
    (0.06, 0.05, 0.07, US, 0.5, False, facts.SLOWER),
    (0.15, 0.1, 0.2, US, 10.0, False, facts.WITHIN_NOISE),             # over 0.05 µs, under 2%
    # ratios: the null is 1x
    (1.015, 1.01, 1.02, RATIO, 1.0, False, facts.WITHIN_NOISE),
    (1.05, 1.03, 1.07, RATIO, 1.0, False, facts.SLOWER),
    (0.9, 0.85, 0.95, RATIO, 1.0, False, facts.FASTER),
    (1.015, 1.01, 1.02, RATIO, 1.0, True, facts.SLOWER),              # an instruction ratio: 1% suffices
    (1.2, 0.9, 1.5, RATIO, 1.0, False, facts.WITHIN_NOISE),
    # percent changes
    (1.0, 0.5, 1.5, PERCENT, 10.0, False, facts.WITHIN_NOISE),
    (5.0, 3.0, 7.0, PERCENT, 10.0, False, facts.SLOWER),
])
def test_the_verdict_rule(estimate, low, high, unit, reference, exact, verdict):
    assert effects.judge(estimate, low, high, unit, reference, exact) == verdict


def test_a_throughput_that_rises_is_faster():
    assert effects.judge(-20.0, -30.0, -10.0, PERCENT, 100.0, higher_is_worse=False) == facts.SLOWER
    assert effects.judge(20.0, 10.0, 30.0, PERCENT, 100.0, higher_is_worse=False) == facts.FASTER


def test_a_paired_difference_pairs_by_round():
    a = {1: 10.0, 2: 20.0, 3: 30.0, 4: 99.0}            # round 4 has no B: left out, of A's figure too
    b = {1: 11.0, 2: 21.1, 3: 30.9}
    e = effects.difference("latency", US, a, b, 0.95)
    assert e.rounds == 3 and e.estimate == pytest.approx(1.0) and e.reference == pytest.approx(20.0)
    assert e.low < 1.0 < e.high and e.percent == pytest.approx(5.0)
    assert e.verdict == facts.SLOWER
    one = effects.difference("latency", US, {1: 10.0}, {1: 12.0}, 0.95)
    assert one.verdict == facts.CANNOT_TELL and one.estimate == 2.0 and one.interval() is None


def test_a_log_ratio_cannot_pass_zero_and_is_symmetric():
    pairs = [(1.0, 0.5), (1.0, 0.4), (1.0, 0.6)]
    e = effects.log_ratio("time", pairs, 0.95)
    assert 0 < e.low < e.estimate < e.high and e.estimate == pytest.approx(math.exp(sum(map(math.log, (0.5, 0.4, 0.6))) / 3))
    inverse = effects.log_ratio("time", [(b, a) for a, b in pairs], 0.95)
    assert inverse.estimate == pytest.approx(1 / e.estimate) and inverse.low == pytest.approx(1 / e.high)
    assert effects.log_ratio("time", [(0.0, 1.0), (None, 2.0)], 0.95) is None


def test_a_percent_change_keeps_its_medians_and_takes_the_log_ratio_interval():
    e = effects.percent_change("requests_per_s", 100.0, 50.0, [(100.0, 50.0), (110.0, 52.0), (90.0, 47.0)], 0.95,
                               higher_is_worse=False)
    assert e.estimate == -50.0 and -100 < e.low < e.high < 0 and e.verdict == facts.SLOWER


def test_an_effect_carries_where_it_comes_from_into_json():
    e = effects.difference("caller", INSTRUCTIONS, {1: 100.0, 2: 100.0}, {1: 110.0, 2: 112.0}, 0.95, exact=True)
    row = e.to_json(workload="ops", a="plain", b="retrace")
    assert row["workload"] == "ops" and row["what"] == "caller" and row["unit"] == INSTRUCTIONS
    assert row["percent"] == pytest.approx(11.0) and row["verdict"] == e.verdict


def test_the_gate_fails_on_a_gated_regression_or_a_figure_it_cannot_tell_and_nothing_else():
    from retrace_bench.section import Section
    from retrace_bench.summary import gate
    slower = effects.difference("caller", INSTRUCTIONS, {1: 100.0, 2: 100.0}, {1: 120.0, 2: 121.0}, 0.95, exact=True)
    one_round = effects.difference("latency", US, {1: 1.0}, {1: 2.0}, 0.95)
    sections = [Section("ops", [], {}, gates=True)]
    def rows(effect, gated):
        return [effects.row(effect, "ops", "t", "retrace==0.2.29", "retrace==0.2.30", "versions", gated)]
    assert slower.verdict == facts.SLOWER and one_round.verdict == facts.CANNOT_TELL
    assert gate(sections, rows(slower, True)) == 1
    assert gate(sections, rows(slower, False)) == 0          # information, not the gate's measure
    assert gate(sections, rows(one_round, True)) == 1         # no interval: the gate passes only on evidence
    assert gate(sections, rows(one_round, False)) == 0
    assert gate([Section("ops", [], {}, gates=False)], rows(slower, True)) == 2      # nothing to gate on
    assert gate([Section("ops", [], {}, gates=True, exceeded=["budget x caller"])], []) == 1
