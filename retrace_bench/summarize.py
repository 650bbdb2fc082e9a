"""parse -> compute -> render for one results directory; the analyzer's and the driver's last step."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from . import analysis, facts, parse, report


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


def regressions(result: analysis.RunResult) -> list[str]:
    """Tests where a later version is slower than the earlier one beyond noise."""
    return [f"{b.name}: {t.name} ({c.b} vs {c.a})" for b in result.benchmarks for t in b.tests
            for c in t.comparisons if c.kind == "versions" and c.latency.verdict == facts.SLOWER]


def summarise(directory: Path, quiet: bool = False, fail_on_regression: bool = False) -> int:
    run = parse.load(directory)
    production, production_text = load_production(directory)
    result = analysis.analyse(run)
    text = report.render_text(result, production_text)
    report.write_atomically(directory / "summary.txt", text)
    report.write_atomically(directory / "summary.json",
                            json.dumps(report.to_json(result, production), indent=2, ensure_ascii=False))
    report.write_atomically(directory / "benchmark-action.json", report.render_action_benchmark(result))
    chart = report.render_chart(result, directory / "overhead.png")
    if not quiet:
        print(text)
    print(f"Wrote {directory / 'summary.txt'}, summary.json, benchmark-action.json"
          + (", overhead.png" if chart else " (no chart: matplotlib is not installed)"))
    slower = regressions(result)
    if fail_on_regression and slower:
        print(f"error: {len(slower)} test(s) slower in the later version beyond noise: {slower[0]}")
        return 1
    failed = any(b.failures for b in result.benchmarks) or (production is not None and "failure" in production)
    return 1 if failed else 0
