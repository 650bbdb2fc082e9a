"""Program calibration for --self-check: a small whole program with a known extra cost only when
recorded.

It does work Retrace records (clock reads, file-system calls) and prints a deterministic result.
When facts.PROGRAM_COST_VARIABLE names a number of seconds and the process is being recorded, it
also sleeps that long: the self-check's `retrace+cost` arm must come out slower than `retrace` by
that much (within 10%), and two identical arms must come out within noise.
"""

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from retrace_bench.facts import PROGRAM_COST_VARIABLE  # noqa: E402

RECORDED = sys.orig_argv[1:3] == ["-m", "retracesoftware"] and "--" in sys.orig_argv


def main() -> None:
    # The known cost comes first, before any recorded work: a pause after it would overlap the
    # writer's draining of that work, which a recorded process otherwise waits for at exit, and
    # read back short (measured: +0.135 and +0.165 s for +0.2 s with the pause at the end).
    # The pause is one Retrace does not record (sigtimedwait), so that a replay, which skips it,
    # stays aligned with the recording.
    cost = os.environ.get(PROGRAM_COST_VARIABLE)
    if cost and RECORDED:
        signal.sigtimedwait((signal.SIGUSR2,), float(cost))
    total = 0
    for _ in range(2000):
        total += int(time.time() > 0)
    for _ in range(200):
        total += os.stat(__file__).st_size > 0
    print(f"done: {total}")


if __name__ == "__main__":
    main()
