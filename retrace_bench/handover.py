"""The JSON record a benchmark process hands to the manager (the pyperf way: data, not text).

benchlib writes one per process to the file descriptor the manager names in
RETRACE_BENCH_RECORD_FD; the manager stores it in run.json with the process's arm and round, and
the analyzer reads it. Nothing a benchmark prints can change it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

FORMAT = 1


class RecordError(ValueError):
    """A record that is not what a benchmark process writes."""


@dataclass
class Run:
    wall_ms: float                 # the caller's time for the run's operations
    cpu_ms: float | None = None    # process CPU (all threads) over the run and the drain, less idle
    drain_ms: float | None = None  # time after the run until the CPU rate was back at idle
    drain_capped: bool = False     # the drain did not finish within the cap


@dataclass
class Window:
    """One Callgrind window of a test (benchlib --instructions): `calls` calls (0: an empty window),
    closed once Retrace's writer was done (`wait_s`); the manager fills in the instructions of the
    caller's thread and of every other thread from the window's dump files."""
    name: str
    calls: int
    wait_s: float = 0.0
    capped: bool = False
    caller: int | None = None
    others: int | None = None


@dataclass
class TestRecord:
    __test__ = False     # not a pytest test class

    number: int
    name: str
    category: str
    iterations: int
    runs: list[Run]
    profile_chunk_calls: int | None = None
    profile_chunks_us: list[float] | None = None
    trace_bytes: list[int] | None = None   # the trace's size before and after the test (--trace-sizes)
    windows: list[Window] | None = None     # --instructions: the first one discarded

    @property
    def wall_us(self) -> list[float]:
        return [r.wall_ms * 1e3 / self.iterations for r in self.runs]

    @property
    def cpu_us(self) -> list[float] | None:
        if not self.runs or any(r.cpu_ms is None for r in self.runs):
            return None
        return [r.cpu_ms * 1e3 / self.iterations for r in self.runs]

    @property
    def shape(self) -> tuple[int, str, int]:
        return self.number, self.name, self.iterations


@dataclass
class ProcessRecord:
    script: str
    header: dict[str, str]
    mode: str                              # plain, record or replay
    recording_path: str | None
    tests: list[TestRecord]
    idle_cpu_ms_per_s: float | None = None
    format: int = FORMAT
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data) -> "ProcessRecord":
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise RecordError(f"not a format-{FORMAT} benchmark record")
            tests = [TestRecord(**{**t, "runs": [Run(**r) for r in t["runs"]],
                                   "windows": [Window(**w) for w in t["windows"]] if t.get("windows") else None})
                     for t in data["tests"]]
            record = cls(**{**data, "tests": tests})
        except (KeyError, TypeError, AttributeError) as error:
            raise RecordError(f"incomplete benchmark record ({error})") from None
        for test in record.tests:
            if not isinstance(test.iterations, int) or test.iterations < 1:
                raise RecordError(f"test {test.number} has an iteration count of {test.iterations!r}")
            if not test.runs and test.profile_chunks_us is None and not test.windows:
                raise RecordError(f"test {test.number} ({test.name}) has no runs")
            for run in test.runs:
                # CPU is net of the idle cost, so noise can take a near-zero figure below 0.
                if not (is_number(run.wall_ms) and run.wall_ms >= 0
                        and (run.cpu_ms is None or is_number(run.cpu_ms))):
                    raise RecordError(f"test {test.number} ({test.name}) has a run that is not a time")
        return record


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
