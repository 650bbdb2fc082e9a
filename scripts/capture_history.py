"""Make tests/data/history/quick.json, the release history's test data, from a real --history run.

    .venv/bin/python scripts/capture_history.py results/archive/history_<...>/history.json [RELEASE ...]

It keeps plain and the named releases (default: the last two measured and any failed row), and of
their processes only the external benchmark's os.getpid() and sqlite tests (with their profiles),
so that the file stays small; the processes' counts are left as they were measured.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "tests" / "data" / "history" / "quick.json"
KEPT_TESTS = {5, 6}          # external: os.getpid(), sqlite3 SELECT by primary key


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    data = json.loads(Path(argv[0]).read_text())
    measured = [r["release"] for r in data["releases"] if r["status"] == "ok" and r["release"] != "plain"]
    wanted = set(argv[1:] or measured[-2:]) | {"plain"}
    data["releases"] = [r for r in data["releases"] if r["release"] in wanted or r["status"] != "ok"]
    for row in data["releases"]:
        kept = []
        for bench in row["benchmarks"]:
            if bench["name"] != "external":
                continue
            for process in bench["instructions"]:
                process["record"]["tests"] = [t for t in process["record"]["tests"] if t["number"] in KEPT_TESTS]
                process["record"]["header"] = {}
            bench["functions"] = {arm: {n: sides for n, sides in by_test.items() if int(n) in KEPT_TESTS}
                                  for arm, by_test in bench["functions"].items()}
            kept.append(bench)
        row["benchmarks"] = kept
    data["config"]["cache"] = "results/history-cache"
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(json.dumps(data, indent=0) + "\n")
    print(f"wrote {TARGET} ({TARGET.stat().st_size // 1024} KB): {', '.join(sorted(wanted))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
