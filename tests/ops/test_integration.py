"""The real scripts, plainly and under the real retracesoftware, with small iteration counts."""

import sys
from pathlib import Path

import pytest

import analyze_results as ar
from retrace_bench.ops import parse
from conftest import ROOT, run

#: Every test here starts real processes (docs/development.md: the fast loop leaves them out).
pytestmark = pytest.mark.slow

SCRIPTS = {"synthetic_benchmark.py": "internal", "external_boundary_benchmark.py": "external"}


def bench(script, *args, cwd=ROOT, **env):
    result = run([sys.executable, str(ROOT / script), "--quick", *args], cwd=cwd, **env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Each built-in script run once plainly and once with the spec's command line."""
    directory = tmp_path_factory.mktemp("results")
    recordings = tmp_path_factory.mktemp("recordings")
    sizes = {}
    for script, name in SCRIPTS.items():
        (directory / f"{name}_baseline.txt").write_text(bench(script))
        recording = recordings / f"{name}.retrace"
        (directory / f"{name}_retrace.txt").write_text(
            bench(script, RETRACE="1", RETRACE_RECORDING_PATH=str(recording)))
        sizes[name] = recording.stat().st_size
    return directory, recordings, sizes


def test_plain_runs_say_recording_off(outputs):
    directory, _, _ = outputs
    for name in SCRIPTS.values():
        text = (directory / f"{name}_baseline.txt").read_text()
        assert "\nRecording: OFF\n" in text
        for field in ("Python: ", "OS: ", "CPU count: ", "Timestamp: ", "retracesoftware: "):
            assert f"\n{field}" in text


def test_spec_command_line_leaves_a_real_recording_at_that_path(outputs):
    directory, recordings, sizes = outputs
    for name in SCRIPTS.values():
        path = recordings / f"{name}.retrace"
        assert f"Recording: ON -> {path}" in (directory / f"{name}_retrace.txt").read_text()
        assert sizes[name] > 20_000     # an empty recording is ~13 KB; these record clock reads


def test_both_outputs_parse_and_the_summary_has_every_test(outputs):
    directory, _, _ = outputs
    assert ar.main([str(directory)]) == 0
    summary = (directory / "summary.txt").read_text()
    for name in SCRIPTS.values():
        path = directory / f"{name}_baseline.txt"
        tests = parse.parse_text(path.read_text(), path)[0][0].tests
        assert len(tests) == 7
        for test in tests:
            assert f"Test {test.number}: {test.name}" in summary


def test_recording_path_that_is_a_directory(tmp_path):
    out = bench("synthetic_benchmark.py", "--only", "3", RETRACE="1", RETRACE_RECORDING_PATH=str(tmp_path))
    assert (tmp_path / "synthetic_benchmark.retrace").is_file()
    assert f"Recording: ON -> {tmp_path / 'synthetic_benchmark.retrace'}" in out


def test_package_variable_records_too(tmp_path):
    bench("synthetic_benchmark.py", "--only", "3", RETRACE_RECORDING=str(tmp_path / "p.retrace"))
    assert (tmp_path / "p.retrace").is_file()


def test_spec_command_line_works_from_another_directory(tmp_path):
    bench("synthetic_benchmark.py", "--only", "1", cwd=tmp_path,
          RETRACE="1", RETRACE_RECORDING_PATH=str(tmp_path / "elsewhere.retrace"))
    assert (tmp_path / "elsewhere.retrace").is_file()
    assert not list(tmp_path.glob("synthetic_benchmark.retrace"))


def test_trace_grows_with_the_number_of_recorded_calls(tmp_path):
    sizes = []
    for calls in (100, 1100):
        path = tmp_path / f"{calls}.retrace"
        bench("synthetic_benchmark.py", "--only", "1", "--iterations", str(calls), "--runs", "1",
              "--warmup", "0", RETRACE="1", RETRACE_RECORDING_PATH=str(path))
        sizes.append(path.stat().st_size)
    assert sizes[1] - sizes[0] >= 1000 * 20      # time.time() is recorded: ~25 bytes per call


def test_recording_that_cannot_start_exits_non_zero_saying_why(tmp_path):
    result = run([sys.executable, str(ROOT / "synthetic_benchmark.py"), "--quick"],
                 RETRACE="1", RETRACE_RECORDING_PATH=str(tmp_path / "no" / "such" / "x.retrace"))
    assert result.returncode != 0
    assert "error: cannot record" in result.stderr and "Traceback" not in result.stderr
    assert "Recording: OFF" not in result.stdout


def test_bad_arguments_exit_2_without_traceback():
    result = run([sys.executable, str(ROOT / "synthetic_benchmark.py"), "--runs", "zero"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert run([sys.executable, str(ROOT / "synthetic_benchmark.py"), "--help"]).returncode == 0


def test_replay_of_a_recording_prints_the_same_text(tmp_path):
    recording = tmp_path / "s.retrace"
    recorded = bench("synthetic_benchmark.py", "--only", "1", RETRACE="1", RETRACE_RECORDING_PATH=str(recording))
    replay = Path(sys.executable).parent / "replay"
    run([str(replay), "--recording", str(recording), "--extract", str(tmp_path / "x")])
    pidfile = next((tmp_path / "x").glob("*.bin"))
    replayed = run([str(replay), str(pidfile), "--read_timeout", "10"]).stdout
    from benchlib import LIVE_LINE_PREFIXES     # CPU lines are measured live, in replay too
    strip = lambda text: [line for line in text.splitlines() if not line.startswith(LIVE_LINE_PREFIXES)]
    assert strip(replayed) == strip(recorded)


def test_the_json_record_goes_to_the_descriptor_the_manager_passes(tmp_path):
    """The process hands its record over a descriptor, plain and recorded; printing cannot change it."""
    import json
    import os
    import subprocess
    from conftest import clean_env
    for extra in ({}, {"RETRACE": "1", "RETRACE_RECORDING_PATH": str(tmp_path / "r.retrace")}):
        path = tmp_path / "record.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            subprocess.run([sys.executable, str(ROOT / "synthetic_benchmark.py"), "--quick", "--only", "1", "--runs", "3"],
                           env=clean_env(RETRACE_BENCH_RECORD_FD=str(fd), **extra), pass_fds=(fd,),
                           capture_output=True, check=True, timeout=120)
        finally:
            os.close(fd)
        record = parse.ProcessRecord.from_json(json.loads(path.read_text()))
        assert record.mode == ("record" if extra else "plain")
        assert record.tests[0].name == "time.time()" and len(record.tests[0].runs) == 3
        assert all(r.cpu_ms is not None for r in record.tests[0].runs)


def test_a_script_that_prints_at_import_time_prints_once_when_recorded(tmp_path):
    """The re-execution under Retrace happens when the script makes its Suite, before the rest of
    the script runs: what it prints at import time is printed once, not before and after."""
    script = tmp_path / "chatty_benchmark.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from benchlib import INTERNAL, Suite\n"
        "suite = Suite('chatty')\n"
        "print('IMPORT-TIME LINE', flush=True)\n"
        "@suite.test('noop', INTERNAL, iterations=10)\n"
        "def noop(loops):\n"
        "    for _ in range(loops):\n"
        "        pass\n"
        "if __name__ == '__main__':\n"
        "    suite.main()\n")
    recording = tmp_path / "chatty.retrace"
    result = run([sys.executable, str(script), "--runs", "1"], RETRACE="1", RETRACE_RECORDING_PATH=str(recording))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("IMPORT-TIME LINE") == 1 and "Recording: ON" in result.stdout
    assert recording.is_file()
