"""run_all_benchmarks.sh end to end in a copy of the repository: arms interleaved over rounds, a
copied template, failures, time limits, interrupts by real signals, the results lock."""

import fcntl
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, clean_env, copy_repo, needs_load_tools, processes_under, run
from retrace_bench.ops import parse

#: Every test here starts real processes (docs/development.md: the fast loop leaves them out).
pytestmark = pytest.mark.slow

def scratch_dirs(root: Path):
    """The suite's scratch directories under `root`: each test's own TMPDIR, so that another run on
    the machine (whose scratch is under /tmp) cannot make a test fail."""
    return set(root.glob("retrace-bench.*")) | set(root.glob("retrace-prod.*"))


def private_tmp(path: Path) -> Path:
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def driver_run(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    shutil.copy2(repo / "benchmark_template.py", repo / "mine_benchmark.py")
    tmp = private_tmp(repo.parent / f"{repo.name}-tmp")
    before = scratch_dirs(tmp)
    result = run(["bash", "run_all_benchmarks.sh", "--quick"], cwd=repo, timeout=900, TMPDIR=str(tmp))
    return repo, result, (tmp, before)


def test_driver_succeeds_and_reports_progress(driver_run):
    repo, result, _ = driver_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "[round 1/2] mine_benchmark.py" in result.stdout
    assert "[round 2/2] synthetic_benchmark.py" in result.stdout
    assert "Arms: plain, retrace" in result.stdout and "[replay]" in result.stdout
    # The instruction counts, with the profile of each arm's first process and its raw files kept.
    summary = (repo / "results" / "summary.txt").read_text()
    assert "## Instructions per call" in summary and "## Where the instructions go" in summary
    archive = next((repo / "results" / "archive").iterdir())
    assert any((archive / "callgrind" / "external_boundary_benchmark" / "retrace").iterdir())


def test_arms_are_interleaved_with_the_order_rotated(driver_run):
    repo, _, _ = driver_run
    run_data = parse.load(repo / "results")
    for bench in run_data.benchmarks:
        order = {(p.round, p.arm): p.position for p in bench.processes}
        assert order[(1, "plain")] == 1 and order[(1, "retrace")] == 2
        assert order[(2, "retrace")] == 1 and order[(2, "plain")] == 2


def test_summary_has_every_benchmark_including_the_copied_template(driver_run):
    repo, _, _ = driver_run
    summary = (repo / "results" / "summary.txt").read_text()
    assert "## Internal code" in summary and "## External boundaries" in summary
    assert "## mine - mine_benchmark.py" in summary and "Test 1: my operation" in summary
    assert "## Production benchmark" in summary and "/api/orders/7" in summary
    for name in ("internal", "external", "mine"):
        for suffix in ("baseline", "retrace"):
            assert (repo / "results" / f"{name}_{suffix}.txt").is_file()
    # The page is published beside the summary, not only kept in the run's archive.
    page = (repo / "results" / "report.html").read_text()
    assert "At a glance" in page and "mine: my operation" in page


def test_every_recorded_process_verified_its_trace(driver_run):
    repo, _, _ = driver_run
    run_data = parse.load(repo / "results")
    for bench in run_data.benchmarks:
        assert not bench.failures
        recorded = [p for p in bench.processes if p.arm == "retrace"]
        assert recorded and all(p.trace_bytes > run_data.empty_trace_bytes["retrace"] for p in recorded)
        growth = {int(n): (s2 - s1) / (c2 - c1) for n, (c1, s1, c2, s2) in bench.trace_growth["retrace"].items()}
        if bench.name == "internal":          # time.time() is recorded (25 B per call), arithmetic is not
            assert growth[1] >= 10 and abs(growth[3]) < 1, growth
        # The README: the internal benchmark replays identically.
        if bench.name == "internal":
            assert bench.replay["retrace"]["verdict"] == "identical", bench.replay["retrace"]


def test_no_recording_scratch_or_process_is_left_behind(driver_run):
    repo, _, (tmp, before) = driver_run
    assert not list(repo.rglob("*.retrace"))
    assert scratch_dirs(tmp) == before
    assert processes_under(repo) == []


def test_the_run_is_archived_complete(driver_run):
    repo, _, _ = driver_run
    archives = [p for p in (repo / "results" / "archive").iterdir()]
    assert len(archives) == 1 and archives[0].name.startswith("v0.2.30_")
    assert not archives[0].name.endswith(".partial")
    assert (archives[0] / "summary.txt").is_file() and (archives[0] / "run.json").is_file()


def test_a_crashing_and_a_hanging_benchmark_fail_and_the_others_still_run(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    for name in ("synthetic_benchmark.py", "external_boundary_benchmark.py"):
        (repo / name).unlink()
    template = (repo / "benchmark_template.py").read_text()
    (repo / "ok_benchmark.py").write_text(template)
    (repo / "crash_benchmark.py").write_text(template.replace(
        '    sum(range(10))', '    import os\n    if os.environ.get("RETRACE"):\n        raise SystemExit("boom")'))
    (repo / "hang_benchmark.py").write_text(template.replace(
        '    sum(range(10))', '    import os, time\n    if os.environ.get("RETRACE"):\n        time.sleep(3600)'))
    (repo / "noisy_benchmark.py").write_text(template.replace(
        '    sum(range(10))', '    print("## Test 1: x\\n  Run 1: 5 ms")'))
    (repo / "typo_benchmark.py").write_text(template.replace('    sum(range(10))', '    sum(range(10)'))
    result = run(["bash", "run_all_benchmarks.sh", "--quick", "--rounds", "1", "--no-production",
                  "--pyperformance", "none", "--timeout", "20", "--no-instructions"], cwd=repo, timeout=600)
    assert result.returncode == 1
    summary = (repo / "results" / "summary.txt").read_text()
    assert "FAILED (retrace): round 1 retrace process: exit status 1: boom" in summary
    assert "FAILED (retrace): round 1 retrace process: timed out after 20 s" in summary
    # A failing process's whole stderr is kept in the archive: the traceback says where.
    archive = next((repo / "results" / "archive").iterdir())
    kept = (archive / "failures" / "typo_benchmark.baseline.stderr.txt").read_text()
    assert "typo_benchmark.py" in kept and "line " in kept and "SyntaxError" in kept
    assert "(its stderr: failures/typo_benchmark.baseline.stderr.txt)" in summary
    assert "## ok - ok_benchmark.py" in summary and "## noisy - noisy_benchmark.py" in summary
    # What a benchmark prints cannot change its figures: it printed a fake "Run 1: 5 ms", and the
    # figures come from the JSON record it handed over.
    assert "Run 1: 5 ms" in (repo / "results" / "noisy_baseline.txt").read_text()
    noisy = next(b for b in parse.load(repo / "results").benchmarks if b.name == "noisy")
    walls = [r["wall_ms"] for p in noisy.processes for t in p.record["tests"] for r in t["runs"]]
    assert walls and 5.0 not in walls
    assert processes_under(repo) == []


def test_ctrl_c_stops_everything_and_keeps_the_previous_results(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    (repo / "results" / "archive").mkdir(parents=True)                # a previous run's results
    (repo / "results" / "summary.txt").write_text("previous summary\n")
    tmp = private_tmp(tmp_path / "tmp")
    before = scratch_dirs(tmp)
    log = tmp_path / "log"
    with open(log, "w") as out:
        driver = subprocess.Popen(["bash", "run_all_benchmarks.sh", "--quick", "--no-production"], cwd=repo,
                                  env=clean_env(TMPDIR=str(tmp)), stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    deadline = time.monotonic() + 300
    while "[trace growth]" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "[trace growth]" in log.read_text()
    os.killpg(driver.pid, signal.SIGINT)       # as a terminal's Ctrl-C
    assert driver.wait(120) == 130
    output = log.read_text()
    assert "interrupted" in output and "partial output is in" in output and "Traceback" not in output
    time.sleep(1)
    assert processes_under(repo) == []
    assert scratch_dirs(tmp) == before
    assert not list(repo.rglob("*.retrace"))
    assert (repo / "results" / "summary.txt").read_text() == "previous summary\n"


def test_one_run_at_a_time_per_results_directory(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    (repo / "results").mkdir()
    with open(repo / "results" / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write("12345")
        lock.flush()
        result = run(["bash", "run_all_benchmarks.sh", "--quick"], cwd=repo)
    assert result.returncode == 2 and "another run is using" in result.stderr


def test_a_version_that_does_not_install_leaves_no_virtualenv(tmp_path):
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--versions", "0.0.0.0.1", "--results",
                  str(tmp_path / "results")], XDG_CACHE_HOME=str(tmp_path / "cache"), timeout=300)
    assert result.returncode == 2 and "did not install" in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "cache").glob("retrace-benchmarks/venv-*"))
    assert not (tmp_path / "results").exists()        # refused before the results directory was made


@pytest.mark.parametrize("place", ["/proc/no-such-dir", "FILE/sub"])
def test_an_unwritable_results_place_is_one_line_exit_2(tmp_path, place):
    (tmp_path / "FILE").write_text("")
    place = place.replace("FILE", str(tmp_path / "FILE"))
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--quick", "--no-production", "--results", place])
    assert result.returncode == 2 and "cannot write results to" in result.stderr and "Traceback" not in result.stderr


def test_a_reader_that_goes_away_costs_no_traceback():
    """`run_all_benchmarks.sh ... | head -3`: the output's reader is gone before the driver writes."""
    import sys
    code = ("import sys, time; time.sleep(0.5); sys.argv = ['driver', '--help']; "
            "from retrace_bench.driver import main; sys.exit(main())")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()                             # the reader leaves before anything is written
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert b"BrokenPipeError" not in stderr and b"Traceback" not in stderr


@pytest.mark.parametrize("args, message", [
    (["--rounds", "x"], "--rounds"),
    (["--versions", "0.2.29", "--retrace-version", "0.2.30"], "cannot be combined"),
    (["--fail-on-regression"], "needs --versions"),
    (["--fail-on-regression", "--versions", "0.2.29,0.2.30", "--rounds", "1"], "at least 2 rounds"),
    (["--target-ci", "fast"], "--target-ci"),
    (["--timeout", "-1"], "--timeout"),
    (["--self-check", "--versions", "0.2.30"], "cannot be combined"),
    (["--apm", "sentry,nope"], "--apm: nope: choose from all, ddtrace"),
    (["--apm", "sentry", "--no-production"], "cannot be combined"),
])
def test_bad_options_exit_2(args, message):
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), *args])
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_help():
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--help"])
    assert result.returncode == 0 and "--versions" in result.stdout and "--target-ci" in result.stdout


def test_a_production_only_run_without_the_load_tools_refuses_and_keeps_the_results(tmp_path):
    import sys
    results = tmp_path / "results"
    results.mkdir()
    (results / "summary.txt").write_text("the previous run's summary\n")
    (tmp_path / "bin").mkdir()                                  # a PATH with neither ab nor hey
    result = run([sys.executable, "-m", "retrace_bench.driver", "--no-synthetic", "--pyperformance", "none",
                  "--results", str(results)],
                 PATH=str(tmp_path / "bin"))
    assert result.returncode == 2 and "needs ab (apt-get install apache2-utils)" in result.stderr
    assert "Traceback" not in result.stderr
    assert (results / "summary.txt").read_text() == "the previous run's summary\n"
    assert sorted(p.name for p in results.iterdir()) == ["summary.txt"]       # no lock, no archive


def test_the_self_check_runs_end_to_end(tmp_path):
    """./run_all_benchmarks.sh --self-check --quick --no-production: every kind of check is judged,
    and the exit status and the last line agree with the [MISS] lines (no timing asserted: a quick
    run may miss a figure, and then must say so). 4 instruction processes per arm, not the quick
    self-check's 8, to keep CI within its time: the sensitivity check may then miss, and say so."""
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--self-check", "--quick", "--no-production",
                  "--instruction-rounds", "4"], cwd=tmp_path, timeout=900)
    out = result.stdout
    sections = ("A/A, two plain arms", "A/A, two identical recorded arms", "Calibration: injected costs",
                "Sensitivity:", "Programs A/A", "Programs calibration", "Timer fidelity")
    from retrace_bench.instructions.callgrind import missing
    if missing() is None:           # Valgrind here: the instruction checks are judged too
        sections += ("Instructions A/A", "Instructions calibration", "Instructions sensitivity")
    starts = []
    for section in sections:
        assert section in out, (section, out[-2000:], result.stderr[-2000:])
        starts.append(out.index(section))
    # Each check judged something: its heading is followed by [ok] or [MISS] lines before the next one.
    ordered = sorted(zip(starts, sections))
    for (start, section), end in zip(ordered, [*(s for s, _ in ordered[1:]), len(out)]):
        assert "[ok]" in out[start:end] or "[MISS]" in out[start:end], (section, out[start:end][:1500])
    misses = out.count("[MISS]")
    assert out.count("[ok]") > 20 and misses < out.count("[ok]") / 4
    if misses:
        assert result.returncode == 1 and f"Self-check FAILED: {misses} figure(s) missed" in out
    else:
        assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@needs_load_tools
def test_apps_choose_the_shipped_apps_through_the_driver(tmp_path):
    """--no-synthetic --apps asgi: only the ASGI app's production benchmark runs, in the summary."""
    results = tmp_path / "results"
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--quick", "--no-synthetic", "--pyperformance", "none",
                  "--apps", "asgi", "--rounds", "2", "--results", str(results)], cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (results / "production_asgi.json").exists() and not (results / "production_wsgi.json").exists()
    assert "[production asgi round 2/2]" in result.stdout and "[production wsgi" not in result.stdout


def test_apm_alone_means_every_agent_and_a_list_means_those():
    from retrace_bench import driver
    from retrace_bench import agents
    assert driver.parse_args(["--apm", "--no-synthetic"]).agents == list(agents.AGENTS)
    assert driver.parse_args(["--apm", "all"]).agents == list(agents.AGENTS)
    assert driver.parse_args(["--apm", "otel, sentry,otel"]).agents == ["otel", "sentry"]
    assert driver.parse_args([]).agents == []
