"""Reading the suite's inputs: every file a user or an archive hands the analyzer is read here, and
every problem with one is an InputError naming the file (the command lines print it in one line,
exit status 2)."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input: the message names the file and what is wrong with it."""


def read_text(path: Path) -> str:
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    if not path.is_file():
        raise InputError(f"{path}: missing")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from None
