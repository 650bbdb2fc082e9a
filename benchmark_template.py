"""Custom benchmark for [your use case].

Copy this file to any name ending in _benchmark.py (e.g. cache_lookup_benchmark.py), put the
operation you want to measure in my_operation(), and run ./run_all_benchmarks.sh: it runs your
benchmark plainly and recorded by Retrace and shows it in results/summary.txt. By hand:

    python cache_lookup_benchmark.py                                   # baseline
    RETRACE=1 RETRACE_RECORDING_PATH=/tmp/rec python cache_lookup_benchmark.py   # recorded

A recording holds the whole environment of the process, secrets included: the suite keeps its own in
private (0700) directories and deletes them; a recording made by hand is written mode 0600.
The suite also counts your test's instructions per call under Valgrind (docs/instructions.md).
"""

from itertools import repeat

from benchlib import BOUNDARY, Suite

suite = Suite(__doc__.splitlines()[0])


def my_operation():
    """One call of what you want to measure (replace the body)."""
    sum(range(10))


# BOUNDARY for I/O, network, database, clocks; INTERNAL for pure computation. `iterations` is one
# run's calls; a process makes a warmup run and 8-20 counted runs (waiting for Retrace's writer to
# drain between them). Keep one run well under ~20,000 calls of a recorded operation: past that,
# within a run, Retrace's writer queue is full and the cost changes regime (the summary's "regimes"
# line shows both).
@suite.test("my operation", BOUNDARY, iterations=2000)
def my_operation_test(loops):
    for _ in repeat(None, loops):
        my_operation()


if __name__ == "__main__":
    suite.main()
