"""Sensitivity for --self-check: a known small change in the cost of a recorded operation.

Two recorded arms of the same Retrace release run this script; in the second the manager sets
facts.SENSITIVITY_VARIABLE, and each recorded clock read is followed by a fixed piece of
unrecorded work (sorting ten integers), about a quarter of what recording a clock read costs:
a "release" whose recorded time.time() is ~25% dearer. The comparison of the two arms must call it
slower, and its interval must contain the work's own cost, which test 2 measures in the same
processes.
"""

import os
import sys
import time
from itertools import repeat
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import INTERNAL, Suite  # noqa: E402
from retrace_bench.facts import SENSITIVITY_VARIABLE  # noqa: E402

INJECT = os.environ.get(SENSITIVITY_VARIABLE) == "1"
VALUES = [(i * 7919) % 101 for i in range(10)]
suite = Suite(__doc__.splitlines()[0])


@suite.test("time.time() (+ the known work in the injected arm)", INTERNAL, iterations=1000)
def clock(loops, values=VALUES):
    if INJECT:
        for _ in repeat(None, loops):
            time.time()
            sorted(values)
    else:
        for _ in repeat(None, loops):
            time.time()


@suite.test("the known work alone: sorted() of 10 integers", INTERNAL, iterations=1000)
def work(loops, values=VALUES):
    for _ in repeat(None, loops):
        sorted(values)


if __name__ == "__main__":
    suite.main()
