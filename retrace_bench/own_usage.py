"""A command's own peak RSS and CPU: run under native/peak_rss.c, a small process that forks the
command and reports the command's rusage. Forked straight from the Python driver, a program's peak
RSS would count the driver's memory copied at the fork (`true` read 21 MB; its own peak is 1 MB).
The helper is built once with the C compiler into the cache, keyed by its source."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from retrace_bench.arms import cache_dir

SOURCE = Path(__file__).resolve().parent / "native" / "peak_rss.c"
_lock = threading.Lock()
_built: dict[str, tuple[str | None, str | None]] = {}


@dataclass
class OwnUsage:
    cpu_s: float
    peak_rss_kb: int


def helper() -> tuple[str | None, str | None]:
    """(the helper's path, None), or (None, why it cannot be had): built on first use."""
    with _lock:
        if "helper" not in _built:
            _built["helper"] = _build()
        return _built["helper"]


def _build() -> tuple[str | None, str | None]:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None, "no C compiler (cc) to build the peak-RSS helper: apt-get install gcc"
    key = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    target = cache_dir() / f"peak-rss-{key}" / "peak_rss"
    if os.access(target, os.X_OK):
        return str(target), None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".peak_rss.{os.getpid()}")
        done = subprocess.run([compiler, "-O2", "-o", str(tmp), str(SOURCE)], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            tmp.unlink(missing_ok=True)
            return None, f"the peak-RSS helper did not build: {(done.stderr.strip().splitlines() or ['?'])[-1]}"
        os.replace(tmp, target)
    except OSError as error:
        return None, f"the cache folder {cache_dir()} cannot be written ({error.strerror}) for the peak-RSS helper"
    return str(target), None


def wrap(argv: list[str]) -> tuple[list[str], int, int] | None:
    """(the command under the helper, the pipe's read end, its write end for the child), or None
    where the helper cannot be had (helper() says why)."""
    path, _ = helper()
    if path is None:
        return None
    read_end, write_end = os.pipe()
    return [path, str(write_end), *argv], read_end, write_end


def read(read_end: int, command: str) -> OwnUsage | None:
    """What the helper reported: the command's usage; an OSError when it could not start the
    command (as Popen would have raised); None when the helper said nothing (it was killed)."""
    with os.fdopen(read_end, "rb") as pipe:
        words = pipe.read().split()
    if words[:1] == [b"exec"]:
        number = int(words[1])
        raise OSError(number, os.strerror(number), command)
    if len(words) != 3:
        return None
    peak_kb, user_us, system_us = (int(w) for w in words)
    return OwnUsage((user_us + system_us) / 1e6, peak_kb)
