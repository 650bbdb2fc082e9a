"""run_all_benchmarks.sh end to end in a copy of the repository, with a copied template."""

import shutil
from pathlib import Path

import pytest

import analyze_results as ar
from conftest import ROOT, run

FILES = ["run_all_benchmarks.sh", "benchlib.py", "analyze_results.py", "synthetic_benchmark.py",
         "external_boundary_benchmark.py", "benchmark_template.py", "production_benchmark.py",
         "requirements.txt", "scripts", "selfcheck", "apps"]


def copy_repo(repo):
    """The suite's files in `repo`, sharing this checkout's .venv."""
    repo.mkdir(exist_ok=True)
    for name in FILES:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, repo / name)
    (repo / ".venv").symlink_to(ROOT / ".venv")
    return repo


@pytest.fixture(scope="module")
def driver_run(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    shutil.copy2(repo / "benchmark_template.py", repo / "mine_benchmark.py")
    tmp_before = set(Path("/tmp").glob("retrace-bench.*"))
    result = run(["bash", "run_all_benchmarks.sh", "--quick", "--rounds", "1"], cwd=repo, timeout=600)
    return repo, result, tmp_before


def test_driver_succeeds_and_reports_progress(driver_run):
    repo, result, _ = driver_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "[round 1/1] mine_benchmark.py" in result.stdout
    assert "Python: 3." in result.stdout


def test_summary_has_every_benchmark_including_the_copied_template(driver_run):
    repo, _, _ = driver_run
    summary = (repo / "results" / "summary.txt").read_text()
    assert "## Internal code" in summary and "## External boundaries" in summary
    assert "## mine - mine_benchmark.py" in summary
    assert "## Production benchmark" in summary and "/api/orders/7" in summary
    assert "Test 1: my operation" in summary
    for name in ("internal", "external", "mine"):
        for suffix in ("baseline", "retrace", "trace", "replay"):
            assert (repo / "results" / f"{name}_{suffix}.txt").is_file()


def test_every_recorded_process_verified_its_trace(driver_run):
    repo, _, _ = driver_run
    for name in ("internal", "external", "mine"):
        processes, failure = ar.parse_output_file(repo / "results" / f"{name}_retrace.txt")
        assert failure is None
        assert all(p.recording.startswith("ON -> ") and p.trace_bytes for p in processes)


def test_no_recording_or_scratch_is_left_behind(driver_run):
    repo, _, tmp_before = driver_run
    assert not list(repo.rglob("*.retrace"))
    assert set(Path("/tmp").glob("retrace-bench.*")) == tmp_before


def test_the_run_is_archived_with_a_manifest(driver_run):
    repo, _, _ = driver_run
    archives = list((repo / "results" / "archive").iterdir())
    assert len(archives) == 1 and archives[0].name.startswith("v0.2.30_")
    assert (archives[0] / "summary.txt").is_file() and (archives[0] / "manifest.json").is_file()


def test_a_crashing_benchmark_is_failed_and_the_others_still_run(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    for name in ("synthetic_benchmark.py", "external_boundary_benchmark.py"):
        (repo / name).unlink()
    template = (repo / "benchmark_template.py").read_text()
    (repo / "ok_benchmark.py").write_text(template)
    (repo / "crash_benchmark.py").write_text(template.replace(
        '    sum(range(10))', '    import os\n    if os.environ.get("RETRACE"):\n        raise SystemExit("boom")'))
    result = run(["bash", "run_all_benchmarks.sh", "--quick", "--rounds", "1", "--no-production"],
                 cwd=repo, timeout=600)
    assert result.returncode != 0
    summary = (repo / "results" / "summary.txt").read_text()
    assert "FAILED: round 1 retrace run: exit status 1: boom" in summary
    assert "## ok - ok_benchmark.py" in summary and "Test 1: my operation" in summary


def test_help_and_bad_options():
    assert run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--help"]).returncode == 0
    bad = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--rounds", "x"])
    assert bad.returncode == 2 and "error: --rounds" in bad.stderr
