"""parse -> compute -> render for one results directory; the analyzer's and the driver's last step.

Each workload hands its part as a Section (retrace_bench/section.py); this module loops over them:
their text under the glance, their keys of summary.json, their charts, and one regression gate over
every workload's effects (effects.regressions, effects.undecided)."""

from __future__ import annotations

import json
from pathlib import Path

from retrace_bench import effects, glance, html_page
from retrace_bench.inputs import InputError
from retrace_bench.ops import history, history_report
from retrace_bench.ops import report as ops_report
from retrace_bench.production import report as production_report
from retrace_bench.programs import report as programs_report
from retrace_bench.render import RULE
from retrace_bench.results import write_atomically
from retrace_bench.section import Section


def write_history_summary(result, directory: Path, quiet: bool, fail_on_regression: bool) -> int:
    """A --history run's summary (history_report); 1 when no release was measured."""
    if fail_on_regression:
        print("error: --fail-on-regression gates a --versions or --budget run; a history has no baseline to gate on")
        return 2
    history_report.write(result, directory, progress=(lambda _: None) if quiet else print)
    return 0 if result.measured else 1


def sections(directory: Path) -> list[Section]:
    """Every workload's Section of the run in `directory`: operations first (its JSON is the base of
    summary.json, and a run always has its run.json or text files unless another workload ran)."""
    others = [s for s in (programs_report.section(directory), production_report.section(directory)) if s is not None]
    return [ops_report.section(directory, allow_empty=bool(others)), *others]


def text(ops: Section, others: list[Section], first_screen: list[str]) -> str:
    """summary.txt: the title, the machine and the arms, the glance, then each workload's text."""
    result, _ = ops.data
    blocks = ["\n".join(s.lines).rstrip() for s in others]
    if not result.benchmarks:                       # no per-operation benchmark (--no-synthetic)
        block = {s.name: "\n".join(s.lines).rstrip() for s in others}
        return "\n".join([RULE, "RETRACE BENCHMARK SUMMARY (no per-operation benchmarks: --no-synthetic)", RULE,
                          *([ops_report.machine_line(result)] if result.system else []), *ops_report.variables_lines(result),
                          *first_screen, "", *([block["programs"], ""] if "programs" in block else []),
                          block.get("production", ""), "", RULE, ""])
    lines = [RULE, "RETRACE BENCHMARK SUMMARY", RULE, *ops_report.header_lines(result), *first_screen, *ops.lines]
    for block in blocks:
        lines += ["", block]
    return "\n".join(lines + ["", RULE, ops_report.RAW_DATA_LINE, RULE, ""])


#: What the summary writes into a results directory besides its charts (CHARTS).
OUTPUTS = ("summary.txt", "summary.json", html_page.FILE, "benchmark-action.json")
CHARTS = ("overhead.png", "instructions.png", "programs.png", "history.png", "production_*.png")
#: The first lines of a summary.txt the suite wrote say one of these.
TITLES = ("RETRACE BENCHMARK SUMMARY", "RETRACE RELEASE HISTORY", "INCOMPLETE RUN:")


def suite_wrote(path: Path) -> bool:
    """Whether an existing output file is one the suite wrote (so the analyzer may replace it)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if path.suffix == ".txt":
        return any(title in line for line in text.splitlines()[:3] for title in TITLES)
    if path.suffix == ".html":
        return html_page.TITLE in text[:2000]
    try:
        data = json.loads(text)
    except ValueError:
        return False
    if path.name == "summary.json":
        return isinstance(data, dict) and ("format" in data or "history" in data)
    return isinstance(data, list) and all(isinstance(e, dict) and {"name", "unit", "value"} <= set(e) for e in data)


def refuse_foreign_files(directory: Path) -> None:
    """Never replace a file the suite did not write (a hand-run folder holding the user's own
    summary.txt or report.html): the analyzer stops before writing anything."""
    present = [name for name in OUTPUTS if (directory / name).exists()]
    foreign = [name for name in present if not suite_wrote(directory / name)]
    # A chart is the suite's in a directory the suite wrote into (its run.json or history.json, or
    # another of its outputs); in a hand-run folder of text outputs alone, a chart is the user's.
    suites = (directory / "run.json").exists() or (directory / history.HISTORY_FILE).exists() \
        or any(name not in foreign for name in present)
    if not suites:
        foreign += sorted(p.name for pattern in CHARTS for p in directory.glob(pattern))
    if foreign:
        raise InputError(f"{directory}: the summary would replace {', '.join(foreign)}, which this suite did not "
                         "write: move them away (or analyze a copy of the benchmark outputs)")


def write_summary(directory: Path, quiet: bool = False, fail_on_regression: bool = False,
                  in_progress: bool = False) -> int:
    """Summarise a results directory. `in_progress`: the driver's own run directory, not yet
    published (else a .partial directory is an interrupted run's, and said so)."""
    refuse_foreign_files(directory)
    past = history.load(directory)
    if past is not None:
        return write_history_summary(past, directory, quiet, fail_on_regression)
    ops, *others = found = sections(directory)
    by_name = {s.name: s for s in found}
    result, counted = ops.data
    try:
        first = glance.glance(result, counted, by_name["programs"].data if "programs" in by_name else None,
                              by_name["production"].data if "production" in by_name else ())
        summary_text = text(ops, others, glance.text_lines(first))
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as error:
        raise InputError(f"{directory / 'run.json'}: a field is missing or malformed "
                         f"({type(error).__name__}: {error})") from None
    rows = [row for s in found for row in s.effects]
    summary_json = {**ops.json, **{k: v for s in others for k, v in s.json.items()}, "effects": rows}
    write_atomically(directory / "summary.json", json.dumps(summary_json, indent=2, ensure_ascii=False))
    charts = [chart for s in found for chart in s.write(directory)]
    incomplete = directory.name.endswith(".partial") and not in_progress
    if incomplete:
        summary_text = (f"INCOMPLETE RUN: {directory.name} is the output of a run that was interrupted or failed; "
                        "its figures cover only what it reached.\n" + summary_text)
    write_atomically(directory / "summary.txt", summary_text)
    write_atomically(directory / html_page.FILE, html_page.render(first, summary_text, directory, charts))
    if not quiet:
        print(summary_text)
    # The driver's own run directory is renamed when it is published: it says where, then.
    print(f"Wrote {'summary.txt' if in_progress else directory / 'summary.txt'}, {html_page.FILE}, summary.json, "
          "benchmark-action.json" + "".join(f", {c}" for c in charts))
    status = gate(found, rows) if fail_on_regression else 0
    if status:
        return status
    if incomplete:
        print(f"error: {directory} is an incomplete run (.partial)")
        return 1
    return 1 if any(s.failed for s in found) else 0


def gate(found: list[Section], rows: list[dict]) -> int:
    """--fail-on-regression: 1 when a figure the gate judges is slower than the baseline release
    beyond noise, or a budget is exceeded; 1 when one has no interval (one round: the gate passes only
    on evidence); 2 when the run has nothing to gate on."""
    if not any(s.gates for s in found):
        print("error: --fail-on-regression needs a run with two or more versions (--versions) or budgets "
              "(--budget): this one has neither, so it has nothing to gate on")
        return 2
    slower = [line for s in found for line in s.exceeded] + [effects.row_text(r) for r in effects.regressions(rows)]
    undecided = effects.undecided(rows)
    if slower:
        print(f"error: {len(slower)} regression(s) (a figure slower than the baseline version beyond noise, "
              "or over its budget): " + "; ".join(slower))
        return 1
    if undecided:
        print(f"error: the regression gate cannot tell with one round ({len(undecided)} version "
              "difference(s) without an interval): run at least 2 rounds; "
              + "; ".join(effects.row_text(r) for r in undecided))
        return 1
    return 0
