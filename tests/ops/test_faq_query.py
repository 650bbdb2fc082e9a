"""The FAQ's "only 0.3% of a 5 ms database query", judged on the network benchmark's 5 ms query: on
the reference default run (as it was measured), and met / missed / undetermined on known effects."""

import pytest

from conftest import TEST_DATA
from retrace_bench import facts
from retrace_bench.effects import US, Effect
from retrace_bench.ops import analysis, parse
from retrace_bench.ops.analysis import Comparison, faq_query_findings

ARCHIVE = TEST_DATA / "archives" / "v0.2.30_2026-12-08_001713"


def test_the_reference_run_is_too_wide_to_judge_the_faq():
    result = analysis.analyse(parse.load(ARCHIVE))
    test = next(t for b in result.benchmarks for t in b.tests if t.name == facts.SPEC_QUERY_TEST)
    (finding,) = [f for f in test.findings if f.kind in analysis.FAQ_QUERY_KINDS]
    assert finding.kind == "spec_query_undetermined"
    assert finding.figures["percent"] == pytest.approx(1.86, abs=0.01)
    assert finding.figures["high_percent"] == pytest.approx(7.47, abs=0.01)


PLAIN_US = 5000.0


def comparison(estimate, low, high, verdict):
    latency = Effect("latency", US, estimate, low, high, PLAIN_US, 8, verdict)
    return Comparison("plain", "retrace", "overhead", latency, None)


@pytest.mark.parametrize("estimate, low, high, verdict, kind", [
    (5.0, -2.0, 12.0, facts.WITHIN_NOISE, "spec_query_met"),          # at most 12 µs = 0.24%
    (5.0, -2.0, 40.0, facts.WITHIN_NOISE, "spec_query_undetermined"),  # up to 0.8%: cannot tell
    (100.0, 80.0, 120.0, facts.SLOWER, "spec_query_missed"),          # 2%, beyond noise
    (10.0, 8.0, 12.0, facts.SLOWER, "spec_query_met"),                # real, and 0.2%
])
def test_the_faq_is_judged_on_the_whole_interval(estimate, low, high, verdict, kind):
    (finding,) = faq_query_findings(facts.SPEC_QUERY_TEST, comparison(estimate, low, high, verdict))
    assert finding.kind == kind


def test_no_other_test_and_no_interval_are_judged_as_the_faq():
    assert faq_query_findings("PostgreSQL SELECT by key", comparison(5.0, -2.0, 12.0, facts.WITHIN_NOISE)) == []
    one_round = comparison(5.0, None, None, facts.CANNOT_TELL)
    (finding,) = faq_query_findings(facts.SPEC_QUERY_TEST, one_round)
    assert finding.kind == "spec_query_undetermined" and finding.figures["high_percent"] is None
