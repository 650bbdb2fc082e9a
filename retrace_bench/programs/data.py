"""The program workload's data: programs.json, what was measured for each program in each arm and
round, versioned, to and from JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from retrace_bench import facts
from retrace_bench.results import write_atomically

#: The workload's file in a run directory, and its format.
PROGRAMS_FILE = "programs.json"
FORMAT = 1


@dataclass(frozen=True)
class Program:
    name: str
    kind: str                              # pyperformance or command
    template: str = ""                     # a command's line ({python} = the arm's interpreter)
    script: str | None = None              # pyperformance: the benchmark's run script
    extra_args: tuple[str, ...] = ()       # pyperformance: the variant's options
    category: str | None = None
    requirements: tuple[str, ...] = ()     # pyperformance: packages beyond pyperf
    unavailable: str | None = None         # why it has no measurement here (its row says so)
    cwd: str | None = None
    services: tuple[str, ...] = ()         # a command's servers (--services): fresh ones for each process


@dataclass
class Settings:
    """pyperf worker settings of one benchmark, calibrated once in the plain arm."""
    loops: int = 1
    warmups: int = facts.PROGRAM_WARMUPS
    values: int = facts.PROGRAM_VALUES


@dataclass
class ProgramRun:
    arm: str
    round: int
    position: int
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_kb: int | None = None
    exit_status: int | None = None
    trace_bytes: int | None = None
    output_sha256: str | None = None
    values: list[float] | None = None      # pyperf: each benchmark's mean seconds per iteration
    failure: str | None = None             # why the program failed (its error line, a time limit)
    stopped: str | None = None             # the disk guard's report
    not_recorded: str | None = None        # a recorded arm's process whose trace shows no recording
    trace_note: str | None = None          # recorded, but the trace holds nothing beyond start-up

    @property
    def figure_s(self) -> float | None:
        """The time figure of the process: pyperf's mean time per iteration (the geometric mean over
        the script's benchmarks when it has several), else the wall time."""
        if self.failure or self.stopped or self.not_recorded:
            return None
        if self.values:
            return math.exp(sum(math.log(v) for v in self.values) / len(self.values))
        return self.wall_s


@dataclass
class ProgramData:
    """Everything measured for one program, as stored in programs.json."""
    name: str
    kind: str
    category: str | None = None
    settings: dict | None = None
    unavailable: str | None = None
    notes: list[str] = field(default_factory=list)
    runs: list[ProgramRun] = field(default_factory=list)
    pyperf: dict = field(default_factory=dict)            # arm -> pyperf benchmarks (JSON) of its processes
    replay: dict = field(default_factory=dict)            # arm -> {verdict, detail, seconds, recorded_s}
    plain_failure: str | None = None
    setup_failure: str | None = None                      # its environment did not install: why
    instructions: list[dict] = field(default_factory=list)   # CountedRun per arm and round (--program-instructions)
    instructions_skipped: str | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ProgramData":
        return cls(**{**data, "runs": [ProgramRun(**r) for r in data.get("runs", [])]})


def write(run_dir: Path, arms: list[dict], config: dict, data: list[ProgramData]) -> None:
    """programs.json: the arms, the run's configuration and every program's data."""
    write_atomically(run_dir / PROGRAMS_FILE, json.dumps(
        {"format": FORMAT, "arms": arms, "config": config, "programs": [d.to_json() for d in data]},
        indent=1, ensure_ascii=False))
