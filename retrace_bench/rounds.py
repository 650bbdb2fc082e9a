"""The rounds loop every workload shares (per-operation scripts, programs, production), the error
that stops a run, the resolution asked for (--target-ci) and the progress line."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from retrace_bench.arms import rotation


class RunError(Exception):
    """The run cannot go on; the message says why."""


def say(text: str, end: str = "\n") -> None:
    print(text, end=end, flush=True)


@dataclass
class Target:
    """The resolution asked for: a half-width of `percent` of the size of what is measured (the
    recording overhead, or the plain figure where that is larger: analysis.set_targets), or
    `floor_us`, whichever is larger."""
    percent: float | None
    floor_us: float

    def half_width_us(self, reference_us: float) -> float:
        return max(abs(reference_us) * (self.percent or 0) / 100, self.floor_us)

    @classmethod
    def parse(cls, text: str) -> "Target":
        percent, floor = None, 0.0
        for part in filter(None, (p.strip() for p in text.split(","))):
            try:
                if part.endswith("%"):
                    percent = float(part[:-1])
                elif part.lower().endswith("us") or part.endswith("µs"):
                    floor = float(part.rstrip("usµ"))
                else:
                    raise ValueError
            except ValueError:
                raise ValueError(f"--target-ci: {part!r} is neither a percent (5%) nor a time (0.05us)") from None
        if not all(math.isfinite(v) for v in (percent or 0.0, floor)):
            raise ValueError("--target-ci: not a finite number")
        if not (percent or floor) or (percent is not None and percent <= 0) or floor < 0:
            raise ValueError("--target-ci needs a positive percent and/or time, e.g. 5%,0.05us")
        return cls(percent, floor)


class Rounds:
    """The one rounds loop of every workload (per-operation scripts, programs, production): round r
    runs every arm once, in round r's order of a Williams design (arms.rotation); `extend` plans more rounds;
    with a deadline, no round starts that would end after it (at least `minimum` rounds run)."""

    def __init__(self, arms: list, planned: int, deadline: float | None = None, progress=say, minimum: int = 2):
        self.arms, self.planned, self.deadline = arms, planned, deadline
        self.progress, self.minimum = progress, minimum
        self.done = 0
        self.started = time.monotonic()

    def seconds_per_round(self) -> float:
        return (time.monotonic() - self.started) / self.done if self.done else 0.0

    def time_left_for(self, rounds: int) -> bool:
        return not self.deadline or time.monotonic() + rounds * self.seconds_per_round() <= self.deadline

    def extend(self, rounds: int) -> None:
        self.planned += rounds

    def __iter__(self):
        while self.done < self.planned:
            if self.done >= self.minimum and not self.time_left_for(1):
                self.progress(f"[rounds] time is up after {self.done} rounds (--max-minutes)")
                return
            self.done += 1
            yield self.done, rotation(self.arms, self.done)
