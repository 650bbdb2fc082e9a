"""The production benchmark: ab parsing on real outputs, an end-to-end quick run plainly and
recorded, and the bad situations (port in use, app that fails, Ctrl-C): never an orphan."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


from retrace_bench import commands
from retrace_bench.production import run as pb
from retrace_bench.production import analysis as sa
from retrace_bench.production import report as sr
from retrace_bench import facts
from retrace_bench.production import load
from conftest import ROOT, clean_env, needs_load_tools, run, TEST_DATA

#: Every test here starts real processes (docs/development.md: the fast loop leaves them out).
pytestmark = pytest.mark.slow

AB = TEST_DATA / "ab"


def processes_with(marker):
    """Pids of processes whose command line contains `marker`."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(proc.name))
        except OSError:
            pass
    return pids


def test_parse_ab_success():
    result = load.parse_ab((AB / "ok.txt").read_text(), (AB / "ok.csv").read_text())
    assert result.complete == 50 and result.failed == 0 and result.non_2xx == 0
    assert result.requests_per_s > 0 and result.p50_ms <= result.p95_ms <= result.p99_ms


def test_parse_ab_failed_and_non_2xx_lines():
    failed = load.parse_ab((AB / "failed.txt").read_text(), (AB / "failed.csv").read_text())
    assert failed.failed == 57
    non2xx = load.parse_ab((AB / "non2xx.txt").read_text(), (AB / "non2xx.csv").read_text())
    assert non2xx.non_2xx == 50 and non2xx.failed == 0


def test_parse_ab_refused_is_a_clear_error():
    with pytest.raises(pb.BenchmarkError, match="Requests per second.*Connection refused"):
        load.parse_ab((AB / "refused.txt").read_text(), (AB / "ok.csv").read_text())
    with pytest.raises(pb.BenchmarkError, match="no percentile table"):
        load.parse_ab((AB / "ok.txt").read_text(), "")


ARM = pb.Arm("retrace", "retrace", "/venv/bin/python", "0.2.30")


def test_recorded_python_command_is_wrapped_and_others_get_the_hook_variables(tmp_path):
    argv, env = pb.app_command("{python} app.py --port {port}", 8123, ARM, tmp_path / "r.retrace")
    assert argv[:6] == ["/venv/bin/python", "-m", "retracesoftware", "--recording", str(tmp_path / "r.retrace"), "--"]
    assert argv[-2:] == ["--port", "8123"]
    argv, env = pb.app_command("gunicorn app:app -b 127.0.0.1:{port}", 8123, ARM, tmp_path / "r.retrace")
    assert argv[0] == "gunicorn" and env["RETRACE"] == "1" and env["RETRACE_RECORDING"].endswith("r.retrace")
    argv, env = pb.app_command("{python} app.py --port {port}", 8123, ARM, None)
    assert "retracesoftware" not in argv and "RETRACE" not in env


def test_exception_lines_are_distinct_and_in_order():
    log = ("GET / 200\nTraceback (most recent call last):\n  File \"x\", line 1\n"
           "RuntimeError: object is already bound\nGET / 500\n"
           "RuntimeError: object is already bound\nsqlite3.OperationalError: database is locked\n")
    assert pb.exception_lines(log) == ["RuntimeError: object is already bound",
                                       "sqlite3.OperationalError: database is locked"]


def production(*args, timeout=300):
    return run([sys.executable, str(ROOT / "production_benchmark.py"), *args], timeout=timeout)


def scratch() -> set:
    return set(Path("/tmp").glob("retrace-prod.*"))


@needs_load_tools
def test_quick_run_plain_and_recorded_leaves_nothing_behind(tmp_path):
    marker = f"{tmp_path}/marker.db"
    before = scratch()                  # another run's scratch is not this test's business
    result = production("--quick", "--rounds", "2", "-n", "30", "--warmup", "5", "--results", str(tmp_path),
                        "--app-cmd", f"{{python}} {ROOT}/apps/webapp.py --port {{port}} --db {marker}",
                        "--path", "/api/report/3", "--path", "/api/orders/3", "--stats-path", "/api/stats")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "production_app.json").read_text())
    assert [r["arm"] for r in data["runs"]] == ["plain", "retrace", "retrace", "plain"]      # rotated
    recorded = data["runs"][1]
    assert recorded["trace_bytes"] > data["idle_trace_bytes"]["retrace"] and data["runs"][0]["trace_bytes"] is None
    summary = sa.app_summary(data)
    assert summary["per_arm"]["retrace"]["requests_recorded"] is True
    for arm in ("plain", "retrace"):
        figures = summary["per_arm"][arm]
        assert figures["cpu_ms_per_request"] > 0 and figures["peak_rss_mb"] > 0 and figures["startup_s"] > 0
    for run_ in data["runs"]:
        for path in ("/api/report/3", "/api/orders/3"):
            assert run_["results"][path]["complete"] == 30 and run_["results"][path]["failed"] == 0
        assert set(run_["breakdown"]) == {"report", "orders"}
    text = (tmp_path / "production_app.txt").read_text()
    assert "spec: " in text and any(words in text for words in sr.SPEC_VERDICT_TEXT.values())
    assert "bytes per request" in text
    assert data["config"]["pinned"] == {"app_cpus": [0], "load_cpus": [1]} and "pinned: the app on CPU 0" in text
    assert "Replay of a recorded server run (retrace, round 1" in text
    # What the README reports for 0.2.30: a recorded waitress server does not replay to the end.
    assert data["server_replay"]["verdict"] == "fails" and "Error" in data["server_replay"]["detail"]
    assert processes_with(marker) == []
    assert scratch() - before == set()


@needs_load_tools
def test_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = production("--quick", "--port", str(busy.getsockname()[1]), "--results", str(tmp_path))
    assert result.returncode == 1 and "already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert "already in use" in json.loads((tmp_path / "production_wsgi.json").read_text())["failure"]


@needs_load_tools
def test_app_that_fails_to_start_shows_its_output(tmp_path):
    result = production("--quick", "--results", str(tmp_path), "--path", "/",
                        "--app-cmd", "{python} -c \"import sys; print('boom: no database'); sys.exit(3)\" {port}")
    assert result.returncode == 1
    assert "exited with status 3" in result.stderr and "boom: no database" in result.stderr
    assert "Traceback" not in result.stderr


@needs_load_tools
def test_ctrl_c_stops_the_app(tmp_path):
    marker = f"{tmp_path}/ctrlc.db"
    bench = subprocess.Popen(
        [sys.executable, str(ROOT / "production_benchmark.py"), "-n", "100000", "--warmup", "5",
         "--results", str(tmp_path), "--path", "/api/orders/1",
         "--app-cmd", f"{{python}} {ROOT}/apps/webapp.py --port {{port}} --db {marker}"],
        env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker), "the app never started"
    time.sleep(2)                       # the load is running
    bench.send_signal(signal.SIGINT)
    _, stderr = bench.communicate(timeout=90)
    assert bench.returncode == 130 and "interrupted" in stderr
    assert "Traceback" not in stderr
    assert processes_with(marker) == []


@needs_load_tools
def test_a_fixed_port_serves_every_arm(tmp_path):
    port = pb.free_port()
    result = production("--quick", "-n", "20", "--warmup", "2", "--port", str(port), "--results", str(tmp_path))
    assert result.returncode == 0, result.stderr


@needs_load_tools
def test_ctrl_c_while_the_app_starts_leaves_nothing(tmp_path):
    marker = f"{tmp_path}/early.db"
    before = scratch()
    bench = subprocess.Popen(
        [sys.executable, str(ROOT / "production_benchmark.py"), "--quick", "--results", str(tmp_path),
         "--path", "/api/orders/1", "--app-cmd", f"{{python}} {ROOT}/apps/webapp.py --port {{port}} --db {marker}"],
        env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    app = []                            # the app's own process, not the benchmark's (whose argv has the marker too)
    while not app and time.monotonic() < deadline:
        app = [pid for pid in processes_with(marker) if pid != bench.pid]
        time.sleep(0.01)
    assert app, "the app never started"
    bench.send_signal(signal.SIGINT)    # while it starts (seeding its database) or just after
    _, stderr = bench.communicate(timeout=90)
    assert bench.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    time.sleep(0.5)
    assert processes_with(marker) == []
    assert scratch() - before == set()


def test_bad_arguments():
    result = production("--app-cmd", "python x.py --port {port}")
    assert result.returncode == 2 and "--path is needed" in result.stderr
    assert production("-n", "5", "-c", "10").returncode == 2
    result = production("--app-cmd", "  ", "--path", "/x")
    assert result.returncode == 2 and "--app-cmd is empty" in result.stderr and "Traceback" not in result.stderr


@needs_load_tools
def test_an_app_whose_every_answer_is_an_error_is_a_failed_arm(tmp_path):
    """A typo'd --path: every request answered 404. That arm FAILED, the run exits 1."""
    (tmp_path / "www").mkdir()
    result = production("--quick", "--rounds", "1", "-n", "20", "--warmup", "5", "--rate-requests", "0",
                        "--arms", "plain", "--results", str(tmp_path / "out"),
                        "--app-cmd", f"{{python}} -m http.server {{port}} --bind 127.0.0.1 --directory {tmp_path / 'www'}",
                        "--path", "/no-such-page")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "every request to /no-such-page failed (20 answered with a non-2xx status" in result.stderr
    failure = json.loads((tmp_path / "out" / "production_app.json").read_text())["failure"]
    assert "every request to /no-such-page failed" in failure


def test_ab_csv_99th_percentile_bug_falls_back_to_the_report():
    result = load.parse_ab((AB / "ok.txt").read_text(), (AB / "ok.csv").read_text())
    assert "99,0.257" in (AB / "ok.csv").read_text()      # ab's own bug at -n 50
    assert result.p99_ms == 21.0 and result.p95_ms == 20.959


def test_pinning_puts_a_child_and_its_children_on_the_cpus_given():

    from retrace_bench import facts, procs
    app_cpus, load_cpus = facts.pinning(True)
    assert facts.pinning(False) == (None, None)
    if app_cpus is None:
        pytest.skip("one CPU: nothing to pin")
    assert app_cpus.isdisjoint(load_cpus)
    child = "import os, subprocess, sys; print(sorted(os.sched_getaffinity(0)), subprocess.run([sys.executable, '-c', " \
            "'import os; print(sorted(os.sched_getaffinity(0)))'], capture_output=True, text=True).stdout.strip())"
    process = procs.start([sys.executable, "-c", child], dict(os.environ), stdout=subprocess.PIPE, text=True,
                          cpus=load_cpus)
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        procs.stop(process)
    assert out.split() == [str(sorted(load_cpus))] * 2


@pytest.mark.parametrize("args, message", [
    (["--app-cmd", "python app.py", "--path", "/x"], "no {port} and no --port"),
    (["--app-cmd", "python app.py --port {port}", "--path", "api/x"], "a path starts with /"),
    (["--app-cmd", "python 'app.py --port {port}", "--path", "/x"], "cannot be split into words"),
])
def test_own_app_mistakes_are_caught_before_anything_runs(args, message):
    result = production(*args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_templates_fill_only_port_and_python_and_survive_spaces(tmp_path):
    import shlex
    template = """{python} app.py --port {port} --config '{"debug": 1}'"""
    assert shlex.split(commands.fill_template(template, "/opt/my python/bin/python", 8080)) == [
        "/opt/my python/bin/python", "app.py", "--port", "8080", "--config", '{"debug": 1}']
    argv = shlex.split(commands.fill_template(pb.SHIPPED_APPS["wsgi"], sys.executable, 1))
    assert argv[1] == str(ROOT / "apps" / "webapp.py")        # one word, whatever the clone's path holds


def test_an_app_that_cannot_start_is_one_line(tmp_path):
    result = production("--quick", "--arms", "plain", "--rate-requests", "0", "--results", str(tmp_path),
                        "--app-cmd", "/no/such/server --port {port}", "--path", "/x")
    assert result.returncode == 1 and "cannot start the app: /no/such/server" in result.stderr
    assert "Traceback" not in result.stderr


def test_versions_are_compared_with_the_baseline_and_gated_on_production_figures():
    """A real --versions 0.2.29,0.2.30 production result: identical enough to pass the gate; the
    same result with 0.2.30's throughput halved and its CPU per request doubled must fail it."""
    data = json.loads((ROOT / "tests" / "data" / "versions" / "production_wsgi.json").read_text())
    summary = sa.app_summary(data)
    for p in summary["paths"].values():
        assert p["baseline"] == "retrace==0.2.29" and list(p["against_baseline"]) == ["retrace==0.2.30"]
    assert summary["per_arm"]["retrace==0.2.30"]["cpu_vs_baseline_verdict"] == facts.WITHIN_NOISE
    assert sa.regressions(summary) == []
    for run_ in data["runs"]:
        if run_["arm"] == "retrace==0.2.30":
            run_["cpu_ms_per_request"] *= 2
            for result in run_["results"].values():
                result["requests_per_s"] /= 2
    found = sa.regressions(sa.app_summary(data))
    assert any(f.startswith("production wsgi /api/report/7: requests_per_s (retrace==0.2.30 vs retrace==0.2.29): -")
               for f in found), found
    assert any(f.startswith("production wsgi: cpu_ms_per_request (retrace==0.2.30 vs retrace==0.2.29): +") for f in found)
    assert "vs retrace==0.2.29 (baseline): throughput" in sr.render(data)


@needs_load_tools
def test_keep_recordings_keeps_every_production_recording_private(tmp_path):
    """--keep-recordings: round 1's recording (also replayed), later rounds' and the idle one's,
    each 0600 in a 0700 recordings/ directory."""
    result = production("--quick", "--rounds", "2", "-n", "20", "--warmup", "5", "--rate-requests", "0",
                        "--keep-recordings", "--results", str(tmp_path))
    assert result.returncode == 0, result.stderr
    kept = tmp_path / "recordings"
    names = sorted(p.name for p in kept.iterdir())
    assert "app.retrace.1.retrace" in names and "app.retrace.2.retrace" in names
    assert any(n.startswith("idle.") for n in names)
    assert oct(kept.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" and p.stat().st_size > 0 for p in kept.iterdir())


def test_standalone_results_default_to_a_directory_the_driver_leaves_alone():
    args = pb.parse_args([])
    assert Path(args.results) == ROOT / "results" / "production"


def test_an_app_that_ignores_sigterm_is_killed_once_idle_and_said_so(tmp_path):
    app_py = tmp_path / "stubborn.py"
    app_py.write_text("import http.server, signal, sys\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                      "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)"
                      ".serve_forever()\n")
    port = pb.free_port()
    with pb.procs.managed():
        app = pb.App([sys.executable, str(app_py), str(port)], dict(os.environ), port, "/", tmp_path / "log", 30)
        app.stop()
    assert app.process.returncode == -signal.SIGKILL
    # Killed because it idled, not at the minute a draining recording may take.
    assert "did not exit on SIGTERM and was idle" in app.stop_note


def test_a_recorded_app_that_ignores_sigterm_is_killed_within_seconds(tmp_path):
    """Recorded, the app is never quite idle (Retrace's writer polls, ~6 ms of CPU a second): it is
    still killed once it does nothing, not after the minute a draining recording may take."""
    app_py = tmp_path / "stubborn.py"
    app_py.write_text("import http.server, signal, sys\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                      "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)"
                      ".serve_forever()\n")
    port = pb.free_port()
    command = [sys.executable, "-m", "retracesoftware", "--recording", str(tmp_path / "app.retrace"), "--",
               str(app_py), str(port)]
    with pb.procs.managed():
        app = pb.App(command, dict(os.environ), port, "/", tmp_path / "log", 60)
        app.stop()
    # Killed on the idle path (the busy cap leaves no note).
    assert app.process.returncode == -signal.SIGKILL and "was idle" in (app.stop_note or "")


@needs_load_tools
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two CPUs")
def test_breakage_that_only_shows_unpinned_is_reported(tmp_path):
    """An app that fails while its thread may run on more than one CPU (a race that never fires on one
    core): the warm-up runs it unpinned and reports the failures; the measured load stays pinned."""
    app_py = tmp_path / "racy.py"
    app_py.write_text(
        "import http.server, os, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        racy = len(os.sched_getaffinity(0)) > 1\n"
        "        if racy:\n"
        "            print('RuntimeError: object is already bound', flush=True)\n"
        "        self.send_response(500 if racy else 200)\n"
        "        self.send_header('Content-Length', '2')\n"
        "        self.end_headers()\n"
        "        self.wfile.write(b'ok')\n"
        "    def log_message(self, *a):\n"
        "        pass\n"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n")
    result = production("--app-cmd", f"{{python}} {app_py} {{port}}", "--path", "/x", "--arms", "plain",
                        "--quick", "-n", "20", "--warmup", "10", "--rate-requests", "0", "--results", str(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    text = (tmp_path / "production_app.txt").read_text()
    assert "BREAKS: 10 of 10 requests failed in the unpinned warm-ups" in text
    assert "RuntimeError: object is already bound" in text
    data = json.loads((tmp_path / "production_app.json").read_text())
    assert all(r["results"]["/x"]["failed"] + r["results"]["/x"]["non_2xx"] == 0 for r in data["runs"])
