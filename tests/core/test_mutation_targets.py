"""The verdict rules' constants where a test must see them (scripts/mutate.py breaks each one): the
minimum effects, the Bonferroni adjustments, the --target-ci scale."""

import json

import pytest

from retrace_bench import facts
from retrace_bench.ops import analysis
from retrace_bench.programs import analysis as programs_analysis
from retrace_bench.production import analysis as production_analysis
from retrace_bench.ops.run import RunData
from retrace_bench.rounds import Target
from retrace_bench.stats import family_confidence
from conftest import ROOT, TEST_DATA

DATA = TEST_DATA


def test_a_time_difference_under_the_floor_is_noise_however_tight():
    """+0.04 µs on a 0.5 µs operation (8%), its interval far from zero: under the 0.05 µs floor."""
    a = {1: 0.50, 2: 0.51, 3: 0.49}
    b = {1: 0.54, 2: 0.55, 3: 0.53}
    d = analysis.difference(analysis.LATENCY, a, b, 0.95)
    assert d.low > 0 and d.verdict == facts.WITHIN_NOISE
    bigger = analysis.difference(analysis.LATENCY, a, {r: v + 0.1 for r, v in a.items()}, 0.95)
    assert bigger.verdict == facts.SLOWER


def test_a_ratio_under_two_percent_is_noise_however_tight():
    """A program's time ratio, per round 1.015x with a tight interval: under the 2% minimum."""
    pairs = [(1.0, 1.015), (1.0, 1.0151), (1.0, 1.0149)]
    assert programs_analysis.ratio_of(pairs, 0.95).verdict == facts.WITHIN_NOISE
    assert programs_analysis.ratio_of([(a, b * 1.04) for a, b in pairs], 0.95).verdict == facts.SLOWER


def test_an_instruction_ratio_is_judged_on_the_one_percent_of_exact_counts():
    pairs = [(1000.0, 1015.0), (1000.0, 1015.1), (1000.0, 1014.9)]
    assert programs_analysis.instruction_ratio(pairs, 0.95).verdict == facts.SLOWER
    assert programs_analysis.instruction_ratio([(a, a * 1.005) for a, _ in pairs], 0.95).verdict == facts.WITHIN_NOISE


def test_a_production_change_under_two_percent_is_noise_however_tight():
    """Throughput and CPU per request of a recorded app, 1% apart in every round: noise; 5%: real."""
    def runs(factor):
        return [production_analysis.ArmRun(arm, n, {}, cpu_ms_per_request=1.0 * (factor if arm == "retrace" else 1)
                                        + 0.0001 * n) for n in (1, 2, 3) for arm in ("plain", "retrace")]
    assert production_analysis.cpu_effect(runs(1.01), "plain", "retrace").verdict == facts.WITHIN_NOISE
    assert production_analysis.cpu_effect(runs(1.05), "plain", "retrace").verdict == facts.SLOWER


def test_per_operation_verdicts_are_bonferroni_adjusted_over_the_tests():
    run = RunData.from_json(json.loads((DATA / "run" / "run.json").read_text()))
    result = analysis.analyse(run)
    tests = sum(len(b.tests) for b in result.benchmarks)
    assert tests > 1 and result.confidence == family_confidence(facts.CONFIDENCE, tests) > 0.95


def test_production_verdicts_are_bonferroni_adjusted_over_their_figures():
    assert production_analysis.verdict_confidence(["/a", "/b"]) == family_confidence(facts.CONFIDENCE, 5)


def test_the_target_is_a_percent_of_the_figure():
    assert Target.parse("10%").half_width_us(2.0) == 0.2
    assert Target.parse("10%,0.5us").half_width_us(2.0) == 0.5


def test_every_mutation_of_the_mutation_check_still_finds_its_line():
    """scripts/mutate.py names lines of the code; each must occur exactly once, or the check cannot
    apply it (a rename or a move would silently drop it)."""
    import importlib.util
    root = ROOT
    spec = importlib.util.spec_from_file_location("mutate", root / "scripts" / "mutate.py")
    mutate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mutate)
    assert len(mutate.MUTATIONS) >= 16
    for path, text, replacement, what in mutate.MUTATIONS:
        assert (root / path).read_text().count(text) == 1, f"{what}: its line is not once in {path}"
        assert text != replacement


def test_a_mutation_is_caught_only_when_a_test_failed(tmp_path, monkeypatch):
    """scripts/mutate.py: a failed test is a verdict ("caught"), a pass is "survived"; a test file
    that does not collect, or no test at all, is no verdict, and the check fails with the reason."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("mutate", ROOT / "scripts" / "mutate.py")
    mutate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mutate)
    copy = tmp_path / "suite"
    (copy / "tests").mkdir(parents=True)
    monkeypatch.setattr(mutate, "FAST_TESTS", ["tests/test_one.py"])
    for body, expected in (("def test_ok():\n    pass\n", True), ("def test_bad():\n    assert False\n", False)):
        (copy / "tests" / "test_one.py").write_text(body)
        assert mutate.fast_tests(copy, tmp_path)[0] is expected
    for body in ("import no_such_module_here\n", "x = 1\n"):               # a collection error; no test
        (copy / "tests" / "test_one.py").write_text(body)
        with pytest.raises(mutate.CheckError):
            mutate.fast_tests(copy, tmp_path)
