"""Shared fixtures: the repository root, the real sample outputs, and a way to run the scripts."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = Path(__file__).resolve().parent / "data" / "sample"
sys.path.insert(0, str(ROOT))

from retrace_bench.facts import RETRACE_VARIABLES, SUITE_VARIABLES  # noqa: E402


def _missing_load_tools():
    from retrace_bench.production.load import missing_tools
    return missing_tools()


#: A test that puts an app under the production loads needs ab (saturated) and hey (fixed rate).
needs_load_tools = pytest.mark.skipif(bool(_missing_load_tools()),
                                      reason=f"not installed: {', '.join(_missing_load_tools())}")


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
