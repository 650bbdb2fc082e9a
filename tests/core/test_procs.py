"""Child processes' environment: a relative temporary directory is made absolute before any child
starts (a child running in another directory would make its temporary files, recordings included,
there)."""

import os
import subprocess
import tempfile
import time

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
        for _ in range(100):                          # until it has exec'd (before, it is a copy of this one)
            if procs.command_line(child.pid).startswith("sleep"):
                break
            time.sleep(0.02)
        assert procs.command_line(child.pid) == f"sleep 30 (pid {child.pid})"
    finally:
        child.kill()
    time.sleep(0.2)                                  # a zombie now: killed, not waited for
    assert procs.command_line(child.pid) == f"sleep (pid {child.pid}, exited)"
    child.wait()
    assert procs.command_line(child.pid) == f"pid {child.pid} (gone before it could be named)"
