"""Shared fixtures: the repository root, the real sample outputs, and a way to run the scripts."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
#: The real outputs the tests read (tests/data/README.md says where each came from).
TEST_DATA = TESTS / "data"
SAMPLE = TEST_DATA / "sample"
sys.path.insert(0, str(ROOT))

from retrace_bench.facts import RETRACE_VARIABLES, SUITE_VARIABLES  # noqa: E402


def _missing_load_tools():
    from retrace_bench.production.load import missing_tools
    return missing_tools()


#: A test that puts an app under the production loads needs ab (saturated) and hey (fixed rate).
_load_tools_skip = pytest.mark.skipif(bool(_missing_load_tools()),
                                      reason=f"not installed: {', '.join(_missing_load_tools())}")


def needs_load_tools(test):
    """Puts an app under the real loads: skipped without ab and hey, and slow."""
    return pytest.mark.slow(_load_tools_skip(test))


#: Set by .ci/run, whose test command installs the servers: there a missing server fails its tests
#: instead of skipping them, so that a CI that lost PostgreSQL or Redis cannot pass.
REQUIRE_SERVERS_VARIABLE = "RETRACE_BENCH_REQUIRE_SERVERS"


def _missing_servers() -> list[str]:
    from retrace_bench import facts, services
    return [services.missing(n) for n in facts.SERVICE_TITLES if services.missing(n)]


def needs_servers(test):
    """Starts the real PostgreSQL and Redis: skipped where one is not installed (saying which and
    the apt-get command), except under REQUIRE_SERVERS_VARIABLE, where it runs and fails."""
    missing = _missing_servers()
    if missing and not os.environ.get(REQUIRE_SERVERS_VARIABLE):
        return pytest.mark.skip(reason="; ".join(missing))(test)
    return test


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in RETRACE_VARIABLES + SUITE_VARIABLES}
    env.update(extra)
    return env


def run(args, cwd=ROOT, timeout=300, **env):
    """Run a command with a clean Retrace environment; return the CompletedProcess."""
    return subprocess.run(args, cwd=cwd, env=clean_env(**env), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def sample_dir(tmp_path):
    """A writable copy of the real sample outputs (a quick run of both built-in benchmarks)."""
    target = tmp_path / "results"
    shutil.copytree(SAMPLE, target)
    return target


#: The suite's files an end-to-end test copies into a repository of its own (copy_repo).
FILES = ["run_all_benchmarks.sh", "benchlib.py", "analyze_results.py", "synthetic_benchmark.py",
         "external_boundary_benchmark.py", "benchmark_template.py", "production_benchmark.py",
         "requirements.txt", "scripts", "selfcheck", "apps", "retrace_bench"]


def copy_repo(repo):
    """The suite's files in `repo`, sharing this checkout's .venv."""
    repo.mkdir(exist_ok=True)
    for name in FILES:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(
            source, repo / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if source.is_dir() else {}))
    (repo / ".venv").symlink_to(ROOT / ".venv")
    return repo


def processes_under(path):
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(path) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            pass
    return found
