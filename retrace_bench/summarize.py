"""parse -> compute -> render for one results directory; the analyzer's and the driver's last step."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from . import analysis, facts, parse, report
from .engine import Target


def load_production(directory: Path):
    """(summary, text) of the production benchmark when it ran, else (None, None)."""
    path = directory / "production.json"
    if not path.exists():
        return None, None
    import production_benchmark
    try:
        data = json.loads(parse.read_text(path))
        return production_benchmark.summarise(data), production_benchmark.render(data)
    except parse.InputError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError,
            statistics.StatisticsError, ZeroDivisionError):
        raise parse.InputError(f"{path}: not a complete production benchmark result") from None


def render_production_chart(directory: Path) -> bool:
    import production_benchmark
    data = json.loads(parse.read_text(directory / "production.json"))
    return production_benchmark.render_chart(data, directory / "production.png")


def regressions(result: analysis.RunResult) -> list[str]:
    """Tests where a later version is slower than the earlier one beyond noise."""
    return [f"{b.name}: {t.name} ({c.b} vs {c.a})" for b in result.benchmarks for t in b.tests
            for c in t.comparisons if c.kind == "versions" and c.latency.verdict == facts.SLOWER]


def summarise(directory: Path, quiet: bool = False, fail_on_regression: bool = False) -> int:
    run = parse.load(directory)
    production, production_text = load_production(directory)
    target = None
    if run.config.get("target_ci"):
        try:
            target = Target.parse(run.config["target_ci"])
        except ValueError as error:
            raise parse.InputError(f"{directory / parse.RUN_FILE}: {error}") from None
    result = analysis.analyse(run, target=target)
    text = report.render_text(result, production_text)
    report.write_atomically(directory / "summary.txt", text)
    report.write_atomically(directory / "summary.json",
                            json.dumps(report.to_json(result, production), indent=2, ensure_ascii=False))
    report.write_atomically(directory / "benchmark-action.json", report.render_action_benchmark(result))
    chart = report.render_chart(result, directory / "overhead.png")
    production_chart = production is not None and render_production_chart(directory)
    if not quiet:
        print(text)
    print(f"Wrote {directory / 'summary.txt'}, summary.json, benchmark-action.json"
          + (", overhead.png" if chart else " (no chart: matplotlib is not installed)")
          + (", production.png" if production_chart else ""))
    slower = regressions(result)
    if fail_on_regression and slower:
        print(f"error: {len(slower)} test(s) slower in the later version beyond noise: {slower[0]}")
        return 1
    failed = any(b.failures for b in result.benchmarks) or (production is not None and "failure" in production)
    return 1 if failed else 0
