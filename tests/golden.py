"""The re-rendering that tests/core/test_golden.py checks against tests/data/golden/ (made by
scripts/capture_golden.py): every reference archive and test-data run, rendered by today's analyzer
in a throwaway copy."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
GOLDEN = TESTS / "data" / "golden"
#: The committed reference archives (runs of the whole suite) and the test data's runs.
ARCHIVES = TESTS / "data" / "archives"
TEST_RUNS = ("run", "instructions/run", "sample", "apm", "versions")
#: Where the copy is rendered: its path is replaced by this in what is compared.
PLACEHOLDER = "<results>"


def sources() -> list[tuple[str, Path]]:
    found = [(p.name, p) for p in sorted(ARCHIVES.iterdir()) if p.is_dir()]
    return found + [("data-" + name.replace("/", "-"), TESTS / "data" / name) for name in TEST_RUNS]


def render(source: Path, scratch: Path) -> tuple[dict, str]:
    """(summary.json, summary.txt) of `source` rendered again in a copy under `scratch`."""
    from retrace_bench.summary import write_summary
    copy = scratch / source.name
    shutil.copytree(source, copy)
    for stale in ("summary.json", "summary.txt"):
        (copy / stale).unlink(missing_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):
        write_summary(copy, quiet=True)
    text = (copy / "summary.txt").read_text().replace(str(copy), PLACEHOLDER)
    data = json.loads((copy / "summary.json").read_text().replace(json.dumps(str(copy))[1:-1], PLACEHOLDER))
    return data, text
