"""The per-operation workload's data: run.json, what a run holds (every benchmark process's record,
per arm and round, and what the probes, profiles, replays and instruction counts found), versioned,
to and from JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: The workload's file in a run directory.
RUN_FILE = "run.json"
RUN_FORMAT = 1


# --------------------------------------------------------------------------- what a run holds

@dataclass
class ProcessEntry:
    arm: str
    round: int
    position: int
    record: dict
    trace_bytes: int | None = None


@dataclass
class BenchmarkData:
    name: str
    script: str
    processes: list[ProcessEntry] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)            # arm -> reason
    trace_growth: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    profile: dict[str, dict] = field(default_factory=dict)             # arm -> record
    replay: dict[str, dict] = field(default_factory=dict)              # arm -> outcome
    instructions: list[ProcessEntry] = field(default_factory=list)    # processes under Callgrind
    instruction_failures: dict[str, str] = field(default_factory=dict)
    functions: dict[str, dict] = field(default_factory=dict)          # arm -> test -> profiles.test_profile


@dataclass
class RunData:
    arms: list[dict]
    config: dict
    benchmarks: list[BenchmarkData] = field(default_factory=list)
    empty_trace_bytes: dict[str, int] = field(default_factory=dict)
    format: int = RUN_FORMAT

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "RunData":
        benchmarks = [BenchmarkData(**{**b, "processes": [ProcessEntry(**p) for p in b["processes"]],
                                       "instructions": [ProcessEntry(**p) for p in b.get("instructions", [])]})
                      for b in data["benchmarks"]]
        return cls(**{**data, "benchmarks": benchmarks})
