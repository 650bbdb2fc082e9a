"""Every bad input: a one-line error naming the file, exit status 2, no traceback, and the
previous good summary left untouched."""

import json
import shutil
import sys

import pytest

from conftest import ROOT, TEST_DATA, run


def analyze(results_dir):
    return run([sys.executable, str(ROOT / "analyze_results.py"), str(results_dir)])


@pytest.fixture
def good_summary(sample_dir):
    assert analyze(sample_dir).returncode == 0
    return (sample_dir / "summary.txt").read_text()


def assert_clean_error(result, names):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert names in lines[0]


def test_missing_directory(tmp_path):
    assert_clean_error(analyze(tmp_path / "nowhere"), "nowhere")


def test_directory_without_outputs(tmp_path):
    assert_clean_error(analyze(tmp_path), str(tmp_path))


def test_missing_partner_file(sample_dir, good_summary):
    (sample_dir / "internal_retrace.txt").unlink()
    assert_clean_error(analyze(sample_dir), "internal_retrace.txt")
    assert (sample_dir / "summary.txt").read_text() == good_summary


def test_empty_file(sample_dir, good_summary):
    (sample_dir / "external_baseline.txt").write_text("")
    assert_clean_error(analyze(sample_dir), "external_baseline.txt")
    assert (sample_dir / "summary.txt").read_text() == good_summary


def test_truncated_file(sample_dir, good_summary):
    path = sample_dir / "internal_retrace.txt"
    text = path.read_text()
    path.write_text(text[: text.rindex("Average:")])
    assert_clean_error(analyze(sample_dir), "internal_retrace.txt")
    assert (sample_dir / "summary.txt").read_text() == good_summary


def test_truncated_inside_the_header(sample_dir, good_summary):
    (sample_dir / "internal_retrace.txt").write_text("# Retrace benchmark: synthetic_benchmark.py\nPython: 3.11\n")
    assert_clean_error(analyze(sample_dir), "internal_retrace.txt")
    assert (sample_dir / "summary.txt").read_text() == good_summary


def test_garbage_file(sample_dir, good_summary):
    (sample_dir / "external_retrace.txt").write_bytes(b"\x00\xffnot a benchmark\n" * 20)
    assert_clean_error(analyze(sample_dir), "external_retrace.txt")
    assert (sample_dir / "summary.txt").read_text() == good_summary


def test_different_iteration_counts(sample_dir, good_summary):
    path = sample_dir / "internal_retrace.txt"
    path.write_text(path.read_text().replace("Iterations: 200\n", "Iterations: 300\n", 1))
    assert_clean_error(analyze(sample_dir), "internal_retrace.txt")
    assert (sample_dir / "summary.txt").read_text() == good_summary


def test_different_tests(sample_dir, good_summary):
    path = sample_dir / "external_retrace.txt"
    path.write_text(path.read_text().replace("## Test 5: os.getpid()", "## Test 5: os.getppid()"))
    assert_clean_error(analyze(sample_dir), "external_retrace.txt")
    assert (sample_dir / "summary.txt").read_text() == good_summary


def test_retrace_output_that_did_not_record(sample_dir, good_summary):
    # a plain run saved under the Retrace name: what the spec's command line gives without the hook
    (sample_dir / "internal_retrace.txt").write_text((sample_dir / "internal_baseline.txt").read_text())
    result = analyze(sample_dir)
    assert_clean_error(result, "internal_retrace.txt")
    assert "did not record" in result.stderr
    assert (sample_dir / "summary.txt").read_text() == good_summary


def test_a_failed_benchmark_is_shown_and_the_others_still_summarised(sample_dir):
    (sample_dir / "external_retrace.txt").write_text("FAILED: round 1 retrace run: exit status 1: Segfault\n")
    result = analyze(sample_dir)
    assert result.returncode == 1
    summary = (sample_dir / "summary.txt").read_text()
    assert "FAILED (retrace): round 1 retrace run: exit status 1: Segfault" in summary
    assert "Test 1: time.time()" in summary


def test_broken_production_result(sample_dir, good_summary):
    (sample_dir / "production.json").write_text('{"format": 1, "runs": [')
    assert_clean_error(analyze(sample_dir), "production.json")
    assert (sample_dir / "summary.txt").read_text() == good_summary


@pytest.mark.parametrize("content", ['{"format": 2, "failure": ""}', '{"format": 2, "failure": 7}',
                                     '{"format": 2, "runs": []}', "[]"])
def test_production_result_with_a_bad_failure_or_shape(sample_dir, good_summary, content):
    (sample_dir / "production.json").write_text(content)
    assert_clean_error(analyze(sample_dir), "production.json")
    assert (sample_dir / "summary.txt").read_text() == good_summary


def test_non_utf8_output(sample_dir, good_summary):
    (sample_dir / "internal_retrace.txt").write_bytes(b"# Retrace benchmark: x\n\xff\xfe\n")
    assert_clean_error(analyze(sample_dir), "internal_retrace.txt")
    assert (sample_dir / "summary.txt").read_text() == good_summary


def test_results_path_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    assert_clean_error(analyze(tmp_path / "file"), "is a file")


@pytest.mark.parametrize("damage", ["{", '{"format": 1}', '{"format": 1, "arms": [], "config": {}, "benchmarks": '
                                    '[{"name": "x", "script": "x", "processes": [{"arm": "plain", "round": 1, '
                                    '"position": 1, "record": {"format": 1}}]}]}'])
def test_damaged_run_json(tmp_path, damage):
    (tmp_path / "run.json").write_text(damage)
    assert_clean_error(analyze(tmp_path), "run.json")


def test_a_large_output_is_parsed_whole(sample_dir):
    """500 times the hand runs (50 MB-class inputs once took minutes with per-block regexes): every
    process is parsed and counted, within the test's own time limit (no timing is asserted)."""
    import json
    assert analyze(sample_dir).returncode == 0
    def internal_arms():
        summary = json.loads((sample_dir / "summary.json").read_text())
        return next(b for b in summary["benchmarks"] if b["name"] == "internal")["tests"][0]["arms"]
    before = internal_arms()
    for name in ("internal_baseline.txt", "internal_retrace.txt"):
        (sample_dir / name).write_text((sample_dir / name).read_text() * 500)
    result = run([sys.executable, str(ROOT / "analyze_results.py"), str(sample_dir)], timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    after = internal_arms()
    counts = lambda arms: [a["processes"] for a in (arms.values() if isinstance(arms, dict) else arms)]  # noqa: E731
    assert counts(after) == [500 * n for n in counts(before)]


def test_the_test_suite_keeps_no_recording_behind(tmp_path):
    """pytest.ini: a test's temporary directory (recordings hold the whole environment) is removed
    when its session ends, not kept as pytest's last three are by default."""
    import getpass
    import os
    import subprocess
    import uuid
    marker = f"{uuid.uuid4().hex}.retrace"
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "test_probe.py").write_text(f"def test_x(tmp_path):\n    (tmp_path / {marker!r}).write_text('secret')\n")
    temproot = tmp_path / "temproot"          # the inner session's own: its clean-up must not touch ours
    temproot.mkdir()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
                             str(ROOT / "pytest.ini"), "--rootdir", str(probe), str(probe)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTEST_DEBUG_TEMPROOT": str(temproot)})
    assert result.returncode == 0, result.stdout + result.stderr
    base = temproot / f"pytest-of-{getpass.getuser()}"
    assert base.is_dir() and not list(base.rglob(marker))


def _drop(data, path):
    """Remove the key at `path` (keys and list indexes) from the real run.json's content."""
    *parents, last = path
    for key in parents:
        data = data[key]
    del data[last]


@pytest.mark.parametrize("path", [("arms", 0, "kind"), ("arms", 1, "label"),
                                  ("benchmarks", 0, "profile", "retrace", "tests", 0, "number"),
                                  ("benchmarks", 0, "profile", "retrace", "tests", 0, "profile_chunk_calls"),
                                  ("benchmarks", 0, "replay", "retrace", "verdict")])
def test_run_json_missing_a_key(tmp_path, path):
    """The real quick run's run.json with one key removed: a one-line error, never a traceback."""
    import json
    data = json.loads((ROOT / "tests" / "data" / "run" / "run.json").read_text())
    _drop(data, path)
    (tmp_path / "run.json").write_text(json.dumps(data))
    assert_clean_error(analyze(tmp_path), "run.json")


def test_an_incomplete_run_is_said_so_and_is_not_success(tmp_path):
    import shutil
    partial = tmp_path / "v0.2.30_2026-01-01_000000.partial"
    shutil.copytree(ROOT / "tests" / "data" / "run", partial)
    result = analyze(partial)
    assert result.returncode == 1 and "incomplete run" in result.stdout
    assert (partial / "summary.txt").read_text().startswith("INCOMPLETE RUN:")


# --------------------------------------------------------------------------- a hand-edited run.json

def edited_run(tmp_path, edit):
    import json
    data = json.loads((ROOT / "tests" / "data" / "run" / "run.json").read_text())
    edit(data)
    (tmp_path / "run.json").write_text(json.dumps(data))
    return analyze(tmp_path)


def test_plain_numbers_under_a_retrace_label_are_refused(tmp_path):
    def edit(data):
        for b in data["benchmarks"]:
            for p in b["processes"]:
                if p["arm"] == "retrace":
                    p["record"]["mode"] = "plain"
    assert_clean_error(edited_run(tmp_path, edit), "not Retrace numbers")


def test_an_unknown_arm_or_a_repeated_benchmark_is_refused(tmp_path):
    def unknown(data):
        data["benchmarks"][0]["processes"][0]["arm"] = "retrace==9.9"
    assert_clean_error(edited_run(tmp_path, unknown), "not one of the run's arms")

    def repeated(data):
        data["benchmarks"].append(data["benchmarks"][0])
    assert_clean_error(edited_run(tmp_path, repeated), "appears twice")


def test_a_summary_that_cannot_be_written_is_named(sample_dir):
    (sample_dir / "summary.txt").mkdir()
    result = analyze(sample_dir)
    assert_clean_error(result, "summary.txt")
    assert ".summary.txt." not in result.stderr            # the real file, not a temporary one


def test_compare_a_file_is_said_to_be_a_file(tmp_path):
    result = run([sys.executable, str(ROOT / "analyze_results.py"), "--compare", "/etc/passwd", str(tmp_path)])
    assert_clean_error(result, "is a file")


# --------------------------------------------------------------------------- the driver's options

@pytest.mark.parametrize("argv, message", [
    (["--apps", "wsgi,wsgi"], "twice"),
    (["--target-ci", "nan%"], "finite"),
    (["--program", "{python} ok.py > out.txt"], "not run by a shell"),
    (["--program", "python3 ok.py"], "not the arm's interpreter"),
    (["--no-instructions", "--instruction-rounds", "3"], "cannot be combined"),
    (["--budget", "/nonexistent/b.toml"], "cannot read it"),
    (["--fail-on-regression"], "--versions with two or more versions, or --budget"),
])
def test_driver_options_refused_with_one_line(tmp_path, argv, message):
    (tmp_path / "ok.py").write_text("print('ok')\n")
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), *argv, "--results", str(tmp_path / "r")],
                 cwd=tmp_path, RETRACE_BENCH_CWD=str(tmp_path))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "r").exists()


def test_default_within_a_pyperformance_list_adds_to_the_subset():
    from retrace_bench import facts
    from retrace_bench.programs import pyperformance
    names = [p.name for p in pyperformance.select("default,nbody,pathlib")]
    assert names == list(facts.PYPERFORMANCE_SUBSET)                 # nbody and pathlib are in it already
    assert [p.name for p in pyperformance.select("default,tomli_loads")][-1] == "tomli_loads"


def test_app_and_app_cmd_cannot_be_combined():
    result = run([sys.executable, str(ROOT / "production_benchmark.py"), "--app", "asgi", "--app-cmd",
                  "{python} x.py {port}", "--path", "/x"])
    assert result.returncode == 2 and "cannot be combined" in result.stderr


@pytest.mark.parametrize("name", ["summary.txt", "report.html", "summary.json", "overhead.png"])
def test_the_users_own_file_is_never_replaced(sample_dir, name):
    """A hand-run folder (the spec's *_baseline.txt and *_retrace.txt) that also holds the user's own
    summary.txt, report.html, ...: one line naming it, exit 2, and nothing in the folder changed."""
    for stale in ("summary.txt", "summary.json", "report.html", "benchmark-action.json", "overhead.png"):
        (sample_dir / stale).unlink(missing_ok=True)
    (sample_dir / name).write_text("my own notes\n")
    before = {p.name: p.read_bytes() for p in sample_dir.iterdir()}
    assert_clean_error(analyze(sample_dir), name)
    assert {p.name: p.read_bytes() for p in sample_dir.iterdir()} == before


def test_a_summary_the_suite_wrote_is_replaced(sample_dir, good_summary):
    """The rule refuses only strangers: the suite's own summary, page and charts are rewritten."""
    result = analyze(sample_dir)
    assert result.returncode == 0, result.stderr
    assert (sample_dir / "summary.txt").read_text() == good_summary


def test_a_plain_arm_failure_is_not_said_to_break_under_recording(tmp_path):
    """A plain-arm timeout is the program's own failure, not a cost of recording: the glance says
    so apart from what broke under recording."""
    run_dir = tmp_path / "run"
    shutil.copytree(TEST_DATA / "run", run_dir)
    data = json.loads((run_dir / "run.json").read_text())
    data["benchmarks"][0]["failures"] = {"plain": "timed out after 600 s"}
    (run_dir / "run.json").write_text(json.dumps(data))
    analyze(run_dir)
    text = (run_dir / "summary.txt").read_text()
    assert "FAILED without recording too (not a cost of recording): operations" in text, text[:3000]
    assert "BROKE under recording: operations" not in text


def test_a_run_without_per_operation_benchmarks_names_its_machine(tmp_path):
    """--no-synthetic: the header is the driver's view of the machine, never a row of question marks."""
    run_dir = tmp_path / "run"
    shutil.copytree(TEST_DATA / "archives" / "v0.2.30_2026-11-29_170241", run_dir)
    assert analyze(run_dir).returncode in (0, 1)
    header = (run_dir / "summary.txt").read_text().splitlines()[3]
    assert header.startswith("retracesoftware 0.2.30 | Python 3.") and "?" not in header, header


def test_a_test_name_with_control_characters_keeps_its_table_row(tmp_path):
    """A test named with a newline or an escape sequence: escaped in summary.txt, one row each."""
    run_dir = tmp_path / "run"
    shutil.copytree(TEST_DATA / "run", run_dir)
    data = json.loads((run_dir / "run.json").read_text())
    for process in data["benchmarks"][0]["processes"]:
        process["record"]["tests"][0]["name"] = "two\nlines \x1b[2J"
    (run_dir / "run.json").write_text(json.dumps(data))
    analyze(run_dir)
    text = (run_dir / "summary.txt").read_text()
    assert "\x1b" not in text and "two\\nlines \\x1b[2J" in text, text[:2000]
    assert not any(line.startswith("lines ") for line in text.splitlines())


def test_a_replay_difference_is_shown_escaped(tmp_path, monkeypatch):
    """The replay line quotes the benchmark's own output: its escape sequences never reach the terminal."""
    from retrace_bench import arms
    from retrace_bench.ops import run as ops_run
    from retrace_bench.replay import Replayed
    monkeypatch.setattr(ops_run, "replay", lambda *a, **k: Replayed(True, "\x1b]0;owned\x07\x1b[2J\n", "", None))
    runner = ops_run.Runner(tmp_path, 60)
    outcome = ops_run.compare_replay(runner, arms.make_arms()[1], tmp_path / "r.retrace", "fine\n", ())
    assert outcome["verdict"] == ops_run.DIFFERS
    assert not any("\x1b" in line for line in outcome["detail"]) and "\\x1b[2J" in outcome["detail"][1], outcome
