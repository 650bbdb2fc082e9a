"""Child processes in groups the suite owns, per-process time limits, private scratch directories.

Every process the suite starts runs in its own session (so a terminal's Ctrl-C reaches only the
manager, which then stops everything in order) and is registered here until it is stopped.
`managed()` turns SIGTERM and SIGHUP into KeyboardInterrupt and stops every registered group on
any way out; `private_dir()` removes its directory only after that, so that nothing still running
can re-create it.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from retrace_bench import facts
from retrace_bench import own_usage as own_usage_mod
from retrace_bench.facts import TRACE_POLL_S

_live: set[subprocess.Popen] = set()
STOP_GRACE_S = 5.0


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child before it executes: the kernel sends it SIGKILL when the suite's process dies,
    however it dies (kill -9 included), so no benchmark, app or load generator outlives the run."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass                                # not Linux: the group stop on the way out still applies


def as_user(uid: int, gid: int) -> None:
    """In a child before it executes: become that user (no supplementary groups), for good."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def start(argv: list[str], env: dict, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
          pass_fds=(), cwd=None, text=False, cpus: frozenset | None = None,
          user: tuple[int, int] | None = None) -> subprocess.Popen:
    """Start a child in a new session (its own process group), bound to die with the suite, and
    register it; `cpus`: the CPUs it (and everything it starts) may run on, set before it executes;
    `user`: the (uid, gid) it runs as (the kernel clears the death signal on a change of user, so
    the change comes first)."""
    def prepare():
        if user:
            as_user(*user)
        die_with_parent()
        if cpus:
            os.sched_setaffinity(0, cpus)
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                               pass_fds=pass_fds, cwd=cwd, start_new_session=True, text=text,
                               preexec_fn=prepare)
    _live.add(process)
    return process


def stop(process: subprocess.Popen, grace: float = STOP_GRACE_S) -> None:
    """SIGTERM the child's group, SIGKILL it after `grace` seconds, reap it, unregister it."""
    try:
        if process.poll() is None:
            signal_group(process, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        signal_group(process, signal.SIGKILL)    # whatever else is left in its group
        process.wait()
    finally:
        _live.discard(process)


def process_stats():
    """(pid, the fields of /proc/<pid>/stat after the name: state, ppid, pgrp, ...) of every live
    process."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                yield int(entry.name), f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue


def pin_group(pgid: int, cpus: frozenset) -> int:
    """Pin every thread of every live process in a process group to `cpus` (threads they start later
    inherit it). Returns how many threads were pinned."""
    pinned = 0
    for pid, fields in process_stats():
        if int(fields[2]) != pgid:
            continue
        try:
            for task in os.scandir(f"/proc/{pid}/task"):
                os.sched_setaffinity(int(task.name), cpus)
                pinned += 1
        except OSError:
            continue
    return pinned


def signal_group(process: subprocess.Popen, signum: int) -> None:
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


def full_disk_note(path: Path) -> str:
    """Why a process may have failed without a word: the file system of `path` (the scratch
    directory, where its recording, temporary files and even its stderr go) is full. Empty when it
    is not."""
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return ""
    if free >= facts.FULL_DISK_BYTES:
        return ""
    return (f"; the file system of {path} is full ({free // 1024} KB free), so the process could not write its "
            "recording, temporary files or error message: free space there, or set TMPDIR to a larger disk")


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


@dataclass
class Usage:
    """What a finished child used, from the kernel (wait4): CPU of all its threads and of the
    children it waited for, and its peak resident memory (None: not its own, see run_watched)."""
    cpu_s: float
    peak_rss_kb: int | None


def run_watched(argv: list[str], env: dict, timeout: float, stdout_path: Path, stderr_path: Path,
                watch=None, cwd=None, own_usage: bool = False) -> tuple[Outcome, Usage | None, str | None]:
    """run(), with the child's resource usage and a watcher: a thread calls `watch(process)` every
    facts.TRACE_POLL_S seconds, which returns why the child must be stopped (the disk guard, a hung
    replay) or
    None, and stops it at its time limit. The manager blocks in wait4, so the wall time ends when
    the child does, not at the next look. Returns the outcome, the usage (None when the child was
    stopped), and the watch's reason when it stopped the child."""
    reasons: list = []
    done = threading.Event()
    # own_usage: the child's CPU and peak RSS as the helper that forked it saw them (own_usage.py);
    # without the helper, the CPU from wait4 and no peak RSS (it would count the driver's fork).
    wrapped = own_usage_mod.wrap(argv) if own_usage else None
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started = time.monotonic()
        try:
            process = start(wrapped[0] if wrapped else argv, env, out, err, cwd=cwd,
                            pass_fds=(wrapped[2],) if wrapped else ())
        except OSError:
            if wrapped:
                os.close(wrapped[1])
            raise
        finally:
            if wrapped:
                os.close(wrapped[2])

        def watcher():
            while not done.wait(TRACE_POLL_S):
                reason = "timeout" if time.monotonic() - started > timeout else (
                    watch(process) if watch else None)
                if reason:
                    reasons.append(reason)
                    signal_group(process, signal.SIGKILL)
                    return
        thread = threading.Thread(target=watcher, daemon=True)
        thread.start()
        try:
            _, status, rusage = os.wait4(process.pid, 0)
            seconds = time.monotonic() - started
            process.returncode = os.waitstatus_to_exitcode(status)
        finally:
            done.set()
            thread.join()
            stop(process)
        # The helper has exited: what it wrote is all there (an exec that failed raises, as Popen's would).
        own = own_usage_mod.read(wrapped[1], argv[0]) if wrapped else None
    timed_out = reasons[:1] == ["timeout"]
    stopped = reasons[0] if reasons and not timed_out else None
    if reasons:
        usage = None
    elif own is not None:
        usage = Usage(own.cpu_s, own.peak_rss_kb)
    else:
        usage = Usage(rusage.ru_utime + rusage.ru_stime, None if own_usage else rusage.ru_maxrss)
    return Outcome(process.returncode, timed_out, seconds, timeout), usage, stopped


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes of a process group."""
    total = sum(int(fields[11]) + int(fields[12]) for _, fields in process_stats() if int(fields[2]) == pgid)
    return total / os.sysconf("SC_CLK_TCK")


class HangAfterError:
    """A watch for run_watched: the child printed an error line to `stderr_path` and then its process
    group used no CPU for `idle_s` seconds: it hung after its error (a failing replay can)."""

    def __init__(self, stderr_path: Path, has_error, idle_s: float):
        self.stderr_path, self.has_error, self.idle_s = stderr_path, has_error, idle_s
        self.cpu, self.since = None, None

    def __call__(self, process) -> str | None:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return None
        if not self.has_error(text):
            return None
        cpu, now = group_cpu_s(process.pid), time.monotonic()
        if cpu != self.cpu:
            self.cpu, self.since = cpu, now
            return None
        return "hung" if now - self.since >= self.idle_s else None


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the one that inherits its orphaned descendants (a benchmark or program that
    double-forks, or daemonises with setsid, is re-parented here, not to init), so that none
    outlives the run. False where the kernel does not offer it."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children_of(pid: int) -> list[int]:
    return [child for child, fields in process_stats() if int(fields[1]) == pid]


def is_zombie(pid: int) -> bool:
    """Exited and not reaped yet: nothing left running, only its exit status to collect."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


def command_line(pid: int) -> str:
    """A process's command line; where it has none (it exited and was not reaped yet, or it is in
    the middle of an exec), its name from /proc/PID/stat; always with its pid."""
    try:
        line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:240]
        if line:
            return f"{line} (pid {pid})"
        stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
        name = stat[stat.index('(') + 1:stat.rindex(')')]
        return f"{name} (pid {pid}, exited)" if is_zombie(pid) else f"{name} (pid {pid})"
    except (OSError, ValueError):
        return f"pid {pid} (gone before it could be named)"


def stop_strays(progress=print) -> int:
    """SIGKILL and reap every child this process still has after stop_all(): descendants that left
    their group and were re-parented here. Their own children come next (re-parented in turn).
    Returns how many were stopped."""
    stopped, names = 0, []
    for _ in range(50):
        strays = children_of(os.getpid())
        if not strays:
            break
        running = [pid for pid in strays if not is_zombie(pid)]   # an exited one is only reaped, not reported
        for pid in running:
            names.append(command_line(pid))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in strays:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        stopped += len(running)
    if stopped:
        shown = "; ".join(dict.fromkeys(n for n in names if n))
        progress(f"[cleanup] stopped {stopped} process(es) left running by a process of this run (a daemon, a "
                 f"double fork, a child that outlived a stopped replay): {shown[:600]}")
    return stopped


@contextmanager
def managed(reap: bool = False):
    """SIGTERM/SIGHUP interrupt like Ctrl-C; every registered child is stopped on the way out, and
    with `reap` (a command's main process, which owns every process it starts) every descendant
    left running too (become_subreaper)."""
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    reaping = reap and become_subreaper()
    try:
        yield
    finally:
        # A second Ctrl-C while stopping must not leave children behind.
        ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            stop_all()
            if reaping:
                stop_strays()
        finally:
            signal.signal(signal.SIGINT, ignored)
            for signum, handler in previous.items():
                signal.signal(signum, handler)


OWNER_FILE = ".owner"
#: The prefixes of the suite's scratch directories (private_dir's callers).
SCRATCH_PREFIXES = ("retrace-bench.", "retrace-prod.", "retrace-selfcheck.")


def start_time(pid: int) -> str | None:
    """A process's start time (clock ticks since boot), which tells it from a later one with the
    same pid; None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


#: The variables Python's tempfile (and most programs) take a temporary directory from.
TEMP_VARIABLES = ("TMPDIR", "TEMP", "TMP")


def absolute_tmpdir(base: str | None = None) -> None:
    """Make a relative temporary directory (TMPDIR=.) absolute, from `base` (the directory the user
    ran the suite from) or the current one, for this process and every process it starts: a child
    that runs in another directory would otherwise make its temporary files there, recordings (the
    whole environment inside) included."""
    for name in TEMP_VARIABLES:
        value = os.environ.get(name)
        if value and not os.path.isabs(value):
            os.environ[name] = os.path.abspath(os.path.join(base or os.getcwd(), value))
            tempfile.tempdir = None                 # tempfile reads the variables again


def remove_stale_scratch(parent: str | None = None) -> int:
    """Remove the scratch directories of suite processes that are gone (killed with SIGKILL, so
    their own cleanup never ran): only directories with the suite's prefix, this user's, with an
    owner file naming a process that no longer exists. Returns how many were removed."""
    removed = 0
    root = Path(parent or tempfile.gettempdir())
    for path in root.iterdir() if root.is_dir() else ():
        if not path.name.startswith(SCRATCH_PREFIXES):
            continue
        try:
            if path.stat().st_uid != os.getuid():
                continue
            pid, started = (path / OWNER_FILE).read_text().split()
        except (OSError, ValueError):
            continue
        if start_time(int(pid)) != started:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def make_private_dir(prefix: str, parent: str | None = None) -> Path:
    """A new directory only its owner can enter (mode 0700), verified, with an owner file naming
    this process (so that a later run can tell it is stale once this process is gone)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != 0o700:
        shutil.rmtree(path)
        raise OSError(f"{path}: created with mode {mode:o}, not 0700")
    (path / OWNER_FILE).write_text(f"{os.getpid()} {start_time(os.getpid())}\n")
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


def read_output(path: Path) -> str:
    """A child's output file as text (undecodable bytes replaced); "" when there is none."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
