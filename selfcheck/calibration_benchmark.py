"""Calibration for --self-check: an operation that costs a known extra amount only when recorded.

The extra is pure Python spinning on time.perf_counter_ns(), which Retrace does not proxy. It is
paced: each operation ends a fixed interval after the previous one's deadline, so the cost per
operation is exactly the interval whatever the call and clock overheads (the baseline operation,
an empty loop step of a few ns, is absorbed in it). The analysis must report it within 10%.
"""

import sys
from itertools import repeat
from pathlib import Path
from time import perf_counter_ns

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import INTERNAL, Suite, recording_state  # noqa: E402

RECORDING = recording_state().mode == "record"
suite = Suite(__doc__.splitlines()[0])


def paced(loops, interval_ns):
    deadline = perf_counter_ns()
    for _ in repeat(None, loops):
        deadline += interval_ns
        while perf_counter_ns() < deadline:
            pass


def register_injected(microseconds, iterations):
    @suite.test(f"injected {microseconds} µs per op when recorded", INTERNAL, iterations=iterations)
    def injected(loops):
        if RECORDING:
            return paced(loops, microseconds * 1000)
        for _ in repeat(None, loops):
            pass


register_injected(2, iterations=2000)
register_injected(20, iterations=500)


if __name__ == "__main__":
    suite.main()
