"""The program workload: pyperformance benchmarks and the user's own commands, run by the suite's
rounds loop in every arm, with the disk guard, replay, the pyperf export and the summary sections."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest

from retrace_bench import arms, commands, driver, effects, facts, glance, procs
from retrace_bench import rounds
from retrace_bench.ops import run as ops_run
from retrace_bench.ops.analysis import RunResult
from retrace_bench.programs import analysis as program_analysis
from retrace_bench.programs import run as programs
from retrace_bench.programs import pyperformance
from retrace_bench.programs import report as programs_report
from retrace_bench.programs.run import COMMAND, Program, ProgramData, ProgramRun
from conftest import ROOT, TEST_DATA

#: Every test here starts real processes (docs/development.md: the fast loop leaves them out).
pytestmark = pytest.mark.slow

DATA = TEST_DATA


# --------------------------------------------------------------------------- units

def test_pyperf_worker_output_with_several_benchmarks():
    """A real worker's JSON (bm_logging: three pyperf benchmarks): one mean per benchmark, the
    figure their geometric mean, the suite's common metadata put back on each benchmark."""
    path = DATA / "pyperf" / "logging_worker.json"
    benches, means, problem = programs.read_pyperf(path)
    assert problem is None and len(benches) == len(means) == 3
    assert {b["metadata"]["name"] for b in benches} == {"logging_format", "logging_silent", "logging_simple"}
    assert all(b["metadata"]["unit"] == "second" for b in benches)
    run = ProgramRun("plain", 1, 1, wall_s=1.0, values=means)
    product = 1.0
    for m in means:
        product *= m
    assert run.figure_s == pytest.approx(product ** (1 / 3))


def test_pyperf_output_missing_or_empty(tmp_path):
    assert programs.read_pyperf(tmp_path / "none.json")[2] == "pyperf wrote no result"
    (tmp_path / "empty.json").write_text(json.dumps({"benchmarks": [{"runs": [{}]}], "version": "1.0"}))
    assert programs.read_pyperf(tmp_path / "empty.json")[2] == "pyperf wrote no values"


def test_ratio_interval_and_verdicts():
    slower = program_analysis.ratio_of([(1.0, 1.5), (1.1, 1.62), (0.9, 1.37), (1.0, 1.49)], 0.95)
    assert slower.verdict == facts.SLOWER and slower.low < 1.5 < slower.high and slower.rounds == 4
    same = program_analysis.ratio_of([(1.0, 1.01), (1.0, 0.99), (1.0, 1.0)], 0.95)
    assert same.verdict == facts.WITHIN_NOISE
    one = program_analysis.ratio_of([(1.0, 2.0)], 0.95)
    assert one.verdict == facts.CANNOT_TELL and one.low is None


def synthetic(name, plain, recorded, failure_round=None):
    item = ProgramData(name, COMMAND)
    for n, (p, r) in enumerate(zip(plain, recorded), 1):
        item.runs.append(ProgramRun("plain", n, 1, wall_s=p, cpu_s=p))
        failed = failure_round is not None and n >= failure_round
        item.runs.append(ProgramRun("retrace", n, 2, wall_s=None if failed else r, cpu_s=r,
                                    failure="exit status 1: AssertionError: boom" if failed else None,
                                    trace_bytes=1000))
    return item


def test_analysis_rows_geometric_mean_and_breakage():
    items = [synthetic("a", [1, 1.1, 0.9, 1], [2, 2.2, 1.8, 2]),
             synthetic("b", [1, 1, 1, 1], [1.25, 1.3, 1.2, 1.25]),
             synthetic("c", [1, 1, 1, 1], [1, 1, 1, 1], failure_round=1)]
    data = {"arms": [{"label": "plain", "kind": "plain"}, {"label": "retrace", "kind": "retrace"}],
            "programs": [i.to_json() for i in items]}
    result = program_analysis.analyse(data)
    rows = {r.name: r for r in result.rows}
    assert rows["a"].time_ratio["retrace"].estimate == pytest.approx(2.0)
    assert rows["c"].status == "fails under recording" and "AssertionError: boom" in rows["c"].detail
    geo = next(g for g in result.geomeans if g.figure == "command time")
    assert geo.programs == ["a", "b"]
    assert geo.ratio.estimate == pytest.approx((2.0 * 1.25) ** 0.5, rel=0.02)
    assert result.broke and "c (retrace" in result.broke[0]
    text = "\n".join(programs_report.programs_lines(result, 4))
    assert "FAILS UNDER RECORDING: exit status 1: AssertionError: boom" in text
    assert "Broke under recording: 1 of 3" in text


def test_trace_guard_stops_a_growing_trace(tmp_path):
    trace = tmp_path / "x.retrace"
    guard = programs.TraceGuard(trace, 10_000)
    assert guard() is None                      # no trace yet
    trace.write_bytes(b"x" * 5_000)
    assert guard() is None
    trace.write_bytes(b"x" * 20_000)
    said = guard()
    assert said.startswith("stopped: trace grew at ") and "MB/s" in said


def test_sizes():
    assert driver.parse_size("1G") == 1 << 30
    assert driver.parse_size("500M") == 500 << 20
    assert driver.parse_size("1.5GB") == int(1.5 * (1 << 30))
    for bad in ("lots", "10", "-1G"):
        with pytest.raises(ValueError):
            driver.parse_size(bad)


def test_catalog_subset_and_unknown_names():
    known = pyperformance.catalog()
    for name in (*facts.PYPERFORMANCE_SUBSET, *facts.PYPERFORMANCE_QUICK):
        assert name in known and not known[name].unavailable and not known[name].requirements
    assert known["async_tree_io"].extra_args == ("io",)
    assert "child processes" in known["python_startup"].unavailable
    with pytest.raises(pyperformance.CatalogError, match="unknown benchmark.*no_such"):
        pyperformance.select("richards,no_such")


def test_recorded_command_wraps_python_and_uses_the_hook_otherwise(tmp_path):
    rec = tmp_path / "r.retrace"
    argv, env, how = commands.recorded_command([sys.executable, "x.py"], sys.executable, {}, rec)
    assert argv[1:6] == ["-m", "retracesoftware", "--recording", str(rec), "--"] and how is None
    argv, env, how = commands.recorded_command(["bash", "-c", "x"], sys.executable, {}, rec)
    assert argv == ["bash", "-c", "x"] and env["RETRACE_RECORDING"] == str(rec) and "env hook" in how


def test_rounds_rotate_extend_and_stop_at_the_deadline():
    seen = []
    loop = rounds.Rounds(["a", "b"], 2, progress=lambda *a, **k: None)
    for number, order in loop:
        seen.append((number, order))
        if number == 2:
            loop.extend(2)
    assert seen == [(1, ["a", "b"]), (2, ["b", "a"]), (3, ["a", "b"]), (4, ["b", "a"])]
    said = []
    late = rounds.Rounds(["a"], 10, deadline=time.monotonic() - 1, progress=said.append)
    assert [n for n, _ in late] == [1, 2] and "time is up after 2 rounds" in said[0]


# --------------------------------------------------------------------------- real processes

def program(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return Program(name, COMMAND, template=f"{{python}} {path}", cwd=str(tmp_path))


def test_disk_guard_stops_a_recorded_program_and_the_run_goes_on(tmp_path):
    """A program whose recording grows past the limit is stopped and reported; the next program
    of the run is still measured."""
    # Loopback socket traffic is recorded byte for byte: ~200 MB of trace in half a second.
    flood = program(tmp_path, "flood.py", "import socket\na, b = socket.socketpair()\nchunk = b'x' * 65536\n"
                                          "for _ in range(3000):\n    a.sendall(chunk)\n    got = 0\n"
                                          "    while got < len(chunk):\n        got += len(b.recv(65536))\n")
    quiet = program(tmp_path, "quiet.py", "import time\nprint(time.time() > 0)\n")
    test_arms = arms.make_arms()
    with procs.managed(), procs.private_dir("retrace-bench.") as scratch:
        data = programs.run_programs([flood, quiet], test_arms, 2, scratch, 60, 2 << 20, True,
                                     progress=lambda *a, **k: None)
    result = program_analysis.analyse({"arms": [a.to_json() for a in test_arms],
                                       "programs": [d.to_json() for d in data]})
    rows = {r.name: r for r in result.rows}
    assert rows["flood.py"].status == "stopped"
    assert "stopped: trace grew at" in rows["flood.py"].detail and "MB/s" in rows["flood.py"].detail
    assert rows["quiet.py"].status == "measured" and "retrace" in rows["quiet.py"].time_ratio
    assert rows["quiet.py"].replay["retrace"]["verdict"] == "identical"
    assert rows["quiet.py"].output == "the same in every arm"
    first = glance.glance(RunResult([a.to_json() for a in test_arms], {}, [], 0.95, {}, None), None, result, ())
    text = "\n".join(glance.text_lines(first))
    assert "STOPPED by the disk guard under recording (no figure): program flood.py" in text, text


def test_a_program_that_breaks_only_when_recorded_is_a_result(tmp_path):
    fragile = program(tmp_path, "fragile.py",
                      "import sys\nif '--' in sys.orig_argv:\n    raise RuntimeError('only when recorded')\n")
    test_arms = arms.make_arms()
    with procs.managed(), procs.private_dir("retrace-bench.") as scratch:
        data = programs.run_programs([fragile], test_arms, 2, scratch, 60, 1 << 30, True,
                                     progress=lambda *a, **k: None)
    row = program_analysis.analyse({"arms": [a.to_json() for a in test_arms],
                                    "programs": [d.to_json() for d in data]}).rows[0]
    assert row.status == "fails under recording"
    assert "RuntimeError: only when recorded" in row.detail
    assert row.arms[0].processes == 2             # the plain arm's figure beside it


def hook_python(tmp_path) -> str:
    """A throwaway virtualenv that sees the suite's packages, with Retrace's env hook installed."""
    venv = tmp_path / "hooked"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "suite.pth").write_text(next(p for p in sys.path if p.endswith("site-packages")) + "\n")
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "retracesoftware", "enable-hook"], check=True, capture_output=True)
    return python


def run_suite(args, tmp_path, cwd=None, **env):
    return subprocess.run(["bash", str(ROOT / "run_all_benchmarks.sh"), *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd or tmp_path, env={**os.environ, **env})


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_driver_programs_end_to_end(tmp_path):
    """Through run_all_benchmarks.sh: a pyperformance benchmark, a Python command run from the
    user's directory, a non-Python command recorded through the env hook; the summary sections,
    programs.json, and a pyperf export that pyperf itself compares."""
    (tmp_path / "job.py").write_text("import os, time\nprint(len(os.listdir('.')) > 0, time.time() > 0)\n")
    hooked = hook_python(tmp_path)
    (tmp_path / "hooked.py").write_text("import time\nprint(time.time() > 0)\n")
    results = tmp_path / "results"
    done = run_suite(["--quick", "--no-synthetic", "--no-production", "--pyperformance", "richards",
                      "--program", "{python} job.py", "--program", f"bash -c '{hooked} hooked.py'",
                      "--results", str(results)], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = (results / "summary.txt").read_text()
    assert "WHOLE PROGRAMS (pyperformance" in summary and "YOUR PROGRAMS (--program)" in summary
    assert "richards (compute" in summary and "Geometric mean time, retrace / plain" in summary
    assert "job.py: wall time plain" in summary and "bash: wall time plain" in summary
    assert "DID NOT RECORD" not in summary
    data = json.loads((results / "programs.json").read_text())
    bash = next(p for p in data["programs"] if p["name"] == "bash")
    assert all(r["trace_bytes"] for r in bash["runs"] if r["arm"] == "retrace")
    compared = subprocess.run([sys.executable, "-m", "pyperf", "compare_to", str(results / "pyperf" / "plain.json"),
                               str(results / "pyperf" / "retrace.json")], capture_output=True, text=True)
    assert compared.returncode == 0, compared.stderr
    assert "richards" in compared.stdout + compared.stderr or "not significant" in compared.stdout


def test_driver_non_python_command_without_hook_did_not_record(tmp_path):
    results = tmp_path / "results"
    done = run_suite(["--quick", "--no-synthetic", "--no-production", "--pyperformance", "none", "--rounds", "2",
                      "--program", "bash -c 'echo hi'", "--results", str(results)], tmp_path)
    assert done.returncode == 1
    summary = (results / "summary.txt").read_text()
    assert "DID NOT RECORD" in summary and "enable-hook" in summary


def test_driver_refuses_bad_program_input_before_touching_results(tmp_path):
    results = tmp_path / "results"
    for args in (["--program", "{python} 'unclosed"], ["--program", "no-such-program-xyz"],
                 ["--pyperformance", "nope"], ["--max-trace", "lots"]):
        done = run_suite(["--quick", "--no-synthetic", "--no-production", *args, "--results", str(results)], tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and not results.exists()


# --------------------------------------------------------------------------- nothing outlives a run

def test_children_die_with_a_killed_manager(tmp_path):
    """kill -9 of the process that started a child: the kernel kills the child (parent-death
    signal), though it ignores SIGTERM and runs in its own session."""
    pid_file = tmp_path / "child.pid"
    manager = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from retrace_bench import procs
child = procs.start([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"], {{}})
open({str(pid_file)!r}, "w").write(str(child.pid))
time.sleep(300)
"""])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child = int(pid_file.read_text())
        os.kill(manager.pid, signal.SIGKILL)
        manager.wait()
        deadline = time.monotonic() + 10
        while procs.start_time(child) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert procs.start_time(child) is None, "the child outlived its killed manager"
    finally:
        manager.kill()


def test_stale_scratch_of_dead_runs_is_removed_and_only_that(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / "retrace-bench.stale"
    stale.mkdir()
    (stale / procs.OWNER_FILE).write_text(f"{dead.pid} 12345\n")
    (stale / "x.retrace").write_text("secret")
    alive = procs.make_private_dir("retrace-bench.", str(tmp_path))
    foreign = tmp_path / "retrace-bench.not-ours"
    foreign.mkdir()                              # no owner file: not the suite's
    other = tmp_path / "unrelated"
    other.mkdir()
    (other / procs.OWNER_FILE).write_text(f"{dead.pid} 1\n")
    assert procs.remove_stale_scratch(str(tmp_path)) == 1
    assert not stale.exists() and alive.exists() and foreign.exists() and other.exists()


def test_an_interrupted_runs_partial_directory_is_removed_and_a_programs_recording_kept(tmp_path):
    """The next run removes an interrupted run's .partial directory; with --keep-recordings a
    program's round-1 recording is kept after its replay, 0600 in a 0700 recordings/."""
    results = tmp_path / "results"
    (results / "archive" / "v0.2.30_2026-01-01_000000.partial").mkdir(parents=True)
    done = run_suite(["--quick", "--no-synthetic", "--no-production", "--pyperformance", "none", "--keep-recordings",
                      "--program", "{python} -c 'print(1)'", "--rounds", "2", "--results", str(results)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "removed 1 incomplete run(s)" in done.stdout
    assert not list((results / "archive").glob("*.partial"))
    kept = list((results / "archive").glob("*/recordings"))
    assert len(kept) == 1 and stat.S_IMODE(kept[0].stat().st_mode) == 0o700
    recordings = list(kept[0].glob("program.*.round1.retrace"))
    assert recordings and all(stat.S_IMODE(r.stat().st_mode) == 0o600 and r.stat().st_size > 0 for r in recordings)


def test_versions_each_ratio_the_difference_and_the_gate(tmp_path):
    """--versions: each release against plain, the later one against the baseline per program and in
    the geometric mean, and the regression gate on a later release 30% slower."""
    items = []
    for name, base in (("a", 1.0), ("b", 2.0)):
        item = ProgramData(name, COMMAND)
        for n in range(1, 5):
            jitter = 1 + 0.01 * (n % 2)
            item.runs += [ProgramRun("plain", n, 1, wall_s=base * jitter, cpu_s=base),
                          ProgramRun("retrace==0.2.29", n, 2, wall_s=1.5 * base * jitter, cpu_s=base, trace_bytes=1),
                          ProgramRun("retrace==0.2.30", n, 3, wall_s=1.95 * base * jitter, cpu_s=base, trace_bytes=1)]
        items.append(item)
    data = {"format": 1, "config": {"rounds": 4},
            "arms": [{"label": "plain", "kind": "plain"}, {"label": "retrace==0.2.29", "kind": "retrace"},
                     {"label": "retrace==0.2.30", "kind": "retrace"}],
            "programs": [i.to_json() for i in items]}
    result = program_analysis.analyse(data)
    row = result.rows[0]
    assert row.time_ratio["retrace==0.2.29"].estimate == pytest.approx(1.5)
    assert row.version_ratio["retrace==0.2.30"].estimate == pytest.approx(1.3)
    assert row.version_ratio["retrace==0.2.30"].verdict == facts.SLOWER
    versus_baseline = [g for g in result.geomeans if g.against == "retrace==0.2.29"]
    assert versus_baseline and versus_baseline[0].ratio.estimate == pytest.approx(1.3)
    assert "against the baseline retrace==0.2.29: 1.30x" in "\n".join(programs_report.programs_lines(result, 4))
    (tmp_path / "programs.json").write_text(json.dumps(data))
    found = [effects.row_text(r) for r in effects.regressions(programs_report.section(tmp_path).effects)]
    assert any(f.startswith("programs a: time (retrace==0.2.30 vs retrace==0.2.29): 1.300x") for f in found), found
    assert any("geometric mean" in f for f in found)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_the_run_and_everything_it_started(tmp_path, signum):
    """A signal to the driver while a program runs: exit 130, the program's process is gone, the
    previous results untouched, no scratch directory of this run left."""
    results = tmp_path / "results"
    (results / "archive").mkdir(parents=True)          # the results of an earlier run
    (results / "summary.txt").write_text("previous\n")
    marker = f"retrace-bench-sleeper-{signum}"
    log = tmp_path / "log"
    with open(log, "w") as out:
        driver = subprocess.Popen(["bash", str(ROOT / "run_all_benchmarks.sh"), "--no-synthetic", "--no-production",
                                   "--pyperformance", "none", "--rounds", "2", "--program",
                                   f"{{python}} -c 'import time; time.sleep(120)  # {marker}'",
                                   "--results", str(results)], cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not subprocess.run(["pgrep", "-f", "--", f"-c import time; time.sleep.*{marker}"], capture_output=True).stdout:
            assert time.monotonic() < deadline and driver.poll() is None, log.read_text()
            time.sleep(0.1)
        os.kill(driver.pid, signum)
        assert driver.wait(60) == 130, log.read_text()
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    left = subprocess.run(["pgrep", "-f", "--", f"-c import time; time.sleep.*{marker}"], capture_output=True, text=True).stdout.split()
    assert left == [], "the program outlived the interrupted run"
    assert (results / "summary.txt").read_text() == "previous\n"


def test_a_recorded_process_that_did_not_record_fails_verification(tmp_path):
    """The runner's evidence rule, failing path: a process that reports a plain run, or a path that is
    not the one it was given, or a trace no bigger than an empty recording, is not a Retrace figure."""
    from retrace_bench.handover import ProcessRecord
    runner = ops_run.Runner(tmp_path, 60)
    arm = arms.make_arms()[1]
    runner.empty_trace_bytes[arm.label] = 1000
    trace = tmp_path / "x.retrace"
    trace.write_bytes(b"x" * 5000)
    plain = ProcessRecord(script="x", header={}, mode="plain", recording_path=None, tests=[])
    assert "did not record to" in runner.verify_trace(arm, plain, trace)[0]
    elsewhere = ProcessRecord(script="x", header={}, mode="record", recording_path=str(tmp_path / "other"), tests=[])
    assert "did not record to" in runner.verify_trace(arm, elsewhere, trace)[0]
    small = ProcessRecord(script="x", header={}, mode="record", recording_path=str(trace), tests=[])
    trace.write_bytes(b"x" * 1100)
    assert "nothing was recorded" in runner.verify_trace(arm, small, trace)[0]
    trace.write_bytes(b"x" * 5000)
    assert runner.verify_trace(arm, small, trace) == (None, 5000)


def test_a_child_that_hangs_after_its_error_is_stopped_and_one_that_works_on_is_not(tmp_path):
    """procs.HangAfterError (used on replays): an error line then no CPU for the idle time: stopped;
    an error line then CPU work to a normal exit: left alone."""
    from retrace_bench.replay import first_error_line
    hang = "import sys, time; print('ValueError: bad', file=sys.stderr, flush=True); time.sleep(60)"
    work = ("import sys, time; print('ValueError: bad', file=sys.stderr, flush=True)\n"
            "end = time.process_time() + 1.5\nwhile time.process_time() < end: pass")
    results = {}
    for name, code in (("hang", hang), ("work", work)):
        err = tmp_path / f"{name}.err"
        started = time.monotonic()
        outcome, _, stopped = procs.run_watched([sys.executable, "-c", code], dict(os.environ), 60,
                                                tmp_path / f"{name}.out", err,
                                                procs.HangAfterError(err, first_error_line, 0.5))
        results[name] = (outcome, stopped, time.monotonic() - started)
    outcome, stopped, _ = results["hang"]
    assert stopped == "hung" and not outcome.ok and not outcome.timed_out
    outcome, stopped, _ = results["work"]
    assert stopped is None and outcome.ok


@pytest.mark.skipif(__import__("retrace_bench.instructions.callgrind").instructions.callgrind.missing() is not None,
                    reason="instructions cannot be counted here")
def test_program_instructions_beyond_start_up(tmp_path):
    """--program-instructions for real: a command's count beyond start-up (the command less an empty
    script) grows with its work (twice the clock reads, about twice the count), and through the
    driver, recording makes a clock-reading program several times dearer."""
    (tmp_path / "clock.py").write_text("import sys, time\nfor _ in range(int(sys.argv[1])):\n    time.time()\n")
    plain = arms.Arm("plain", "plain", sys.executable)
    with procs.managed(), procs.private_dir("retrace-bench.") as scratch:
        runner = programs.ProgramRunner(scratch, 300, 1 << 30, programs.empty_trace_sizes(scratch, 300))
        counts = {n: programs.count_program(runner, plain, Program(f"clock{n}", COMMAND, template=f"{{python}} clock.py {n}",
                                                                 cwd=str(tmp_path)), sys.executable, None, 1)
                  for n in (2000, 4000)}
    assert not any(c.failure for c in counts.values()), counts
    assert 1.8 < counts[4000].caller / counts[2000].caller < 2.2
    results = tmp_path / "results"
    done = run_suite(["--quick", "--no-synthetic", "--no-production", "--pyperformance", "none",
                      "--program-instructions", "--program", "{python} clock.py 2000", "--results", str(results)],
                     tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    item = json.loads((results / "programs.json").read_text())["programs"][0]

    def total(arm):
        runs = [c["caller"] + c["others"] for c in item["instructions"] if c["arm"] == arm and not c["failure"]]
        assert len(runs) == 2, item["instructions"]
        return sum(runs) / len(runs)
    assert total("retrace") > 4 * total("plain")
    assert total("plain") == pytest.approx(counts[2000].caller + counts[2000].others, rel=0.05)
    summary = (results / "summary.txt").read_text()
    assert "instructions beyond start-up (less an empty script):" in summary


def test_a_command_not_run_by_python_or_that_failed_has_no_count_and_says_why():
    """A command recorded through the env hook would be counted as the shell, not the Python it
    starts; a program that failed in the timed rounds is not counted: each row says why."""
    arms_ = [arms.Arm("plain", "plain", sys.executable), arms.Arm("retrace", "retrace", sys.executable, "0.2.30")]
    hooked = programs.Program("bash", programs.COMMAND, template="bash -c 'python3 job.py'")
    item = programs.ProgramData("bash", programs.COMMAND)
    said = []
    programs.count_programs(None, [(hooked, item, {"plain": sys.executable, "retrace": sys.executable}, None)],
                            arms_, 2, progress=said.append)
    assert "not run by {python}" in item.instructions_skipped and not item.instructions
    row = program_analysis.row_of(item, ["plain", "retrace"], ["retrace"], 0.95)
    assert "not run by {python}" in row.instructions_note
    assert "not counted in every arm: not run by {python}" in "\n".join(programs_report.program_instruction_lines(row, ["plain", "retrace"]))


def test_a_relative_tmpdir_leaves_no_recording_in_the_users_folder(tmp_path):
    """TMPDIR=. and a --program run from the user's folder: every scratch path a child gets is
    absolute, so nothing (no recording, no scratch directory) is written into the user's folder, and
    the recorded arm really recorded."""
    user = tmp_path / "user"
    user.mkdir()
    (user / "hi.py").write_text("import time\nprint('hi', time.time() > 0)\n")
    results = tmp_path / "results"
    done = run_suite(["--quick", "--no-synthetic", "--no-production", "--pyperformance", "none", "--rounds", "2",
                      "--program", "{python} hi.py", "--results", str(results)], user, TMPDIR=".")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in user.iterdir()) == ["hi.py"]
    assert "DID NOT RECORD" not in (results / "summary.txt").read_text()


@pytest.mark.parametrize("form,says", [("app", "-m app"), ("app.pyz", "unpack the archive"),
                                       ("noext", "noext.py"), ("-u hi.py", "PYTHONUNBUFFERED")])
def test_a_command_retraces_launcher_refuses_is_refused_up_front_with_the_form_that_records(tmp_path, form, says):
    """Retrace's launcher runs only -m, -c or a .py file; anything else it refuses and exits 0, which
    once read as "6x faster under recording". The driver refuses it before measuring, naming the form."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__main__.py").write_text("print('hi')\n")
    for name in ("noext", "hi.py", "app.pyz"):
        (tmp_path / name).write_text("print('hi')\n")
    results = tmp_path / "results"
    done = run_suite(["--quick", "--no-synthetic", "--no-production", "--pyperformance", "none",
                      "--program", f"{{python}} {form}", "--results", str(results)], tmp_path)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    assert "Traceback" not in done.stderr and says in done.stderr and not results.exists(), done.stderr


def test_the_launchers_refusal_at_run_time_is_not_recorded(tmp_path):
    """Past the up-front check (a program the driver did not vet): the launcher's refusal on stderr
    makes the recorded run "not recorded", with the launcher's own line."""
    (tmp_path / "noext").write_text("print('hi')\n")
    arm = arms.make_arms()[1]
    with procs.managed(), procs.private_dir("retrace-bench.") as scratch:
        runner = programs.ProgramRunner(scratch, 300, 1 << 30, programs.empty_trace_sizes(scratch, 300))
        run, _ = runner.run(arm, Program("noext", COMMAND, template="{python} noext", cwd=str(tmp_path)),
                            arm.python, 1, 1)
    assert run.not_recorded and facts.LAUNCHER_REFUSAL in run.not_recorded and "noext" in run.not_recorded, run


def test_the_programs_section_reports_the_rounds_that_ran(tmp_path):
    """--rounds 50 with a --max-minutes that stops after a few: the summary says the rounds that ran."""
    (tmp_path / "hi.py").write_text("print('hi')\n")
    results = tmp_path / "results"
    done = run_suite(["--quick", "--no-synthetic", "--no-production", "--pyperformance", "none", "--no-instructions",
                      "--rounds", "50", "--max-minutes", "0.02", "--program", "{python} hi.py",
                      "--results", str(results)], tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    config = json.loads((results / "programs.json").read_text())["config"]
    ran = config["rounds"]
    assert 2 <= ran < 50 and config["rounds_planned"] == 50, config
    assert f"; {ran} rounds, " in (results / "summary.txt").read_text()
