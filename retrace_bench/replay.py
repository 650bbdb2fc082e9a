"""Replaying a recording with the package's own tool, with a time limit, in an owned process group.

Two uses: a benchmark process (its replayed output is compared with the recorded output) and a
recorded server (there is no output to compare: the outcome is whether the replay ran to the end,
and its first error line if it did not).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from retrace_bench import procs
from retrace_bench.arms import Arm
from retrace_bench.procs import read_output as read

#: The replay verdicts, the same words for every workload: the replayed output is the recorded
#: output, it is not, the replay failed (its first error line is the detail), it ran to the end (a
#: server: no output to compare), or there was no recording to replay.
IDENTICAL, DIFFERS, FAILS, RAN, NOT_RUN = "identical", "differs", "fails", "ran to the end", "not run"

#: Runs before the words were one wrote "error" for a replay that failed.
EARLIER_WORDS = {"error": FAILS}


def verdict_word(verdict: str) -> str:
    """A stored replay verdict in today's words (an archive's may be older)."""
    return EARLIER_WORDS.get(verdict, verdict)


ERROR_SUFFIXES = ("Error", "Exception")
#: A replay that printed an error and then used no CPU for this long has hung: it is stopped.
HUNG_IDLE_S = 2.0


@dataclass
class Replayed:
    ok: bool                        # replay ran to the end, exit status 0
    stdout: str
    stderr: str
    problem: str | None             # why it did not, in one line


def first_error_line(text: str) -> str | None:
    """The first `SomethingError: ...` line of a traceback-bearing output."""
    for line in text.splitlines():
        head = line.split(":", 1)[0].strip()
        if head.endswith(ERROR_SUFFIXES) and " " not in head:
            return line.strip()[:300]
    return None


def replay(python: str, recording: Path, scratch: Path, timeout: float, name: str,
           extra_env: dict | None = None) -> Replayed:
    """`replay --recording R --extract DIR`, then `replay DIR/<pid>.bin --read_timeout 10`
    (`extra_env`: what the recorded process had that the replay must have too, e.g. its TMPDIR)."""
    tool = Path(python).parent / "replay"
    if not tool.exists():
        return Replayed(False, "", "", "this retracesoftware has no replay tool")
    env = Arm("plain", "plain", sys.executable).env(os.environ)
    env.update(extra_env or {})
    extracted = scratch / f"{name}.extracted"
    out, err = scratch / f"{name}.replay.out", scratch / f"{name}.replay.err"
    outcome = procs.run([str(tool), "--recording", str(recording), "--extract", str(extracted)], env,
                        timeout, out, err)
    bins = sorted(extracted.glob("*.bin")) if outcome.ok else []
    if not bins:
        stderr = read(err)
        return Replayed(False, "", stderr, "replay --extract failed: "
                        + (first_error_line(stderr) or outcome.describe(stderr)))
    hang = procs.HangAfterError(err, first_error_line, HUNG_IDLE_S)
    try:
        outcome, _, stopped = procs.run_watched([str(tool), str(bins[0]), "--read_timeout", "10"], env,
                                                timeout, out, err, hang)
    finally:
        shutil.rmtree(extracted, ignore_errors=True)
    stdout, stderr = read(out), read(err)
    if outcome.ok:
        return Replayed(True, stdout, stderr, None)
    error = first_error_line(stderr)
    if stopped:
        return Replayed(False, stdout, stderr, f"{error}, then it hung: stopped after {HUNG_IDLE_S:g} s "
                                               "without using CPU")
    if outcome.timed_out:
        return Replayed(False, stdout, stderr, (f"{error}, then it hung: " if error else "")
                        + f"stopped after {timeout:g} s")
    return Replayed(False, stdout, stderr, error or outcome.describe(stderr))

