"""Instruction calibration and sensitivity for --self-check: known pure-Python work after a recorded call.

In an arm where the manager sets facts.INSTRUCTION_WORK_VARIABLE, each recorded time.time() of test 1
is followed by a piece of pure-Python work that Retrace does not see:

    calibration   sum(range(100)) inline: more than recording the call costs the caller, so that
                  the per-process spread of a recorded call (1-3%) is a small part of it
    sensitivity   a call of an empty function: about 4% of it (the "+5%" a regression gate must see)

Tests 2 and 3 count each piece alone and test 4 the empty loop, in every arm: a piece's own cost is
its test minus test 4 in the plain arm. The self-check reads test 1's caller difference between the
arm with the work and the one without, and compares it with that cost (calibration: within 3%), or
asks that it be called "slower" (sensitivity). A second arm without work is the A/A.
"""

import os
import sys
import time
from itertools import repeat
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import INTERNAL, Suite  # noqa: E402
from retrace_bench.facts import INSTRUCTION_WORK_VARIABLE  # noqa: E402

WORK = os.environ.get(INSTRUCTION_WORK_VARIABLE, "")
#: The test each arm's work is read back from (the manager's judge finds them by these names).
WORK_TESTS = {"calibration": "sum(range(100)) alone", "sensitivity": "an empty function call alone"}
suite = Suite(__doc__.splitlines()[0])


def nothing():
    pass


@suite.test("time.time() (+ the known work in the work arms)", INTERNAL, iterations=1000)
def clock(loops):
    if WORK == "calibration":
        for _ in repeat(None, loops):
            time.time()
            sum(range(100))
    elif WORK == "sensitivity":
        for _ in repeat(None, loops):
            time.time()
            nothing()
    else:
        for _ in repeat(None, loops):
            time.time()


@suite.test(WORK_TESTS["calibration"], INTERNAL, iterations=1000)
def calibration_work(loops):
    for _ in repeat(None, loops):
        sum(range(100))


@suite.test(WORK_TESTS["sensitivity"], INTERNAL, iterations=1000)
def sensitivity_work(loops):
    for _ in repeat(None, loops):
        nothing()


@suite.test("the empty loop", INTERNAL, iterations=1000)
def empty(loops):
    for _ in repeat(None, loops):
        pass


if __name__ == "__main__":
    suite.main()
