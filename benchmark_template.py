"""Custom benchmark for [your use case].

Copy this file to any name ending in _benchmark.py (e.g. cache_lookup_benchmark.py), put the
operation you want to measure in my_operation(), and run ./run_all_benchmarks.sh: it runs your
benchmark plainly and recorded by Retrace and shows it in results/summary.txt. By hand:

    python cache_lookup_benchmark.py                                   # baseline
    RETRACE=1 RETRACE_RECORDING_PATH=/tmp/rec python cache_lookup_benchmark.py   # recorded
"""

from itertools import repeat

from benchlib import BOUNDARY, Suite

suite = Suite(__doc__.splitlines()[0])


def my_operation():
    """One call of what you want to measure (replace the body)."""
    sum(range(10))


# BOUNDARY for I/O, network, database, clocks; INTERNAL for pure computation. Keep warmup + 5 runs
# of `iterations` under ~15,000 calls of a recorded operation: past that Retrace's writer queue is
# full and the cost changes regime (the summary's "regimes" line shows both).
@suite.test("my operation", BOUNDARY, iterations=2000)
def my_operation_test(loops):
    for _ in repeat(None, loops):
        my_operation()


if __name__ == "__main__":
    suite.main()
