"""Makes tests/data/golden/: each reference archive and each test-data run re-rendered by the analyzer
(in a throwaway copy), its summary.json and summary.txt kept. tests/core/test_golden.py renders the same
sources again and compares: a change of the code's layout must leave every figure, interval and
verdict, and every line of the text, as it was. Run it only when a figure is meant to change, and say
why in the commit.

    .venv/bin/python scripts/capture_golden.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from golden import GOLDEN, render, sources  # noqa: E402


def main() -> int:
    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    GOLDEN.mkdir(parents=True)
    for name, source in sources():
        with tempfile.TemporaryDirectory() as scratch:
            summary_json, summary_txt = render(source, Path(scratch))
        out = GOLDEN / name
        out.mkdir()
        (out / "summary.json").write_text(json.dumps(summary_json, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        (out / "summary.txt").write_text(summary_txt)
        print(f"{name}: {len(summary_txt.splitlines())} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
