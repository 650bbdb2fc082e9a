"""Child processes' environment: a relative temporary directory is made absolute before any child
starts (a child running in another directory would make its temporary files, recordings included,
there)."""

import os
import tempfile

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
