"""A workload's part of a summary: what summary.py loops over. Each workload's report module makes
one (`ops.report.section`, `programs.report.section`, `production.report.section`) from the files it
wrote into the results directory, so that the summary renders, exports and gates on every workload
the same way, and no workload renders another's text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class Section:
    name: str                           # ops, programs, production
    lines: list[str]                    # its text in summary.txt
    json: dict                          # its keys of summary.json
    effects: list[dict] = field(default_factory=list)     # its comparisons (effects.row), the gate's input
    failed: bool = False                # part of it failed: the run's exit status is 1
    exceeded: list[str] = field(default_factory=list)     # limits it is over (instruction budgets): the gate fails
    gates: bool = False                 # it has something to gate on (two or more releases, or budgets)
    data: object = None                 # its analysed result, for the glance
    write: Callable[[Path], list[str]] = lambda directory: []   # its charts and files; returns the charts' names
