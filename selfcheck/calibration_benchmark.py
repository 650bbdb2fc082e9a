"""Calibration for --self-check: operations that cost a known extra amount only when recorded.

"injected X µs": the caller spins on time.perf_counter_ns() (not proxied by Retrace), paced so
that each operation ends a fixed interval after the previous one's deadline: the extra wall time
and CPU per operation are both exactly X, whatever the call and clock overheads.

"deferred X µs CPU": like Retrace's writer, the caller only queues each operation (a counter) and
wakes a background thread after its loop, which burns X µs of its own CPU per operation in
hashlib calls that release the GIL: the process's CPU grows by X per operation while the caller's
wall time barely changes.

The analysis must report each within 10%.
"""

import hashlib
import signal
import sys
import threading
from itertools import repeat
from pathlib import Path
from time import perf_counter_ns, thread_time_ns

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


class DeferredWorker:
    """A background thread that spends `microseconds` of its own CPU per queued operation.

    It waits in sigtimedwait (no CPU, nothing recorded) until the caller wakes it after a loop;
    only the caller writes `queued` and only the worker writes `done`, so no lock is needed."""
    BLOCK = b"x" * 65536           # hashlib releases the GIL for inputs over 2 KiB

    def __init__(self, microseconds):
        self.cost_ns = microseconds * 1000
        self.queued = self.done = 0
        self.thread = threading.Thread(target=self.work, daemon=True)
        self.thread.start()

    def work(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        owed = 0
        while True:
            signal.sigtimedwait((signal.SIGUSR1,), 3600)
            queued = self.queued
            owed += (queued - self.done) * self.cost_ns
            self.done = queued
            while owed > 0:
                start = thread_time_ns()
                hashlib.sha256(self.BLOCK).digest()
                owed -= thread_time_ns() - start

    def wake(self):
        signal.pthread_kill(self.thread.ident, signal.SIGUSR1)


def register_deferred(microseconds, iterations):
    # Started before the runner measures the idle cost, and only when recorded.
    worker = DeferredWorker(microseconds) if RECORDING else None

    @suite.test(f"deferred {microseconds} µs CPU per op when recorded", INTERNAL, iterations=iterations)
    def deferred(loops):
        if worker is None:
            for _ in repeat(None, loops):
                pass
            return
        for _ in repeat(None, loops):
            worker.queued += 1      # the caller's whole share: queue the operation
        worker.wake()


register_injected(2, iterations=10000)       # a 20 ms run: a drain window's stray CPU is small beside it
register_injected(20, iterations=500)
register_deferred(20, iterations=2000)


if __name__ == "__main__":
    suite.main()
