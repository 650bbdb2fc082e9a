"""Export in the field's format: one pyperf benchmark-suite JSON file per arm (results/pyperf/
plain.json, retrace.json, retrace-0.2.29.json), each holding every program, so that
`python -m pyperf compare_to results/pyperf/plain.json results/pyperf/retrace.json` works.

A pyperformance benchmark's runs are pyperf's own (one run per worker process); a --program command
has one run per process whose one value is its wall time. Written with pyperf itself (pinned in
requirements.txt), the format's reference implementation.
"""

from __future__ import annotations

import json
from pathlib import Path

from retrace_bench import facts
from retrace_bench.programs.run import ProgramData

DIRECTORY = facts.PYPERF_EXPORT_DIRECTORY
#: The version of pyperf's JSON format that a worker's output carries.
FORMAT_VERSION = "1.0"


def file_name(label: str) -> str:
    return label.replace("==", "-").replace("#", "-") + ".json"


def export(programs: list[ProgramData], labels: list[str], run_dir: Path) -> list[Path]:
    import pyperf  # lazy: about a second of start-up, only for the export
    target = run_dir / DIRECTORY
    written = []
    for label in labels:
        benchmarks: dict[str, object] = {}
        for item in programs:
            for data in item.pyperf.get(label, []):
                bench = pyperf.BenchmarkSuite.loads(json.dumps(
                    {"version": FORMAT_VERSION, "metadata": {}, "benchmarks": [data]})).get_benchmarks()[0]
                if bench.get_name() in benchmarks:
                    benchmarks[bench.get_name()].add_runs(bench)
                else:
                    benchmarks[bench.get_name()] = bench
            runs = [r for r in item.runs if r.arm == label and r.figure_s is not None]
            if item.kind == "command" and runs:
                benchmarks[item.name] = pyperf.Benchmark(
                    [pyperf.Run([r.wall_s], metadata={"name": item.name, "unit": "second", "loops": 1},
                                collect_metadata=False) for r in runs])
        if not benchmarks:
            continue
        target.mkdir(exist_ok=True)
        path = target / file_name(label)
        pyperf.BenchmarkSuite(list(benchmarks.values())).dump(str(path), replace=True)
        written.append(path)
    return written
