"""parse -> compute -> render for one results directory; the analyzer's and the driver's last step."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from retrace_bench import facts, glance, html_page
from retrace_bench.instructions import budget
from retrace_bench.ops import analysis, history, history_report, parse, report
from retrace_bench.instructions import analysis as instruction_analysis
from retrace_bench.instructions import report as instruction_report
from retrace_bench.programs import report as programs_report
from retrace_bench.inputs import InputError, read_text
from retrace_bench.results import write_atomically
from retrace_bench.arms import recorded_labels
from retrace_bench.rounds import Target
from retrace_bench.production import analysis as production_analysis
from retrace_bench.production import report as production_report
from retrace_bench.programs import analysis as program_analysis
from retrace_bench.programs.analysis import NOT_INSTALLED, UNMEASURED
from dataclasses import asdict


#: The shipped apps first, in this order; an own app's results after them.
APP_ORDER = ("wsgi", "asgi")


def production_files(directory: Path) -> list[Path]:
    files = sorted(directory.glob("production_*.json")) + sorted(directory.glob("production.json"))
    rank = {name: i for i, name in enumerate(APP_ORDER)}
    return sorted(files, key=lambda f: (rank.get(f.stem.removeprefix("production_"), len(rank)), f.name))


def load_production(directory: Path) -> list[tuple[Path, dict, dict, str]]:
    """(file, data, summary, text) of every production benchmark result in the directory."""
    loaded = []
    for path in production_files(directory):
        try:
            data = json.loads(read_text(path))
            if not isinstance(data, dict):
                raise ValueError
            loaded.append((path, data, production_analysis.app_summary(data), production_report.render(data)))
        except InputError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, IndexError,
                statistics.StatisticsError, ZeroDivisionError):
            raise InputError(f"{path}: not a complete production benchmark result") from None
    return loaded


def render_production_charts(directory: Path, production) -> list[str]:
    written = []
    for path, data, _, _ in production:
        chart = directory / f"{path.stem}.png"
        if production_report.render_chart(data, chart):
            written.append(chart.name)
    return written


def counted_pairs(counted) -> set[tuple[str, str, str, str]]:
    """(benchmark, test, A, B) of every version difference counted in instructions: the gate judges
    those on instructions, which carry no machine drift, and their wall time is information."""
    return {(t.benchmark, t.name, c.a, c.b) for t, c in counted.comparison("versions")} if counted else set()


def wall_clock_versions(result: analysis.RunResult, counted=None):
    """(benchmark, test, comparison) of every version difference the gate judges on wall time and
    CPU: those without instruction counts (--no-instructions, no Valgrind, a failed count)."""
    gated_elsewhere = counted_pairs(counted)
    return [(b, t, c) for b in result.benchmarks for t in b.tests for c in t.comparisons
            if c.kind == "versions" and (b.name, t.name, c.a, c.b) not in gated_elsewhere]


def regressions(result: analysis.RunResult, counted=None) -> list[str]:
    """Tests where a version is slower than the baseline (the first of --versions) beyond noise,
    in latency or in CPU, among those the gate judges on wall time (wall_clock_versions)."""
    return [f"{b.name}: {t.name} {d.what} ({c.b} vs baseline {c.a})" for b, t, c in wall_clock_versions(result, counted)
            for d in (c.latency, c.cpu) if d is not None and d.verdict == facts.SLOWER]


def undecided_versions(result: analysis.RunResult, counted=None) -> list[str]:
    """Version differences without an interval (one round): the gate cannot pass them."""
    return [f"{b.name}: {t.name}" for b, t, c in wall_clock_versions(result, counted)
            if c.latency.verdict == facts.CANNOT_TELL]


PROGRAMS_FILE = "programs.json"


def load_programs(directory: Path):
    """The program workload's result (programs.json), analysed, or None when the run had none."""
    path = directory / PROGRAMS_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(read_text(path))
        return data, program_analysis.analyse(data)
    except InputError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, statistics.StatisticsError,
            ZeroDivisionError):
        raise InputError(f"{path}: not a complete program workload result") from None


def program_regressions(programs) -> list[str]:
    """Programs (and the geometric mean) where a later release is slower than the baseline."""
    if programs is None:
        return []
    _, result = programs
    found = [f"program {r.name}: time ({arm} vs baseline)" for r in result.rows
             for arm, ratio in r.version_ratio.items() if ratio.verdict == facts.SLOWER]
    return found + [f"programs' geometric mean {g.figure} ({g.arm} vs baseline {g.against})"
                    for g in result.geomeans if g.against != "plain" and g.ratio.verdict == facts.SLOWER]


def program_run_failed(result) -> bool:
    """The program workload failed: a program did not record, did not install or failed plainly,
    or no program was measured at all (a run that measured nothing is no result)."""
    statuses = [r.status for r in result.rows]
    return (any(s in ("did not record", NOT_INSTALLED, "fails plainly") for s in statuses)
            or all(s in UNMEASURED for s in statuses))


def write_history_summary(result, directory: Path, quiet: bool, fail_on_regression: bool) -> int:
    """A --history run's summary (history_report); 1 when no release was measured."""
    if fail_on_regression:
        print("error: --fail-on-regression gates a --versions or --budget run; a history has no baseline to gate on")
        return 2
    history_report.write(result, directory, progress=(lambda _: None) if quiet else print)
    return 0 if result.measured else 1


def write_summary(directory: Path, quiet: bool = False, fail_on_regression: bool = False,
              in_progress: bool = False) -> int:
    """Summarise a results directory. `in_progress`: the driver's own run directory, not yet
    published (else a .partial directory is an interrupted run's, and said so)."""
    past = history.load(directory)
    if past is not None:
        return write_history_summary(past, directory, quiet, fail_on_regression)
    production = load_production(directory)
    programs = load_programs(directory)
    run = parse.load(directory, allow_empty=bool(production) or programs is not None)
    target = None
    if run.config.get("target_ci"):
        try:
            target = Target.parse(run.config["target_ci"])
        except ValueError as error:
            raise InputError(f"{directory / parse.RUN_FILE}: {error}") from None
    try:
        result = analysis.analyse(run, target=target)
        counted = instruction_analysis.analyse(run)
        checks = budget.check(run.config["budget"]["budgets"], counted) if run.config.get("budget") else []
    except (KeyError, TypeError, AttributeError, IndexError, ValueError, statistics.StatisticsError) as error:
        raise InputError(f"{directory / parse.RUN_FILE}: a field is missing or malformed "
                               f"({type(error).__name__}: {error})") from None
    summaries = [summary for _, _, summary, _ in production]
    production_text = "\n".join(text for _, _, _, text in production)
    if production:
        production_text += "\n" + "\n".join(production_report.apm_table(summaries)) + "\n"
    programs_text = None
    if programs is not None:
        programs_text = "\n".join(programs_report.programs_lines(programs[1], programs[0].get("config", {}).get("rounds")))
    try:
        first = glance.glance(result, counted, programs[1] if programs is not None else None, summaries)
        text = report.render_text(result, production_text or None, programs_text, counted, checks,
                                  glance.text_lines(first))
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as error:
        raise InputError(f"{directory / parse.RUN_FILE}: a field is missing or malformed "
                               f"({type(error).__name__}: {error})") from None
    write_atomically(directory / "summary.txt", text)
    production_json = {path.stem.removeprefix("production_"): summary for path, _, summary, _ in production}
    summary_json = report.to_json(result, production_json or None)
    if counted is not None:
        summary_json["instructions"] = instruction_report.to_json(counted)
    if checks:
        summary_json["budget"] = {"file": run.config["budget"]["file"],
                                  "checks": [{**asdict(c), "exceeded": c.exceeded} for c in checks]}
    if programs is not None:
        summary_json["programs"] = programs_report.to_json(programs[1])
    write_atomically(directory / "summary.json", json.dumps(summary_json, indent=2, ensure_ascii=False))
    write_atomically(directory / "benchmark-action.json", report.render_action_benchmark(
        result, instruction_report.action_entries(counted)))
    chart = report.render_chart(result, directory / "overhead.png")
    charts = render_production_charts(directory, production)
    if instruction_report.render_chart(counted, directory / "instructions.png"):
        charts.append("instructions.png")
    if programs is not None and programs_report.render_programs_chart(programs[1], directory / "programs.png"):
        charts.append("programs.png")
    incomplete = directory.name.endswith(".partial") and not in_progress
    if incomplete:
        text = (f"INCOMPLETE RUN: {directory.name} is the output of a run that was interrupted or failed; "
                "its figures cover only what it reached.\n" + text)
        write_atomically(directory / "summary.txt", text)
    write_atomically(directory / html_page.FILE, html_page.render(first, text, directory, ["overhead.png"] * chart + charts))
    if not quiet:
        print(text)
    # The driver's own run directory is renamed when it is published: it says where, then.
    print(f"Wrote {'summary.txt' if in_progress else directory / 'summary.txt'}, {html_page.FILE}, summary.json, "
          "benchmark-action.json"
          + (", overhead.png" if chart else "") + "".join(f", {c}" for c in charts))
    slower = ([f"budget {c.name} {c.measure}" + (f" ({c.arm}): {c.figure:,.0f} > {c.limit:,.0f}" if c.figure is not None
                                                 else ": no counted test of that name") for c in checks if c.exceeded]
              + instruction_analysis.regressions(counted) + regressions(result, counted)
              + [r for summary in summaries for r in production_analysis.regressions(summary)]
              + program_regressions(programs))
    undecided = undecided_versions(result, counted) + instruction_analysis.undecided(counted)
    versions = len(recorded_labels([a["label"] for a in run.arms])) > 1
    if fail_on_regression and not versions and not checks:
        print("error: --fail-on-regression needs a run with two or more versions (--versions) or budgets "
              "(--budget): this one has neither, so it has nothing to gate on")
        return 2
    if fail_on_regression and undecided and not slower:
        print(f"error: the regression gate cannot tell with one round ({len(undecided)} version "
              "difference(s) without an interval): run at least 2 rounds")
        return 1
    if fail_on_regression and slower:
        print(f"error: {len(slower)} regression(s) (a figure slower than the baseline version beyond noise, "
              "or over its budget): "
              + "; ".join(slower))
        return 1
    if incomplete:
        print(f"error: {directory} is an incomplete run (.partial)")
        return 1
    failed = (any(b.failures for b in result.benchmarks) or bool(counted and counted.failures)
              or any("failure" in summary or summary.get("failures") for summary in summaries)
              or (programs is not None and program_run_failed(programs[1])))
    return 1 if failed else 0
