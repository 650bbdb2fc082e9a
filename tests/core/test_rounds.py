"""The rounds design: --target-ci adds rounds of only the tests that miss the target (a unit test of
the rounds loop (ops.run) with a stand-in runner whose figures are known), and end to end through the
driver, --max-minutes stops the extension."""

import json
import shutil

import pytest

from conftest import copy_repo, run
from retrace_bench import arms
from retrace_bench.ops import analysis
from retrace_bench.ops import run as ops_run
from retrace_bench.ops.run import Plan, ProcessResult, RunData
from retrace_bench.rounds import Target
from retrace_bench.handover import ProcessRecord, Run, TestRecord


class KnownRunner:
    """Hands back records whose per-operation figures are set by the test: test 1 differs by exactly
    1 µs between the arms in every round; test 2 by 1.5 and 0.5 µs in the first two rounds, 1 µs after.
    Remembers the arguments of every process."""

    def __init__(self):
        self.calls = []

    def run(self, arm, script, args, keep_as=None):
        round_number = sum(1 for a, _ in self.calls if a == arm.label) + 1
        self.calls.append((arm.label, list(args)))
        only = [int(args[i + 1]) for i, a in enumerate(args) if a == "--only"] or [1, 2]
        tests = []
        for number in only:
            us = 1.0
            if arm.recorded:
                us = 2.0 + ((0.5 if round_number == 1 else -0.5) if number == 2 and round_number <= 2 else 0.0)
            tests.append(TestRecord(number, f"test {number}", "internal", 1000, [Run(us, None)] * 3))
        record = ProcessRecord(script, {"timestamp": "t"}, "record" if arm.recorded else "plain", None, tests)
        return ProcessResult(record, "", None, 10_000 if arm.recorded else None)


def test_extension_rounds_run_only_the_tests_that_miss_the_target():
    runner = KnownRunner()
    two = [arms.Arm("plain", "plain", "python"), arms.Arm("retrace", "retrace", "python", "0")]
    data = RunData([a.to_json() for a in two], {})
    missed = ops_run.run_rounds(runner, Plan(["x_benchmark.py"], two, 2, [], Target(None, 0.3),
                                            misses=analysis.target_misses), data, {},
                               progress=lambda *a, **k: None)
    assert missed == []
    assert data.config["full_rounds"] == 2 and data.config["rounds_run"] > 2
    first, later = runner.calls[:4], runner.calls[4:]
    assert all("--only" not in args for _, args in first)
    assert later and all(args == ["--only", "2"] for _, args in later)
    # Each test is compared over its own rounds: test 1 over the two full rounds, test 2 over all.
    test1, test2 = analysis.analyse(data).benchmarks[0].tests
    assert test1.comparisons[0].latency.rounds == 2
    assert test2.comparisons[0].latency.rounds == data.config["rounds_run"]
    assert test2.comparisons[0].latency.estimate == pytest.approx(1.0)


@pytest.mark.slow
def test_target_ci_with_max_minutes_extends_then_stops_and_says_so(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    (repo / "external_boundary_benchmark.py").unlink()       # one short benchmark script
    result = run(["bash", "run_all_benchmarks.sh", "--quick", "--no-production", "--pyperformance", "none",
                  "--target-ci", "0.0001us", "--max-minutes", "1.2", "--no-instructions"], cwd=repo, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "more rounds of those only" in result.stdout
    assert "(--max-minutes)" in result.stdout
    run_json = json.loads((repo / "results" / "run.json").read_text())
    config = run_json["config"]
    assert config["rounds_run"] > config["full_rounds"] == 2
    assert config["missed_target"]                     # 0.0001 µs is beyond any run
    later = [p for b in run_json["benchmarks"] for p in b["processes"] if p["round"] > 2]
    assert later and all(p["arm"] in ("plain", "retrace") for p in later)
    summary = (repo / "results" / "summary.txt").read_text()
    assert "then" in summary and "of only the tests that missed the target" in summary
    shutil.rmtree(repo)
