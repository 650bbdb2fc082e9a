"""network_benchmark.py against the real servers (retrace_bench/services.py), and a quick run of the
driver with it: the calls are recorded (the trace grows), each test recorded alone replays with the
servers stopped, and nothing is left running or on disk."""

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from conftest import ROOT, copy_repo, needs_servers, processes_under, run
from retrace_bench import facts, services
from retrace_bench.ops import parse

pytestmark = pytest.mark.slow
SCRIPT = "network_benchmark.py"


def test_without_the_servers_only_the_http_test_is_registered_and_a_note_says_so_once():
    result = run([sys.executable, SCRIPT, "--list"], DATABASE_URL="", REDIS_URL="", REDIS_SOCKET_URL="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"1. HTTP GET {facts.SEED_VALUE_BYTES} B (urllib3) [boundary] 60 iterations"]
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "DATABASE_URL, REDIS_URL, REDIS_SOCKET_URL not set" in notes[0]
    assert "python -m retrace_bench.services -- python network_benchmark.py" in notes[0]


@needs_servers
def test_every_call_runs_against_the_real_servers(tmp_path):
    result = run([sys.executable, "-m", "retrace_bench.services", "--", sys.executable, SCRIPT, "--quick", "--runs", "3"])
    assert result.returncode == 0, result.stderr[-2000:]
    path = tmp_path / "network_baseline.txt"
    path.write_text(result.stdout)
    records, _ = parse.parse_text(result.stdout, path)
    names = [t.name for t in records[0].tests]
    assert names == ["PostgreSQL SELECT by key", "PostgreSQL INSERT + COMMIT", facts.SPEC_QUERY_TEST,
                     "Redis GET 100 B (TCP)", "Redis SET 100 B (TCP)", "Redis GET 100 B (Unix socket)",
                     "Redis SET 100 B (Unix socket)", "HTTP GET 100 B (urllib3)"]
    wait = records[0].tests[2]
    per_call_s = [r.wall_ms / 1e3 / wait.iterations for r in wait.runs]
    assert min(per_call_s) >= facts.SPEC_QUERY_WAIT_S       # the server really waited


@needs_servers
def test_a_quick_run_of_the_network_tests_alone(tmp_path):
    """The driver on a copy holding only network_benchmark.py, with a private (0700) TMPDIR of its own."""
    repo = copy_repo(tmp_path / "repo")
    for name in ("synthetic_benchmark.py", "external_boundary_benchmark.py"):
        (repo / name).unlink()
    shutil.copy2(ROOT / SCRIPT, repo / SCRIPT)
    tmp = tmp_path / "tmp"
    tmp.mkdir(mode=0o700)
    before = {p for parent in ("/tmp", str(tmp)) for p in Path(parent).glob(f"{services.PREFIX}*")}
    result = run(["bash", "run_all_benchmarks.sh", "--quick", "--no-production", "--pyperformance", "none",
                  "--instruction-rounds", "1"], cwd=repo, timeout=900, TMPDIR=str(tmp))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\[services\] PostgreSQL \d+\.\d+ ready in", result.stdout)
    summary = (repo / "results" / "summary.txt").read_text()
    assert "services: PostgreSQL" in summary and "Redis" in summary
    # Recorded: every network call grows the trace; instructions counted per call.
    data = parse.load(repo / "results")
    growth = data.benchmarks[0].trace_growth["retrace"]
    assert len(growth) == 8 and all(s2 > s1 for _, s1, _, s2 in growth.values())
    assert "network: PostgreSQL SELECT by key" in summary and "## Instructions per call" in summary
    # Replayed with the servers stopped, each test alone: the summary says what happened.
    assert re.search(r"replay without the services, network \(retrace\), each test recorded alone, "
                     r"PostgreSQL and Redis stopped: \d of 8 identical", summary)
    assert facts.SPEC_QUERY_TEST in summary and "5 ms database query" in summary
    # Nothing left: no server, no data directory, no recording.
    after = {p for parent in ("/tmp", str(tmp)) for p in Path(parent).glob(f"{services.PREFIX}*")}
    assert after == before
    assert not processes_under(tmp) and not processes_under("retrace-services.")
    assert not [p for p in tmp.rglob("*") if p.suffix == ".retrace"]
    assert not list(tmp.iterdir())
