"""Comparing two archived runs: verdicts, exit codes, manifests and bad archives (synthetic data)."""

import json
import sys

import pytest

import analyze_results as ar
from conftest import ROOT, run


def entry(name, overhead, low, high, baseline=1.0):
    return {"benchmark": "internal", "name": name, "overhead_us": overhead, "ci_low_us": low,
            "ci_high_us": high, "baseline": {"per_op_median_us": baseline}}


def write_archive(path, version, tests, production=None):
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({"format": ar.FORMAT_VERSION, "retracesoftware": version,
                                                    "suite_commit": "abc", "python": "3.11.7"}))
    summary = {"format": ar.FORMAT_VERSION, "benchmarks": [{"name": "internal", "tests": tests}]}
    if production:
        summary["production"] = production
    (path / "summary.json").write_text(json.dumps(summary))
    return path


@pytest.fixture
def archives(tmp_path):
    a = write_archive(tmp_path / "v0.2.29_a", "0.2.29", [
        entry("regressed", 1.0, 0.9, 1.1), entry("improved", 5.0, 4.5, 5.5),
        entry("same", 2.0, 1.5, 2.5), entry("gone", 1.0, 0.5, 1.5)])
    b = write_archive(tmp_path / "v0.2.30_b", "0.2.30", [
        entry("regressed", 3.0, 2.8, 3.2), entry("improved", 1.0, 0.8, 1.2),
        entry("same", 2.2, 1.8, 2.6), entry("new", 1.0, 0.5, 1.5)])
    return a, b


def compare(*args):
    return run([sys.executable, str(ROOT / "analyze_results.py"), "--compare", *map(str, args)])


def test_verdicts(archives):
    result = compare(*archives)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    verdict = {lines[i].strip(): lines[i + 1].rsplit(": ", 1)[1] for i, l in enumerate(lines)
               if l.startswith("  internal: ") and i + 1 < len(lines) and lines[i + 1].startswith("    A ")}
    assert verdict == {"internal: regressed": "slower", "internal: improved": "faster",
                       "internal: same": "within noise"}
    assert "internal: gone: only in A" in result.stdout and "internal: new: only in B" in result.stdout
    assert "A = v0.2.29" in result.stdout and "B = v0.2.30" in result.stdout


def test_fail_on_regression_gates(archives):
    a, b = archives
    assert compare(a, b, "--fail-on-regression").returncode == 1
    reversed_ = compare(b, a, "--fail-on-regression")     # B->A: "improved" got slower
    assert reversed_.returncode == 1 and "1 test(s) slower in B beyond noise" in reversed_.stdout


def test_negligible_change_is_within_noise_even_without_overlap():
    a = entry("x", 0.010, 0.009, 0.011)
    b = entry("x", 0.020, 0.019, 0.021)       # intervals apart, but 0.01 µs < 0.05 µs
    assert ar.version_verdict(a, b) == "within noise"


def test_production_is_compared(tmp_path):
    prod = lambda drop, p99: {"paths": {"/api": {"throughput_drop_percent": drop, "p99_increase_percent": 50,
                                                 "recorded": {"p99_ms": p99}}}}
    a = write_archive(tmp_path / "a", "0.2.29", [], prod(40.0, 80.0))
    b = write_archive(tmp_path / "b", "0.2.30", [], prod(30.0, 60.0))
    out = compare(a, b).stdout
    assert "production /api: recorded throughput drop A 40.0% -> B 30.0%" in out
    assert "recorded p99 A 80.0 ms -> B 60.0 ms" in out


@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "summary.json").unlink(), "summary.json: missing"),
    (lambda p: (p / "manifest.json").write_text("{"), "manifest.json: not valid JSON"),
    (lambda p: (p / "summary.json").write_text(json.dumps({"format": 99, "benchmarks": []})),
     "incompatible"),
])
def test_bad_archives(archives, damage, message):
    a, b = archives
    damage(b)
    result = compare(a, b)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_archive(archives, tmp_path):
    result = compare(archives[0], tmp_path / "nope")
    assert result.returncode == 2 and "nope: missing" in result.stderr


def test_manifest_names_what_the_run_was_made_with():
    manifest = ar.manifest("abc1234", "4", "0")
    assert manifest["suite_commit"] == "abc1234" and manifest["rounds"] == 4 and manifest["quick"] is False
    assert manifest["retracesoftware"] == "0.2.30" and manifest["format"] == ar.FORMAT_VERSION


def test_unknown_version_is_a_clear_error():
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--retrace-version", "not-a-version"])
    assert result.returncode == 2 and "--retrace-version needs a version" in result.stderr
