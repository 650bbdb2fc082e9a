"""Words every workload's report shares: the rule line around a summary, a ratio with its interval,
a time per operation, how a run's rounds ran and in what order."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from retrace_bench import facts

RULE = "=" * 78


def ratio_text(r) -> str:
    if r is None:
        return "n/a"
    interval = f"[{r.low:.2f}x .. {r.high:.2f}x]" if r.low is not None else "[no interval: one round]"
    return f"{r.estimate:.2f}x {interval} {r.verdict}"


def writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK)


def pyplot():
    """matplotlib's pyplot drawing to files (no display), or None where matplotlib is missing: every
    chart is then left out, and the text says the same."""
    if "MPLCONFIGDIR" not in os.environ and not writable(Path.home() / ".config" / "matplotlib"):
        # A home the run cannot write (the cache is then said once): matplotlib's own warning is not repeated.
        scratch = tempfile.mkdtemp(prefix="retrace-bench-mpl.")
        atexit.register(shutil.rmtree, scratch, True)
        os.environ["MPLCONFIGDIR"] = scratch
    try:
        import matplotlib  # lazy: about a second of start-up, only when a chart is drawn
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # lazy: as above
    except ImportError:
        return None
    return plt


def printable(text: str, limit: int | None = None) -> str:
    """A program's own text (an output line, a test's name) as the terminal and summary.txt show it:
    control characters (ESC sequences, newlines, carriage returns) escaped, at most `limit` characters."""
    text = text if limit is None else text[:limit]
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def fmt_us(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    digits = 3 if abs(value) < 10 else 1
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def rounds_text(config: dict) -> str:
    """How many rounds ran, and of what: extension rounds (--target-ci) run only the tests that
    missed the target."""
    done, full = config.get("rounds_run", "?"), config.get("full_rounds")
    if isinstance(done, int) and isinstance(full, int) and done > full:
        return (f"{full} rounds of every test, then {done - full} of only the tests that missed the "
                "target (each test's rounds are shown with it)")
    return f"{done} rounds"


def order_text(config: dict) -> str:
    """How the arms' order was chosen: a Williams design for runs that say so; an archive made before
    the suite recorded it (when arms were rotated cyclically) is not described as one."""
    return "arm order from a Williams design" if config.get("order") == facts.WILLIAMS_ORDER else "arms in rotating order"
