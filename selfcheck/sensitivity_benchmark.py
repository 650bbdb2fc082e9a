"""Sensitivity for --self-check: a known small change in the cost of a recorded operation.

Two recorded arms of the same Retrace release run this script; in the second the manager sets
facts.SENSITIVITY_VARIABLE, and each recorded clock read is followed by a fixed piece of work that
Retrace does not see (a busy-wait of SPIN_NS on time.perf_counter_ns(), which it does not record),
about a quarter of what recording a clock read costs the caller: a "release" whose recorded
time.time() is ~25% dearer. The comparison of the two arms must call it slower, and not read
more than the work's own cost, which test 2 measures in the same processes (it reads 56-102% of
it: spaced by the work, Retrace's own part of each call gets cheaper; retrace_bench/selfcheck.py).

Why a busy-wait: its cost adds to a recorded call's (measured under recording: +0.51 µs for a
0.55 µs spin). Work that allocates does not: sorting ten integers after each recorded clock read
added 0.73 µs although it costs 0.43 µs alone, since it changes how the caller and Retrace's writer
share the machine.
"""

import os
import sys
import time
from itertools import repeat
from pathlib import Path
from time import perf_counter_ns

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import INTERNAL, Suite  # noqa: E402
from retrace_bench.facts import SENSITIVITY_VARIABLE  # noqa: E402

INJECT = os.environ.get(SENSITIVITY_VARIABLE) == "1"
SPIN_NS = 200
suite = Suite(__doc__.splitlines()[0])


@suite.test("time.time() (+ the known work in the injected arm)", INTERNAL, iterations=1000)
def clock(loops):
    if INJECT:
        for _ in repeat(None, loops):
            time.time()
            end = perf_counter_ns() + SPIN_NS
            while perf_counter_ns() < end:
                pass
    else:
        for _ in repeat(None, loops):
            time.time()


@suite.test(f"the known work alone: a {SPIN_NS} ns busy-wait", INTERNAL, iterations=1000)
def work(loops):
    for _ in repeat(None, loops):
        end = perf_counter_ns() + SPIN_NS
        while perf_counter_ns() < end:
            pass


if __name__ == "__main__":
    suite.main()
