"""Child processes' environment: a relative temporary directory is made absolute before any child
starts (a child running in another directory would make its temporary files, recordings included,
there)."""

import os
import subprocess
import sys
import tempfile
import time

import pytest

from retrace_bench import procs


def test_a_relative_tmpdir_is_made_absolute_from_the_users_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", ".")
    monkeypatch.setenv("TMP", "sub/tmp")
    monkeypatch.setenv("TEMP", "/already/absolute")
    monkeypatch.setattr(tempfile, "tempdir", None)
    procs.absolute_tmpdir(str(tmp_path))
    assert os.environ["TMPDIR"] == str(tmp_path)
    assert os.environ["TMP"] == str(tmp_path / "sub" / "tmp")
    assert os.environ["TEMP"] == "/already/absolute"
    assert tempfile.gettempdir() == str(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", None)


def test_a_stray_is_named_even_when_it_has_exited():
    """[cleanup] names what it stopped: a live process by its command line, one that exited and was
    not reaped yet (its command line is gone) by its name, never '?'."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        for _ in range(250):                          # until its exec is complete (before, it is a copy of
            if procs.command_line(child.pid) == f"sleep 30 (pid {child.pid})":   # this one; midway, the
                break                                 # name is 'sleep' but the command line still empty)
            time.sleep(0.02)
        assert procs.command_line(child.pid) == f"sleep 30 (pid {child.pid})"
    finally:
        child.kill()
    for _ in range(250):                              # a zombie soon: killed, not waited for
        if procs.is_zombie(child.pid):
            break
        time.sleep(0.02)
    assert procs.command_line(child.pid) == f"sleep (pid {child.pid}, exited)"
    child.wait()
    assert procs.command_line(child.pid) == f"pid {child.pid} (gone before it could be named)"


def test_a_programs_peak_rss_is_its_own_not_the_drivers_fork(tmp_path):
    """Forked from the Python driver, `true` read 21 MB (the driver's copied memory); through the
    helper, its own peak (about 1 MB, as /usr/bin/time -v says). Status, signal and a command that
    cannot start are passed on as a plain start would."""
    from retrace_bench import own_usage
    path, why = own_usage.helper()
    if path is None:
        pytest.skip(why)
    out, err = tmp_path / "out", tmp_path / "err"
    outcome, usage, _ = procs.run_watched(["true"], dict(os.environ), 60, out, err, own_usage=True)
    assert outcome.returncode == 0 and usage.peak_rss_kb < 5 * 1024, usage
    plain_fork = procs.run_watched(["true"], dict(os.environ), 60, out, err)[1]
    assert plain_fork.peak_rss_kb > usage.peak_rss_kb            # what the helper is for
    outcome, usage, _ = procs.run_watched(["sh", "-c", "exit 3"], dict(os.environ), 60, out, err, own_usage=True)
    assert outcome.returncode == 3 and usage is not None
    outcome, _, _ = procs.run_watched(["sh", "-c", "kill -SEGV $$"], dict(os.environ), 60, out, err, own_usage=True)
    assert outcome.returncode == -11
    with pytest.raises(FileNotFoundError):
        procs.run_watched(["no-such-command-xyz"], dict(os.environ), 60, out, err, own_usage=True)
    assert not procs._live


def test_cleanup_reports_what_was_left_running_and_only_reaps_what_had_exited(tmp_path):
    """[cleanup] after a run: a child still running is stopped and named; one that had exited (a
    zombie: nothing running) is reaped without a word."""
    code = (
        "import subprocess, sys, time\n"
        f"sys.path.insert(0, {str(procs.__file__.rsplit('/retrace_bench/', 1)[0])!r})\n"
        "from retrace_bench import procs\n"
        "exited = subprocess.Popen(['true'])\n"
        "running = subprocess.Popen(['sleep', '30'])\n"
        "time.sleep(0.5)\n"
        "said = []\n"
        "print(procs.stop_strays(progress=said.append), said)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    count, _, said = done.stdout.partition(" ")
    assert count == "1" and "sleep 30 (pid" in said and "true" not in said, done.stdout
