"""The benchmark harness, under the name every benchmark script imports (``from benchlib import
INTERNAL, Suite``; your own scripts too). It lives in retrace_bench/harness.py: this module is that
module, so that what a script or a test sets on ``benchlib`` is set on the harness itself."""

import sys
from pathlib import Path

# `python -m retracesoftware` and copied scripts: the library lives beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrace_bench import harness  # noqa: E402

sys.modules[__name__] = harness
