"""Instruction budgets (--budget FILE): the most instructions per call an operation may cost when
recorded, the way a service gates on its SLOs. Exact counts make absolute budgets meaningful.

    # budgets.toml: "<benchmark>: <test name>" as the summary names it; caller and/or total
    ["external: sqlite3 SELECT by primary key"]
    caller = 85000
    total = 125000

Every recorded arm of the run must stay within each budget (its mean over processes); a budget
that names no counted test is reported too, so that a typo cannot pass silently.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from retrace_bench.instructions.analysis import JUDGED, InstructionResult


class BudgetError(ValueError):
    """A budget file that cannot be used; the message names the file and the entry."""


def parse(text: str, source: str) -> dict[str, dict[str, float]]:
    """The budget file's content -> {"benchmark: test": {"caller": N, "total": N}}."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BudgetError(f"{source}: not valid TOML ({error})") from None
    if not data:
        raise BudgetError(f"{source}: no budget in it")
    budgets = {}
    for name, limits in data.items():
        if not isinstance(limits, dict) or ": " not in name:
            raise BudgetError(f"{source}: [{name!r}] must be a table named \"<benchmark>: <test name>\" "
                              "(as the summary names it)")
        unknown = set(limits) - set(JUDGED)
        if unknown or not limits:
            raise BudgetError(f"{source}: [{name!r}]: give {' and/or '.join(JUDGED)}"
                              + (f", not {', '.join(sorted(unknown))}" if unknown else ""))
        for key, value in limits.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise BudgetError(f"{source}: [{name!r}] {key} = {value!r}: a positive number of instructions")
        budgets[name] = {k: float(v) for k, v in limits.items()}
    return budgets


def load(path: Path) -> dict[str, dict[str, float]]:
    try:
        return parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as error:
        raise BudgetError(f"{path}: cannot read it ({getattr(error, 'strerror', None) or error})") from None


@dataclass
class BudgetCheck:
    name: str
    measure: str
    limit: float
    arm: str | None = None
    figure: float | None = None         # None: no counted test of that name

    @property
    def exceeded(self) -> bool:
        return self.figure is None or self.figure > self.limit


def check(budgets: dict[str, dict[str, float]], result: InstructionResult | None) -> list[BudgetCheck]:
    """Every budget against every recorded arm's figure (one check per arm and measure)."""
    checks = []
    tests = {f"{t.benchmark}: {t.name}": t for t in (result.tests if result else [])}
    for name, limits in budgets.items():
        test = tests.get(name)
        recorded = [a for label, a in (test.arms.items() if test else []) if label != "plain"
                    and not label.startswith("plain#")]
        for measure, limit in limits.items():
            if not recorded:
                checks.append(BudgetCheck(name, measure, limit))
            for arm in recorded:
                checks.append(BudgetCheck(name, measure, limit, arm.label, arm.figures[measure].value))
    return checks
