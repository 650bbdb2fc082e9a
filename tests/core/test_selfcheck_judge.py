"""The self-check's judge on a real quick self-check's raw data (scripts/capture_selfcheck.py made
tests/data/selfcheck/quick.json): each check, broken in the data, must turn into a miss. A judge
that always says "ok" fails these tests."""

import copy
import json

import pytest

from retrace_bench import selfcheck
from retrace_bench.ops.run import RunData
from retrace_bench.programs.run import ProgramData
from conftest import TEST_DATA

DATA = TEST_DATA / "selfcheck" / "quick.json"


def load():
    raw = json.loads(DATA.read_text())
    runs = {name: RunData.from_json(run) for name, run in raw["runs"].items()}
    return (runs, [tuple(p) for p in raw["timer"]], raw["production"], [ProgramData.from_json(p) for p in raw["programs"]],
            raw["program_cost_s"])


def misses(data, capsys) -> int:
    capsys.readouterr()
    selfcheck.judge(*data)
    return capsys.readouterr().out.count("[MISS]")


def scale(run: RunData, arm: str, test: int, factor: float, fields=("wall_ms", "cpu_ms"), add: float = 0.0) -> None:
    """Multiply one test's run figures in every process of one arm (and add `add` ms)."""
    for bench in run.benchmarks[:1]:
        for entry in bench.processes:
            if entry.arm == arm:
                for t in entry.record["tests"]:
                    if t["number"] == test:
                        for r in t["runs"]:
                            for field in fields:
                                if r.get(field) is not None:
                                    r[field] = r[field] * factor + add


@pytest.fixture
def baseline(capsys):
    return misses(load(), capsys)


def test_every_kind_of_check_judges_something(capsys):
    capsys.readouterr()
    selfcheck.judge(*load())
    out = capsys.readouterr().out
    for heading in ("A/A, two plain arms", "A/A, two identical recorded arms", "Sensitivity", "Calibration",
                    "Timer fidelity", "Instructions A/A", "Instructions calibration", "Instructions sensitivity",
                    "Programs A/A", "Programs calibration"):
        section = out.split(heading, 1)
        assert len(section) == 2, heading
        assert "[ok]" in section[1].split("\n", 3)[1] or "[MISS]" in section[1].split("\n", 3)[1], heading


def break_and_count(capsys, edit) -> int:
    data = load()
    edit(data)
    return misses(data, capsys)


def test_a_plain_a_a_difference_is_a_miss(capsys, baseline):
    # Every run of the second arm 1 s longer: the A/A's own spread, its mean far from zero.
    assert break_and_count(capsys, lambda d: scale(d[0]["aa"], "plain#2", 3, 1.0, add=1000.0)) > baseline


def test_a_recorded_a_a_difference_is_a_miss(capsys, baseline):
    recorded = lambda d: [a["label"] for a in d[0]["recorded_aa"].arms][-1]       # noqa: E731
    assert break_and_count(capsys, lambda d: scale(d[0]["recorded_aa"], recorded(d), 3, 1.0, add=1000.0)) > baseline


def test_a_calibration_that_reads_30_percent_high_is_a_miss(capsys, baseline):
    assert break_and_count(capsys, lambda d: scale(d[0]["calibration"], "retrace", 2, 1.3)) > baseline


def test_a_deferred_cost_that_shows_in_the_latency_is_a_miss(capsys, baseline):
    def edit(d):
        bench = d[0]["calibration"].benchmarks[0]
        number = next(t["number"] for t in bench.processes[0].record["tests"] if "deferred" in t["name"])
        scale(d[0]["calibration"], "retrace", number, 20.0, fields=("wall_ms",))
    assert break_and_count(capsys, edit) > baseline


def test_a_sensitivity_change_that_is_gone_or_misread_is_a_miss(capsys, baseline):
    gone = lambda d: scale(d[0]["sensitivity"], "retrace+work", 1, 0.8, fields=("wall_ms",))     # noqa: E731
    assert break_and_count(capsys, gone) > baseline
    doubled = lambda d: scale(d[0]["sensitivity"], "retrace+work", 1, 1.6, fields=("wall_ms",))  # noqa: E731
    assert break_and_count(capsys, doubled) > baseline          # slower, but the interval misses the work


def test_a_timer_far_from_timeit_is_a_miss(capsys, baseline):
    def edit(d):
        d[1][:] = [(h * 2, t) for h, t in d[1]]
    assert break_and_count(capsys, edit) > baseline


def test_a_production_a_a_difference_is_a_miss(capsys, baseline):
    def edit(d):
        for run in d[2]["runs"]:
            if run["arm"] == "plain#2":
                for result in run["results"].values():
                    result["requests_per_s"] *= 0.7
    if load()[2] is None:
        pytest.skip("the captured self-check ran no production A/A")
    assert break_and_count(capsys, edit) > baseline


def test_a_program_calibration_off_by_half_is_a_miss(capsys, baseline):
    def edit(d):
        for item in d[3]:
            for run in item.runs:
                if run.arm == "retrace+cost" and run.wall_s is not None:
                    run.wall_s += 0.1
    assert break_and_count(capsys, edit) > baseline


def test_the_judge_exit_status_agrees_with_its_misses(capsys):
    data = load()
    status = selfcheck.judge(*copy.deepcopy(data))
    out = capsys.readouterr().out
    assert status == (1 if "[MISS]" in out else 0)
