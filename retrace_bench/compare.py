"""Compare two archived runs. Archives come from different runs, so every difference between them
includes machine drift: for a verdict you can trust, compare versions inside one run
(./run_all_benchmarks.sh --versions A,B)."""

from __future__ import annotations

import json
from pathlib import Path

from . import facts
from .parse import InputError, read_text
from .report import fmt_us

DRIFT_WARNING = ("These archives come from different runs: every change below includes machine drift "
                 "between them. For a trustworthy verdict, compare in one run: "
                 "./run_all_benchmarks.sh --versions A,B")


def load_summary(path: Path) -> dict:
    if not path.is_dir():
        raise InputError(f"{path}: missing (no such archive directory)")
    file = path / "summary.json"
    try:
        data = json.loads(read_text(file))
    except ValueError:
        raise InputError(f"{file}: not valid JSON") from None
    if not isinstance(data, dict) or data.get("format") != 2:
        raise InputError(f"{file}: summary format {data.get('format') if isinstance(data, dict) else '?'}; "
                         "this analyzer compares format-2 archives")
    return data


def overheads(summary: dict, file: Path) -> dict[tuple[str, str], dict]:
    """(benchmark, test) -> the latency difference of the first recorded arm against plain."""
    out = {}
    try:
        for b in summary["benchmarks"]:
            for t in b["tests"]:
                c = next((c for c in t["comparisons"] if c["kind"] == "overhead"), None)
                if c is not None:
                    out[(b["name"], t["name"])] = {**c["latency"], "arm": c["b"]}
    except (KeyError, TypeError):
        raise InputError(f"{file}: incomplete summary (missing benchmarks/tests/comparisons)") from None
    return out


def compare(path_a: Path, path_b: Path, fail_on_regression: bool) -> int:
    a, b = load_summary(path_a), load_summary(path_b)
    ta, tb = overheads(a, path_a / "summary.json"), overheads(b, path_b / "summary.json")
    same = path_a.resolve() == path_b.resolve()
    lines = [f"Recording overhead per operation: A = {path_a.name}, B = {path_b.name}",
             "NOTE: A and B are the same archive: every change below is 0 by construction" if same
             else f"WARNING: {DRIFT_WARNING}", ""]
    slower = 0
    for key in [k for k in ta if k in tb]:
        x, y = ta[key], tb[key]
        change = y["estimate_us"] - x["estimate_us"]
        separated = (x["low_us"] is not None and y["low_us"] is not None
                     and (y["low_us"] > x["high_us"] or y["high_us"] < x["low_us"]))
        verdict = facts.WITHIN_NOISE
        if separated and abs(change) >= facts.minimum_effect_us(x["reference_us"]):
            verdict = facts.SLOWER if change > 0 else facts.FASTER
        slower += verdict == facts.SLOWER
        lines.append(f"  {key[0]}: {key[1]}: A {fmt_us(x['estimate_us'], True)} ({x['arm']}), "
                     f"B {fmt_us(y['estimate_us'], True)} ({y['arm']}) µs/op: change "
                     f"{fmt_us(change, True)}: {verdict} (intervals {'do not ' if separated else ''}overlap)")
    for key in sorted(ta.keys() ^ tb.keys()):
        lines.append(f"  {key[0]}: {key[1]}: only in {'A' if key in ta else 'B'}")
    shared = len(ta.keys() & tb.keys())
    lines += ["", f"{slower} test(s) slower in B beyond the intervals (drift included)"]
    if not shared:
        lines.append("error: the two archives share no test: nothing was compared")
    print("\n".join(lines))
    if not shared:
        return 1 if fail_on_regression else 2     # a gate that compared nothing must not pass
    return 1 if fail_on_regression and slower else 0
