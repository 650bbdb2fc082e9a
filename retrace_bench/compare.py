"""Compare two archived runs. Archives come from different runs, so every difference between them
includes machine drift: for a verdict you can trust, compare versions inside one run
(./run_all_benchmarks.sh --versions A,B)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from retrace_bench import effects, facts
from retrace_bench.inputs import InputError, read_text
from retrace_bench.instructions.analysis import JUDGED, comparison_confidence
from retrace_bench.render import fmt_us

DRIFT_WARNING = ("These archives come from different runs: every change below includes machine drift "
                 "between them. For a trustworthy verdict, compare in one run: "
                 "./run_all_benchmarks.sh --versions A,B")


def load_summary(path: Path) -> dict:
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: is a file, not an archive directory (results/archive/...)")
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


def checked(figure: dict, file: Path, where: str, numbers: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """A figure of a (possibly hand-edited) summary.json whose numbers are finite numbers, or one line
    naming the file and the field: NaN would pass the gate as "within noise", a string would crash it."""
    if not isinstance(figure, dict):
        raise InputError(f"{file}: {where}: not an object")
    for key in numbers + optional:
        if key not in figure:
            if key in optional:
                continue
            raise InputError(f"{file}: {where}: the field {key!r} is missing")
        value = figure[key]
        if value is None and key in optional:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"{file}: {where}: the field {key!r} is {value!r}, not a finite number")
    return figure


def overheads(summary: dict, file: Path) -> dict[tuple[str, str], dict]:
    """(benchmark, test) -> the latency difference of the first recorded arm against plain."""
    out = {}
    try:
        for b in summary["benchmarks"]:
            for t in b["tests"]:
                c = next((c for c in t["comparisons"] if c["kind"] == "overhead"), None)
                if c is not None:
                    where = f"benchmark {b['name']!r}, test {t['name']!r}, latency"
                    latency = checked(c["latency"], file, where, ("estimate_us",), ("low_us", "high_us", "reference_us"))
                    out[(b["name"], t["name"])] = {**latency, "arm": c["b"]}
    except (KeyError, TypeError):
        raise InputError(f"{file}: incomplete summary (missing benchmarks/tests/comparisons)") from None
    return out


def recorded_instructions(summary: dict, file: Path) -> dict[tuple[str, str, str], dict]:
    """(benchmark, test, measure) -> the first recorded arm's instructions per call (an estimate with
    its interval over processes), for the caller and the total."""
    data = summary.get("instructions")
    if not data:
        return {}
    out = {}
    try:
        recorded = [a["label"] for a in summary["arms"] if a["kind"] == "retrace"]
        for t in data["tests"]:
            arm = next((label for label in recorded if label in t["arms"]), None)
            if arm is None:
                continue
            for measure in JUDGED:
                figure = checked(t["arms"][arm]["figures"][measure], file,
                                 f"instructions, test {t['benchmark']}: {t['name']!r}, {measure}", ("value", "n"),
                                 ("low", "high"))
                out[(t["benchmark"], t["name"], measure)] = {**figure, "arm": arm}
    except (KeyError, TypeError):
        raise InputError(f"{file}: incomplete instructions section") from None
    return out


def compare(path_a: Path, path_b: Path, fail_on_regression: bool) -> int:
    a, b = load_summary(path_a), load_summary(path_b)
    ta, tb = overheads(a, path_a / "summary.json"), overheads(b, path_b / "summary.json")
    ia, ib = recorded_instructions(a, path_a / "summary.json"), recorded_instructions(b, path_b / "summary.json")
    same = path_a.resolve() == path_b.resolve()
    counted = bool(ia.keys() & ib.keys())
    lines = [f"A = {path_a.name}, B = {path_b.name}",
             "NOTE: A and B are the same archive: every change below is 0 by construction" if same else ""]
    verdicts: list[str] = []
    if counted:
        lines += ["Instructions per call of the recorded arm (exact: no machine drift; the gate's measure):"]
        for key in [k for k in ia if k in ib]:
            x, y = ia[key], ib[key]
            confidence = comparison_confidence(len({k[:2] for k in ia if k in ib}))
            effect = effects.welch_difference(key[2], effects.INSTRUCTIONS, x, y, confidence, exact=True)
            change, low, high, verdict = effect.estimate, effect.low, effect.high, effect.verdict
            verdicts.append(verdict)
            interval = (f"[{confidence * 100:.3g}% CI {low:+,.0f} .. {high:+,.0f}]" if low is not None
                        else "(no interval on a side)")
            lines.append(f"  {key[0]}: {key[1]} {key[2]}: A {x['value']:,.0f} ({x['arm']}), B {y['value']:,.0f} "
                         f"({y['arm']}): {change:+,.0f} ({change / x['value'] * 100 if x['value'] else 0:+.1f}%) "
                         f"{interval}: {verdict}")
        lines.append("")
    lines += [f"Recording overhead per operation, wall time"
              + (" (information: it includes machine drift)" if counted else "") + ":",
              "" if same else f"WARNING: {DRIFT_WARNING}"]
    for key in [k for k in ta if k in tb]:
        x, y = ta[key], tb[key]
        change = y["estimate_us"] - x["estimate_us"]
        if x["low_us"] is None or y["low_us"] is None:
            verdict, how = facts.CANNOT_TELL, "an archive has no interval"
        else:
            # The change's interval from the two intervals' far ends: it excludes 0 exactly when they
            # do not overlap (unpaired archives: no tighter interval can be had from them).
            low, high = y["low_us"] - x["high_us"], y["high_us"] - x["low_us"]
            separated = not low <= 0 <= high
            verdict = effects.judge(change, low, high, effects.US, x["reference_us"])
            how = f"intervals {'do not ' if separated else ''}overlap"
        if not counted:
            verdicts.append(verdict)
        lines.append(f"  {key[0]}: {key[1]}: A {fmt_us(x['estimate_us'], True)} ({x['arm']}), "
                     f"B {fmt_us(y['estimate_us'], True)} ({y['arm']}) µs/op: change "
                     f"{fmt_us(change, True)}: {verdict} ({how})")
    for key in sorted(ta.keys() ^ tb.keys()):
        lines.append(f"  {key[0]}: {key[1]}: only in {'A' if key in ta else 'B'}")
    shared = len(ta.keys() & tb.keys()) + len(ia.keys() & ib.keys())
    slower, undecided = verdicts.count(facts.SLOWER), verdicts.count(facts.CANNOT_TELL)
    lines += ["", f"{slower} figure(s) slower in B" + (" (instructions per call)" if counted else
                                                      " beyond the intervals (drift included)")
              + (f"; {undecided} without an interval (cannot tell)" if undecided else "")]
    if not shared:
        lines.append("error: the two archives share no test: nothing was compared")
    print("\n".join(line for line in lines if line is not None))
    if not shared:
        return 2                                  # an input problem, and a gate that compared nothing fails
    if fail_on_regression and (slower or undecided):
        return 1                                  # a gate passes only on evidence
    return 0
