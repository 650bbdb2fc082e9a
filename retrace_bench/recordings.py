"""What a recording that recorded nothing weighs: the baseline against which every workload's trace
is judged real (facts.trace_problem)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from retrace_bench import procs
from retrace_bench.arms import Arm
from retrace_bench.procs import read_output as read
from retrace_bench.rounds import RunError


#: The most characters of a name in a scratch or kept file's name (a legal 240-character program
#: name plus the suite's suffixes would pass the file system's 255).
NAME_PART_LIMIT = 40


def file_part(name: str) -> str:
    """A benchmark's or program's name as part of a file name: ASCII letters, digits, '.', '-' and
    '_' (Retrace's replay cannot open a non-ASCII path under an ASCII locale), at most
    NAME_PART_LIMIT characters, and a digest of the name when it was changed, so two names never meet."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:NAME_PART_LIMIT]
    if safe == name:
        return name
    return f"{safe}-{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def empty_recording_size(python: str, base: Path, timeout: float) -> int:
    """What a recording that recorded nothing weighs: an empty script recorded by `python`'s Retrace
    (files base.py, .retrace, .out, .err; the recording is deleted)."""
    script, recording = base.with_suffix(".py"), base.with_suffix(".retrace")
    script.write_text("")
    outcome = procs.run([python, "-m", "retracesoftware", "--recording", str(recording), "--", str(script)],
                        Arm("plain", "plain", python).env(os.environ), timeout,
                        base.with_suffix(".out"), base.with_suffix(".err"))
    if not outcome.ok or not recording.is_file():
        raise RunError(f"retracesoftware cannot record even an empty script with {python} "
                          f"({outcome.describe(read(base.with_suffix('.err')))})")
    size = recording.stat().st_size
    recording.unlink()
    return size
