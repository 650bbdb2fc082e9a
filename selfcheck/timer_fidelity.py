"""Timer fidelity for --self-check: the harness's time.time() figure against python's timeit, in
one process, alternating, so that what differs is the harness and not the machine's state (on a
shared VM, separate processes can run the same loop at 60 or 105 ns), and timeit timing the same
code (a global `time`, as in the benchmark).

Prints one JSON line: {"pairs": [[harness_us, timeit_us], ...]}.
"""

import json
import statistics
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import CpuMeter  # noqa: E402
from synthetic_benchmark import suite  # noqa: E402

PAIRS = 3
RUNS = 5


def main():
    test = next(t for t in suite.tests if t.name == "time.time()")
    meter = CpuMeter.measure()
    pairs = []
    with test.prepared() as loop:
        loop(test.iterations)                                      # warmup, as the harness does
        for _ in range(PAIRS):
            meter.wait_for_drain()
            harness = statistics.median(meter.run(loop, test.iterations).wall_ms * 1e3 / test.iterations
                                        for _ in range(RUNS))
            # `time` as a global, as the benchmark's loop looks it up: timeit's setup would make it a
            # local of its timing function, ~10 ns a call cheaper, a difference of code, not of timers.
            timer = timeit.Timer("time.time()", globals={"time": time})
            number, _ = timer.autorange()
            reference = statistics.median(timer.repeat(RUNS, number)) / number * 1e6
            pairs.append([harness, reference])
    print(json.dumps({"pairs": pairs}))


if __name__ == "__main__":
    main()
