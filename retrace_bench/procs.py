"""Child processes in groups the suite owns, per-process time limits, private scratch directories.

Every process the suite starts runs in its own session (so a terminal's Ctrl-C reaches only the
manager, which then stops everything in order) and is registered here until it is stopped.
`managed()` turns SIGTERM and SIGHUP into KeyboardInterrupt and stops every registered group on
any way out; `private_dir()` removes its directory only after that, so that nothing still running
can re-create it.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_live: set[subprocess.Popen] = set()
STOP_GRACE_S = 5.0


def start(argv: list[str], env: dict, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
          pass_fds=(), cwd=None, text=False, cpus: frozenset | None = None) -> subprocess.Popen:
    """Start a child in a new session (its own process group) and register it; `cpus`: the CPUs
    it (and everything it starts) may run on, set before it executes."""
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                               pass_fds=pass_fds, cwd=cwd, start_new_session=True, text=text,
                               preexec_fn=pin)
    _live.add(process)
    return process


def stop(process: subprocess.Popen, grace: float = STOP_GRACE_S) -> None:
    """SIGTERM the child's group, SIGKILL it after `grace` seconds, reap it, unregister it."""
    try:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(process, signal.SIGKILL)    # whatever else is left in its group
        process.wait()
    finally:
        _live.discard(process)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all() -> None:
    for process in list(_live):
        stop(process, grace=1.0)


@dataclass
class Outcome:
    returncode: int | None
    timed_out: bool
    seconds: float
    timeout: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self, stderr_text: str = "") -> str:
        """Why a run failed, in one line: its time limit, or its exit status and last words."""
        if self.timed_out:
            return f"timed out after {self.timeout:g} s"
        last = [line.strip() for line in stderr_text.splitlines() if line.strip()]
        return f"exit status {self.returncode}" + (f": {last[-1][:300]}" if last else "")


def run(argv: list[str], env: dict, timeout: float, stdout_path: Path, stderr_path: Path,
        pass_fds=(), cwd=None) -> Outcome:
    """Run a child to completion or to its time limit; its output goes to the two files."""
    started = time.monotonic()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = start(argv, env, out, err, pass_fds=pass_fds, cwd=cwd)
        try:
            process.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            stop(process)
    return Outcome(process.returncode, timed_out, time.monotonic() - started, timeout)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def managed():
    """SIGTERM/SIGHUP interrupt like Ctrl-C; every registered child is stopped on the way out."""
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        # A second Ctrl-C while stopping must not leave children behind.
        ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            stop_all()
        finally:
            signal.signal(signal.SIGINT, ignored)
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def make_private_dir(prefix: str, parent: str | None = None) -> Path:
    """A new directory only its owner can enter (mode 0700), verified."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != 0o700:
        shutil.rmtree(path)
        raise OSError(f"{path}: created with mode {mode:o}, not 0700")
    return path


@contextmanager
def private_dir(prefix: str, parent: str | None = None):
    """A private scratch directory, removed (after every child is stopped) on any way out."""
    path = make_private_dir(prefix, parent)
    try:
        yield path
    finally:
        stop_all()
        shutil.rmtree(path, ignore_errors=True)
