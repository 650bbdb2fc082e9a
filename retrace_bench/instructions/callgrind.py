"""Instructions per call, counted by Valgrind's Callgrind (docs/instructions.md).

Wall time on a shared 2-core machine cannot resolve a few-percent change in a recorded call; an
instruction count can: the same code with the same inputs executes the same instructions, whatever
else the machine does. Each benchmark process runs under

    valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes

and benchlib --instructions opens and closes its windows with Callgrind's monitor commands "zero"
and "dump" (every thread), through a small C extension built here once (native/). A recorded window
closes only when Retrace's trace has stopped growing, so the writer's deferred work is inside it.
The manager reads each window's dump files: thread 1 (the caller, which ran the loop) and every
other thread (Retrace's writer and flusher, a test's own threads).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from retrace_bench import facts
from retrace_bench.arms import Arm, cache_dir
from retrace_bench.results import ROOT

NATIVE = Path(__file__).resolve().parent / "native" / "callgrind_windows.c"
MODULE = "_retrace_bench_callgrind"
VALGRIND_HEADER = Path("/usr/include/valgrind/callgrind.h")
#: The Debian package that brings valgrind and its client-request headers.
PACKAGE = "valgrind"


class InstructionError(Exception):
    """Instructions cannot be counted here; the message says why and what to install."""


def missing() -> str | None:
    """Why instructions cannot be counted on this machine, or None."""
    if shutil.which("valgrind") is None:
        return f"valgrind not found (apt-get install {PACKAGE})"
    if not VALGRIND_HEADER.is_file():
        return f"{VALGRIND_HEADER} not found (apt-get install {PACKAGE})"
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        return "no C compiler (cc) to build the suite's Callgrind extension (apt-get install gcc)"
    return None


def build_extension(python: str = sys.executable, progress=print) -> Path:
    """The directory holding the suite's Callgrind extension for this interpreter's ABI, built once
    into the cache (keyed by the source, the compiler's target and the Python headers)."""
    reason = missing()
    if reason:
        raise InstructionError(reason)
    include, suffix = (subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['include']); "
                                       "print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                                      capture_output=True, text=True, timeout=60).stdout.split() + ["", ""])[:2]
    if not include or not Path(include, "Python.h").is_file():
        raise InstructionError(f"no Python.h for {python} (install the Python development headers)")
    key = hashlib.sha256(NATIVE.read_bytes() + f"{include}\n{suffix}".encode()).hexdigest()[:12]
    directory = cache_dir() / f"callgrind-ext-{key}"
    target = directory / f"{MODULE}{suffix}"
    if target.is_file():
        return directory
    progress(f"[setup] building the Callgrind extension in {directory} (once)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe.{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise InstructionError(f"the cache folder {cache_dir()} cannot be written ({error.strerror}): set "
                               "XDG_CACHE_HOME to a writable folder (an absolute path) to count instructions") from None
    tmp = directory / f".{target.name}.{os.getpid()}"
    compiler = shutil.which("cc") or shutil.which("gcc")
    result = subprocess.run([compiler, "-O2", "-shared", "-fPIC", f"-I{include}", str(NATIVE), "-o", str(tmp)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        said = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise InstructionError(f"the Callgrind extension did not build: {said}")
    os.replace(tmp, target)                     # another run building it too gets the same file
    return directory


def valgrind_prefix(out_file: Path, whole: bool = False) -> list[str]:
    """Callgrind's command line: counting only in the windows the extension opens, or (`whole`)
    the whole process, each thread in its own dump file."""
    return ["valgrind", "--tool=callgrind", f"--instr-atstart={'yes' if whole else 'no'}", "--separate-threads=yes",
            "--dump-line=no", "--trace-children=no", f"--callgrind-out-file={out_file}.%p", "--log-file=/dev/null"]


def process_counts(out_file: Path) -> tuple[int, int] | str:
    """(caller's instructions, every other thread's) of a whole process's dump files, or why none."""
    caller = others = 0
    found = False
    for path in out_file.parent.glob(f"{out_file.name}.*"):
        _, thread, ir = read_dump(path)
        found = True
        if thread == 1 or thread is None:
            caller += ir
        else:
            others += ir
    return (caller, others) if found else "Callgrind wrote no dump (the process did not run under it)"


def counted_command(arm: Arm, script: Path, args: list[str], recording: Path | None, out_file: Path) -> list[str]:
    """A benchmark process under Callgrind; a recorded arm's process is launched recorded directly
    (`python -m retracesoftware --recording R --`), since a re-executed child would run uncounted."""
    if arm.recorded:
        return [*valgrind_prefix(out_file), arm.python, "-m", "retracesoftware", "--recording", str(recording),
                "--", str(script), *args]
    return [*valgrind_prefix(out_file), arm.python, str(script), *args]


def counted_env(env: dict, extension: Path, script: Path) -> dict:
    """The extension's directory, a fixed hash seed, and the script's and the suite's directories on
    the path (`python -m retracesoftware` puts neither there)."""
    suite = str(ROOT)
    return {**env, facts.CALLGRIND_EXTENSION_VARIABLE: str(extension), "PYTHONHASHSEED": facts.INSTRUCTION_HASH_SEED,
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(filter(None, [str(script.parent), suite,
                                                                       env.get("PYTHONPATH")])))}


TRIGGER_RE = re.compile(r"^desc: Trigger: dump (\S+)")
THREAD_RE = re.compile(r"^thread: (\d+)")
SUMMARY_RE = re.compile(r"^summary: (\d+)")


def read_dump(path: Path) -> tuple[str | None, int | None, int]:
    """(window name, thread number, instructions) of one Callgrind dump file (its header only)."""
    name = thread = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if m := TRIGGER_RE.match(line):
                name = m.group(1)
            elif m := THREAD_RE.match(line):
                thread = int(m.group(1))
            elif m := SUMMARY_RE.match(line):
                return name, thread, int(m.group(1))
            elif line.startswith(("fl=", "fn=", "ob=")):
                break
    return name, thread, 0


def window_counts(out_file: Path) -> dict[str, tuple[int, int]]:
    """Window name -> (caller's instructions, every other thread's), from the dump files of a process."""
    counts: dict[str, list[int]] = {}
    for path in out_file.parent.glob(f"{out_file.name}.*"):
        name, thread, ir = read_dump(path)
        if name is None:
            continue                            # the dump at the process's end
        pair = counts.setdefault(name, [0, 0])
        pair[0 if thread == 1 else 1] += ir
    return {name: (c, o) for name, (c, o) in counts.items()}


def fill_windows(record, out_file: Path) -> str | None:
    """Put each window's counts into the record; why not, when a window has no dump."""
    counts = window_counts(out_file)
    for test in record.tests:
        for window in test.windows or []:
            if window.name not in counts:
                return f"Callgrind wrote no dump for window {window.name}"
            window.caller, window.others = counts[window.name]
            if window.capped:
                return (f"window {window.name}: Retrace's trace still grew after "
                        f"{facts.INSTRUCTION_DRAIN_CAP_S:g} s")
    return None


def remove_dumps(out_file: Path, keep: Path | None = None) -> None:
    """The process's dump files removed, or moved into `keep` (made private: they name the
    process's command line and paths)."""
    for path in out_file.parent.glob(f"{out_file.name}.*"):
        if keep is not None:
            keep.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.move(path, keep / path.name)
        else:
            path.unlink(missing_ok=True)


def worker_count() -> int:
    """How many Callgrind processes run at once: facts.INSTRUCTION_WORKERS, at most one per CPU."""
    return max(1, min(facts.INSTRUCTION_WORKERS, os.cpu_count() or 1))


def valgrind_version() -> str:
    try:
        return subprocess.run(["valgrind", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
