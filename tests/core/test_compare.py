"""Comparing two archived runs (drift included): verdicts, the drift warning, bad archives."""

import json
import shutil
import sys

import pytest

from conftest import ROOT, run
from retrace_bench.summary import write_summary

RUN = ROOT / "tests" / "data" / "run"


def archive(tmp_path, name, scale=1.0):
    """A real archive (the sample run summarised), its overheads scaled by `scale`."""
    path = tmp_path / name
    shutil.copytree(RUN, path)
    assert write_summary(path, quiet=True) == 0
    data = json.loads((path / "summary.json").read_text())
    for b in data["benchmarks"]:
        for t in b["tests"]:
            for c in t["comparisons"]:
                d = c["latency"]
                for key in ("estimate_us", "low_us", "high_us"):
                    d[key] = d[key] * scale + (scale - 1) * 1000 if d[key] is not None else None
    (path / "summary.json").write_text(json.dumps(data))
    return path


def compare(*args):
    return run([sys.executable, str(ROOT / "analyze_results.py"), "--compare", *map(str, args)])


def test_two_archives_warn_of_drift_and_one_archive_twice_does_not(tmp_path):
    a, b = archive(tmp_path, "a"), archive(tmp_path, "b")
    result = compare(a, b)
    assert result.returncode == 0, result.stderr
    assert "machine drift" in result.stdout and "0 figure(s) slower" in result.stdout
    same = compare(a, a)
    assert same.returncode == 0 and "the same archive" in same.stdout and "machine drift" not in same.stdout


def test_archives_that_share_no_test_compare_nothing_and_fail_the_gate(tmp_path):
    a, b = archive(tmp_path, "a"), archive(tmp_path, "b")
    data = json.loads((b / "summary.json").read_text())
    for bench in data["benchmarks"]:
        bench["name"] = "renamed-" + bench["name"]
    (b / "summary.json").write_text(json.dumps(data))
    result = compare(a, b)
    assert result.returncode == 2 and "share no test" in result.stdout
    only = [line for line in result.stdout.splitlines() if "only in" in line]
    assert only and only == sorted(only)                  # in order, not in a set's order
    assert [line.endswith("only in A") for line in only].count(True) == len(only) // 2
    gated = run([sys.executable, str(ROOT / "analyze_results.py"), "--compare", str(a), str(b), "--fail-on-regression"])
    assert gated.returncode == 2                          # an input problem; a gate that compared nothing fails


def test_a_side_without_an_interval_cannot_pass_the_gate(tmp_path):
    """B from one round: no interval, so 'cannot tell', and the gate fails instead of passing."""
    a, b = archive(tmp_path, "a"), archive(tmp_path, "b")
    data = json.loads((b / "summary.json").read_text())
    for bench in data["benchmarks"]:
        for t in bench["tests"]:
            for c in t["comparisons"]:
                c["latency"]["low_us"] = c["latency"]["high_us"] = None
    (b / "summary.json").write_text(json.dumps(data))
    assert "cannot tell" in compare(a, b).stdout and compare(a, b).returncode == 0
    gated = run([sys.executable, str(ROOT / "analyze_results.py"), "--compare", str(a), str(b), "--fail-on-regression"])
    assert gated.returncode == 1 and "without an interval" in gated.stdout


def test_regression_is_flagged_and_gated(tmp_path):
    a, b = archive(tmp_path, "a"), archive(tmp_path, "b", scale=2.0)
    result = compare(a, b)
    assert result.returncode == 0 and ": slower" in result.stdout
    gated = run([sys.executable, str(ROOT / "analyze_results.py"), "--compare", str(a), str(b),
                 "--fail-on-regression"])
    assert gated.returncode == 1


@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "summary.json").unlink(), "summary.json: missing"),
    (lambda p: (p / "summary.json").write_text("{"), "not valid JSON"),
    (lambda p: (p / "summary.json").write_text('{"format": 2}'), "incomplete summary"),
    (lambda p: (p / "summary.json").write_text('{"format": 1}'), "format-2"),
])
def test_bad_archives(tmp_path, damage, message):
    a, b = archive(tmp_path, "a"), archive(tmp_path, "b")
    damage(b)
    result = compare(a, b)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_compare_and_a_results_dir_cannot_be_combined(tmp_path):
    a = archive(tmp_path, "a")
    result = run([sys.executable, str(ROOT / "analyze_results.py"), str(a), "--compare", str(a), str(a)])
    assert result.returncode == 2 and "not both" in result.stderr


VERSIONS_ARCHIVE = ROOT / "tests" / "data" / "archives" / "v0.2.29_v0.2.30_2026-12-03_002935"


def edited(tmp_path, name, edit):
    target = tmp_path / name
    shutil.copytree(VERSIONS_ARCHIVE, target)
    data = json.loads((target / "summary.json").read_text())
    edit(data)
    (target / "summary.json").write_text(json.dumps(data))      # NaN is written as JSON's NaN
    return target


def first_latency(data):
    return data["benchmarks"][0]["tests"][0]["comparisons"][0]["latency"]


def first_caller(data):
    test = data["instructions"]["tests"][0]
    return test["arms"][next(a for a in test["arms"] if a != "plain")]["figures"]["caller"]


@pytest.mark.parametrize("damage,field", [
    (lambda d: first_latency(d).update(estimate_us=float("nan")), "estimate_us"),
    (lambda d: first_latency(d).update(estimate_us="fast"), "estimate_us"),
    (lambda d: first_latency(d).pop("estimate_us"), "estimate_us"),
    (lambda d: first_latency(d).update(high_us=float("inf")), "high_us"),
    (lambda d: first_caller(d).update(value=float("nan")), "value"),
    (lambda d: first_caller(d).pop("n"), "n"),
], ids=["nan", "string", "missing", "infinite bound", "nan instructions", "missing count"])
def test_a_hand_edited_summary_is_one_line_naming_the_field(tmp_path, damage, field):
    """--compare --fail-on-regression on a hand-edited summary.json: NaN never passes as "within
    noise", a string or a missing key is no traceback: one line naming the file and the field, exit 2."""
    a = edited(tmp_path, "a", lambda d: None)
    b = edited(tmp_path, "b", damage)
    done = run([sys.executable, str(ROOT / "analyze_results.py"), "--compare", str(a), str(b), "--fail-on-regression"])
    assert done.returncode == 2, done.stdout[-1500:] + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert str(b / "summary.json") in lines[0] and repr(field) in lines[0], lines[0]
