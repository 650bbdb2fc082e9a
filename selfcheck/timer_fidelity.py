"""Timer fidelity for --self-check: the harness's time.time() figure against python's timeit, in
one process, alternating run by run, so that what differs is the harness and not the machine's state,
and timeit timing the same code (a global `time`, as in the benchmark).

Alternating run by run matters: a shared VM moves between a fast and a slow state for a few hundred
ms at a time. Measured here: 40 alternations of one harness run, one timeit run of the same 1,000
calls and one of timeit's own length read 0.047 or 0.08 µs/op, in both short ones alike, with the
same share of slow readings. Five harness runs back to back (0.1 s) fall in one state and a timeit
repeat of 1 s in both, and that read as a harness bias of 1.4-1.6x.

Prints one JSON line: {"pairs": [[harness_us, timeit_us], ...]}.
"""

import json
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import CpuMeter  # noqa: E402
from synthetic_benchmark import suite  # noqa: E402

PAIRS = 21


def main():
    test = next(t for t in suite.tests if t.name == "time.time()")
    meter = CpuMeter.measure()
    pairs = []
    with test.prepared() as loop:
        loop(test.iterations)                                      # warmup, as the harness does
        # `time` as a global, as the benchmark's loop looks it up: timeit's setup would make it a
        # local of its timing function, ~10 ns a call cheaper, a difference of code, not of timers.
        timer = timeit.Timer("time.time()", globals={"time": time})
        number, _ = timer.autorange()
        for _ in range(PAIRS):
            meter.wait_for_drain()
            harness = meter.run(loop, test.iterations).wall_ms * 1e3 / test.iterations
            reference = timer.timeit(number) / number * 1e6
            pairs.append([harness, reference])
    print(json.dumps({"pairs": pairs}))


if __name__ == "__main__":
    main()
