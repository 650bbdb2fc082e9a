"""A real --history run: measured once, then read from its cache (Valgrind, a release's
virtualenv, the package index)."""

import shutil

import pytest

from conftest import ROOT, run
from retrace_bench import facts
from retrace_bench.instructions.callgrind import missing

needs_valgrind = pytest.mark.skipif(missing() is not None, reason=f"instructions cannot be counted here: {missing()}")


#: Every test here starts real processes (docs/development.md: the fast loop leaves them out).
pytestmark = pytest.mark.slow

@needs_valgrind
def test_a_real_history_is_measured_once_then_read_from_its_cache(tmp_path):
    """--history with one release for real (and one the index does not have): measured, cached,
    then read back from the cache by a second run; the row of the missing release says why."""
    results = tmp_path / "results"
    first = run([str(ROOT / "run_all_benchmarks.sh"), "--history", "0.2.30,0.2.99", "--quick", "--instruction-rounds", "1",
                 "--results", str(results)], timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert "0.2.30: measured in" in first.stdout and "0.2.99: not on the package index" in first.stdout
    assert "[history] 2 of 3 not cached yet: about 4 minutes" in first.stdout, first.stdout[:2000]
    cached = sorted(p.name.split("-")[0] for p in (results / facts.HISTORY_CACHE_DIRECTORY).iterdir())
    assert cached == ["0.2.30", "plain"]
    second = run([str(ROOT / "run_all_benchmarks.sh"), "--history", "0.2.30,0.2.99", "--quick", "--instruction-rounds", "1",
                  "--results", str(results)], timeout=900)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "0.2.30: from the cache" in second.stdout and "plain: from the cache" in second.stdout
    assert "[history] 0 of 3 not cached yet" in second.stdout
    assert "[instructions]" not in second.stdout                    # nothing was counted again
    text = (results / "summary.txt").read_text()
    assert "RETRACE RELEASE HISTORY" in text and "sqlite3 SELECT by primary key" in text
    assert "0.2.99     FAILED: retracesoftware 0.2.99 is not on the package index" in text
    archives = sorted((results / "archive").iterdir())
    kept = list((archives[0] / facts.CALLGRIND_DIRECTORY / "0.2.30").rglob("*"))
    assert any(p.is_file() for p in kept)                         # the raw Callgrind files of the first run
    shutil.rmtree(results / facts.HISTORY_CACHE_DIRECTORY)        # a user may delete the cache
