"""What a run may touch: only files it wrote (results manifest), result names that never collide,
shared virtualenvs built under a lock, and recordings no other user can read."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, clean_env, copy_repo, needs_load_tools, processes_under, run
from retrace_bench import arms, driver, facts
from retrace_bench import results as results_dir
from retrace_bench.ops import run as ops_run


#: Every test here starts real processes (docs/development.md: the fast loop leaves them out).
pytestmark = pytest.mark.slow

def finished_run(results: Path, files: dict) -> Path:
    """A completed run directory under results/archive with these files."""
    run_dir = results_dir.new_run_dir(results, "vtest")
    for name, text in files.items():
        (run_dir / name).write_text(text)
    return run_dir


def test_a_directory_with_the_users_files_is_refused_untouched(tmp_path):
    (tmp_path / "requirements.txt").write_text("mine\n")
    with pytest.raises(results_dir.RunError, match="did not write.*requirements.txt"):
        results_dir.claim_results_dir(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["requirements.txt"]


def test_publish_removes_only_what_an_earlier_run_wrote(tmp_path):
    results = tmp_path / "results"
    results_dir.claim_results_dir(results)
    results_dir.publish(finished_run(results, {"summary.txt": "1", "old.json": "1"}), results)
    (results / "notes.txt").write_text("the user's own notes\n")      # added by hand afterwards
    results_dir.publish(finished_run(results, {"summary.txt": "2"}), results)
    assert (results / "summary.txt").read_text() == "2"
    assert not (results / "old.json").exists()                     # the suite's, and not made again
    assert (results / "notes.txt").read_text() == "the user's own notes\n"
    assert json.loads((results / results_dir.MANIFEST).read_text()) == ["summary.txt"]


def test_publish_never_replaces_a_file_it_did_not_write(tmp_path):
    results = tmp_path / "results"
    results_dir.claim_results_dir(results)
    (results / "summary.txt").write_text("the user's\n")
    run_dir = finished_run(results, {"summary.txt": "run"})
    with pytest.raises(results_dir.RunError, match="not written by this suite"):
        results_dir.publish(run_dir, results)
    assert (results / "summary.txt").read_text() == "the user's\n"


def test_an_earlier_suites_results_directory_is_still_used(tmp_path):
    """A results/ with archive/ and latest files but no manifest (an older version of the suite)."""
    results = tmp_path / "results"
    (results / "archive").mkdir(parents=True)
    (results / "summary.txt").write_text("old")
    (results / "README.local").write_text("the user's")
    results_dir.claim_results_dir(results)
    results_dir.publish(finished_run(results, {"run.json": "{}"}), results)
    assert not (results / "summary.txt").exists() and (results / "README.local").exists()


def test_a_relative_results_directory_is_the_users(tmp_path, monkeypatch):
    monkeypatch.setenv(facts.CALLER_CWD_VARIABLE, str(tmp_path))
    args = driver.parse_args(["--results", "out", "--no-production"])
    assert args.results == tmp_path / "out"
    assert driver.parse_args(["--no-production"]).results == ROOT / "results"


def test_results_dot_in_a_clone_deletes_nothing(tmp_path):
    """--results . typed in a directory of the user's files is refused before anything runs."""
    (tmp_path / "requirements.txt").write_text("keep me\n")
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--quick", "--no-production",
                  "--pyperformance", "none", "--results", "."], cwd=tmp_path,
                 **{facts.CALLER_CWD_VARIABLE: str(tmp_path)})
    assert result.returncode == 2 and "did not write" in result.stderr, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["requirements.txt"]


@pytest.mark.parametrize("script", ["internal_benchmark.py", "external_benchmark.py", "synthetic_benchmark.py",
                                    "external_boundary_benchmark.py", "mine_benchmark.py"])
def test_result_names_never_collide_with_a_built_in(script):
    names = {facts.result_name(s) for s in facts.RESULT_NAMES}
    if script in facts.RESULT_NAMES:
        assert facts.result_name(script) in names
    else:
        assert facts.result_name(script) not in names


def test_two_runs_building_one_virtualenv_share_it(tmp_path):
    """Two processes ask for the same environment at once: one builds it, the other waits, both
    get a working interpreter (without the lock, one deleted the other's half-built venv)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from retrace_bench import arms; "
            "print(arms.cached_venv('venv-locktest', '', 'the lock test', progress=print))")
    env = clean_env(XDG_CACHE_HOME=str(tmp_path))
    children = [subprocess.Popen([sys.executable, "-c", code, str(ROOT)], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [c.communicate(timeout=300) for c in children]
    assert [c.returncode for c in children] == [0, 0], outputs
    pythons = {out.strip().splitlines()[-1] for out, _ in outputs}
    assert len(pythons) == 1
    assert subprocess.run([pythons.pop(), "-c", "pass"]).returncode == 0
    assert sum("waiting for another run" in out for out, _ in outputs) == 1


def test_a_virtualenv_is_named_by_its_requirements(tmp_path, monkeypatch):
    """Different requirements under one name never share (or rebuild) one directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    a = arms.cached_venv("venv-same", "", "a", progress=lambda _: None)
    b = arms.cached_venv("venv-same", "# another\n", "b", progress=lambda _: None)
    assert Path(a).parent.parent != Path(b).parent.parent and Path(a).exists() and Path(b).exists()


def test_a_failed_install_leaves_nothing_behind(tmp_path, monkeypatch):
    """A release whose install fails: one line with pip's reason, and nothing left in the cache (no
    half-built environment, no lock per failed release) or in TMPDIR (pip's cacert.pem, build folders)."""
    cache, tmp = tmp_path / "cache", tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(arms.tempfile, "tempdir", None)          # tempfile reads TMPDIR again
    with pytest.raises(arms.ArmError, match="did not install"):
        arms.cached_venv("venv-broken", "./no-such-wheel-here.whl\n", "a broken release", progress=lambda _: None)
    assert sorted(p.name for p in (cache / "retrace-benchmarks").iterdir()) == [".build.lock"]
    assert list(tmp.iterdir()) == []


@pytest.mark.parametrize("how", ["file", "directory", "retrace-only"])
def test_a_hand_recording_is_readable_by_its_owner_only(tmp_path, how):
    """The README's hand command into a shared (0755) directory writes a 0600 recording."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    env = {"RETRACE": "1"}
    if how == "file":
        env["RETRACE_RECORDING_PATH"] = str(shared / "x.retrace")
    elif how == "directory":
        env["RETRACE_RECORDING_PATH"] = str(shared)
    result = run([sys.executable, str(ROOT / "synthetic_benchmark.py"), "--quick", "--only", "1", "--runs", "2"],
                 cwd=shared, **env)
    assert result.returncode == 0, result.stderr
    recordings = list(shared.iterdir())
    assert len(recordings) == 1 and recordings[0].suffix == ".retrace", recordings   # no hidden directory left
    assert stat.S_IMODE(recordings[0].stat().st_mode) == 0o600
    assert f"Recording: ON -> {recordings[0]}" in result.stdout


@needs_load_tools
def test_responses_that_vary_in_length_are_not_failures(tmp_path):
    """An app whose JSON carries a counter: every response a different length. ab counts that as a
    failed request unless told not to; the suite must not report a working app as failing."""
    import http.server
    import threading
    from retrace_bench.production import load

    class Varying(http.server.BaseHTTPRequestHandler):
        count = 0

        def do_GET(self):
            Varying.count += 1
            body = json.dumps({"n": "x" * (Varying.count % 7)}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Varying)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = load.run_ab(f"http://127.0.0.1:{server.server_port}/", 60, 4, False, tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert result.complete == 60 and result.failed == 0 and result.non_2xx == 0


def test_a_daemon_that_a_benchmark_leaves_behind_is_stopped(tmp_path):
    """A benchmark that starts a process in a session of its own and exits: the process is re-parented
    to the driver (a child subreaper), which stops it at the end and says so."""
    import uuid
    repo = copy_repo(tmp_path / "repo")
    for name in ("synthetic_benchmark.py", "external_boundary_benchmark.py"):
        (repo / name).unlink()
    marker = uuid.uuid4().hex
    template = (repo / "benchmark_template.py").read_text()
    (repo / "daemon_benchmark.py").write_text(template.replace(
        "suite = Suite(", "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', "
        f"'m_{marker} = 1; import time; time.sleep(600)'], start_new_session=True)\nsuite = Suite(", 1))
    result = run(["bash", "run_all_benchmarks.sh", "--quick", "--rounds", "1", "--no-production",
                  "--pyperformance", "none", "--no-instructions"], cwd=repo, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "[cleanup] stopped" in result.stdout and marker in result.stdout    # named
    assert processes_under(marker) == []


def test_a_benchmark_that_prints_at_import_time_replays_identically(tmp_path):
    """The template with a print before Suite(...): the unrecorded process prints it before it
    re-executes under Retrace, the recorded one again. The replay check compares only what the
    recorded process printed (it was 'differs' before)."""
    repo = copy_repo(tmp_path / "repo")
    for name in ("synthetic_benchmark.py", "external_boundary_benchmark.py"):
        (repo / name).unlink()
    template = (repo / "benchmark_template.py").read_text()
    (repo / "zzprint_benchmark.py").write_text(template.replace("suite = Suite(", 'print("loading my config")\n'
                                                                                  "suite = Suite(", 1))
    result = run(["bash", "run_all_benchmarks.sh", "--quick", "--rounds", "1", "--no-production",
                  "--pyperformance", "none", "--no-instructions"], cwd=repo, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    summary = (repo / "results" / "summary.txt").read_text()
    assert "Replay check (retrace): identical" in summary, summary[-1500:]


def test_a_benchmark_that_deletes_the_results_is_one_line_and_no_traceback(tmp_path):
    """A benchmark that removes everything under results/ while the run goes on (the run's own
    archive directory included): the run stops with one error line naming what is gone, exit non-zero."""
    repo = copy_repo(tmp_path / "repo")
    for name in ("synthetic_benchmark.py", "external_boundary_benchmark.py"):
        (repo / name).unlink()
    template = (repo / "benchmark_template.py").read_text()
    (repo / "wipe_benchmark.py").write_text(template.replace(
        "suite = Suite(", "import shutil as _shutil, pathlib as _pathlib\n"
        "for _entry in (_pathlib.Path(__file__).parent / 'results').iterdir():\n"
        "    _shutil.rmtree(_entry) if _entry.is_dir() else _entry.unlink()\n"
        "suite = Suite(", 1))
    result = run(["bash", "run_all_benchmarks.sh", "--quick", "--rounds", "1", "--no-production",
                  "--pyperformance", "none", "--no-instructions"], cwd=repo, timeout=600)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-2000:]


def small_disk(path: Path, size: str = "256k"):
    """A tmpfs of `size` at `path`, or None where this machine cannot mount one (not root, a
    container without the right)."""
    path.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return None
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return path if done.returncode == 0 else None


def test_a_process_that_fails_on_a_full_scratch_disk_says_so(tmp_path, monkeypatch):
    """A recorded process on a full TMPDIR fails with no word (its stderr is on the full disk too):
    its failure names the full file system and what to do."""
    from retrace_bench import procs
    disk = small_disk(tmp_path / "small")
    if disk is None:
        monkeypatch.setattr(procs.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1 << 20, 1 << 20, 12_288))
        note = procs.full_disk_note(tmp_path)
        assert "is full (12 KB free)" in note and "TMPDIR" in note
        return
    try:
        with open(disk / "filler", "wb") as f:        # fill it: what is left is below the limit
            f.write(b"x" * (250 * 1024))
        runner = ops_run.Runner(disk, 120)
        runner.empty_trace_bytes["retrace"] = 1
        arm = arms.make_arms()[1]
        result = runner.run(arm, "synthetic_benchmark.py", ["--quick", "--only", "1"])
        assert result.failure and "is full" in result.failure and str(disk) in result.failure, result.failure
        assert procs.full_disk_note(tmp_path) == ""    # a disk with room says nothing
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


@pytest.mark.parametrize("script", ["run_all_benchmarks.sh", "run_tests.sh"])
def test_a_script_run_with_sh_says_to_use_bash(script):
    """`sh FILE` (a copy that lost its exec bit): one line saying how to run it, not sh's syntax error."""
    result = run(["sh", script, "--help"])
    assert result.returncode == 2, result.stdout[-500:] + result.stderr
    assert "needs bash" in result.stderr and "Illegal option" not in result.stderr, result.stderr


def test_the_analyzer_runs_as_a_command_from_anywhere(tmp_path):
    """./analyze_results.py DIR (shebang, exec bit, the suite's interpreter) from another folder."""
    archive = tmp_path / "run"
    shutil.copytree(ROOT / "tests" / "data" / "archives" / "v0.2.30_2026-12-02_091940", archive)
    assert os.access(ROOT / "analyze_results.py", os.X_OK)
    result = run([str(ROOT / "analyze_results.py"), str(archive)], cwd=tmp_path, PATH="/usr/bin:/bin")
    assert result.returncode == 0, result.stdout[-1000:] + result.stderr[-2000:]
    assert (archive / "summary.txt").read_text().strip()


@pytest.mark.parametrize("case", ["closed stdout", "ascii locale", "long name", "python variables"])
def test_odd_environments_still_give_a_whole_run(tmp_path, case):
    """stdout closed (`>&-`); an ASCII locale with a non-ASCII program name; a legal 240-character
    program name; PYTHONSAFEPATH and PYTHONINSPECT set: the run measures, replays and writes its
    summary, with no traceback (the driver runs apart from the user's PYTHON* variables)."""
    name = {"ascii locale": "héllo_ünï.py", "long name": "x" * 237 + ".py"}.get(case, "hi.py")
    (tmp_path / name).write_text("print('hi')\n")
    results = tmp_path / "results"
    env = {"ascii locale": {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "ascii"},
           "python variables": {"PYTHONSAFEPATH": "1", "PYTHONINSPECT": "1"}}.get(case, {})
    command = ["bash", str(ROOT / "run_all_benchmarks.sh"), "--quick", "--no-synthetic", "--no-production",
               "--pyperformance", "none", "--no-instructions", "--program", f"{{python}} {name}",
               "--results", str(results)]
    done = subprocess.run(command, cwd=tmp_path, env=clean_env(**env), stdin=subprocess.DEVNULL, text=True,
                          stdout=subprocess.DEVNULL if case == "closed stdout" else subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=600, close_fds=True,
                          **({"preexec_fn": lambda: os.close(1)} if case == "closed stdout" else {}))
    assert done.returncode == 0, (done.stdout or "")[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr and ">>>" not in (done.stdout or ""), done.stderr[-2000:]
    summary = (results / "summary.txt").read_text()
    assert "replay of round 1: identical" in summary, summary[-2000:]
    if case == "python variables":
        assert "PYTHONSAFEPATH='1'" in summary and "PYTHONINSPECT='1'" in summary


def test_another_retracesoftware_on_pythonpath_is_an_error_before_measuring(tmp_path):
    """A user's PYTHONPATH carrying another retracesoftware (0.2.29) would make the recorded arm run it
    under the 0.2.30 label: the release is read from the arm's own interpreter, and a mismatch is
    one line naming it, exit 2, before anything is measured."""
    shadow = tmp_path / "shadow"
    (shadow / "retracesoftware").mkdir(parents=True)
    (shadow / "retracesoftware" / "__init__.py").write_text("")
    (shadow / "retracesoftware-0.2.29.dist-info").mkdir()
    (shadow / "retracesoftware-0.2.29.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: retracesoftware\nVersion: 0.2.29\n")
    results = tmp_path / "results"
    done = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--quick", "--no-production", "--pyperformance", "none",
                "--results", str(results)], cwd=tmp_path, PYTHONPATH=str(shadow))
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    assert "imports 0.2.29" in done.stderr and "PYTHONPATH" in done.stderr and "Traceback" not in done.stderr
    assert not results.exists()


def test_a_python_that_is_not_one_is_named(tmp_path):
    """PYTHON=/bin/true (no virtualenv yet): one line saying it is not a Python, not pip's missing file."""
    for name in ("run_all_benchmarks.sh", "requirements.txt", "scripts"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, tmp_path / name)
    done = run(["bash", "run_all_benchmarks.sh", "--help"], cwd=tmp_path, PYTHON="/bin/true")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not a Python interpreter" in done.stderr and "pip" not in done.stderr, done.stderr
    assert not (tmp_path / ".venv").exists()
