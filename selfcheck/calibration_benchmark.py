"""Calibration for --self-check: an operation that costs a known extra amount only when recorded.

The extra is pure Python spinning on time.perf_counter_ns(), which Retrace does not proxy, so the
whole measured overhead is the injected cost: the analysis must report it within 10%.
"""

import sys
from itertools import repeat
from pathlib import Path
from time import perf_counter_ns

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import INTERNAL, Suite, recording_state  # noqa: E402

RECORDING = recording_state().mode == "record"
suite = Suite(__doc__.splitlines()[0])


def spin(nanoseconds):
    deadline = perf_counter_ns() + nanoseconds
    while perf_counter_ns() < deadline:
        pass


@suite.test("injected 2 µs per op when recorded", INTERNAL, iterations=2000)
def injected_2us(loops):
    for _ in repeat(None, loops):
        if RECORDING:
            spin(2000)


@suite.test("injected 20 µs per op when recorded", INTERNAL, iterations=500)
def injected_20us(loops):
    for _ in repeat(None, loops):
        if RECORDING:
            spin(20000)


if __name__ == "__main__":
    suite.main()
