"""Recording detection and where a requested recording goes."""

import os

import benchlib


def test_plain_process():
    assert benchlib.recording_state(["python", "x.py"]).mode == "plain"


def test_recorded_process_and_its_path(tmp_path):
    argv = ["python", "-m", "retracesoftware", "--recording", str(tmp_path / "a.retrace"), "--", "x.py"]
    state = benchlib.recording_state(argv)
    assert state.mode == "record" and state.path == str(tmp_path / "a.retrace")
    assert state.header_line() == f"Recording: ON -> {tmp_path / 'a.retrace'}"


def test_hook_style_command_line():
    argv = ["python", "-m", "retracesoftware", "--recording", "/r/x.retrace", "--queue_capacity",
            "65536", "--", "x.py", "--quick"]
    assert benchlib.recording_state(argv).path == "/r/x.retrace"


def test_replay_has_no_double_dash():
    argv = ["python", "-m", "retracesoftware", "--recording", "/r/123.bin", "--read_timeout", "10"]
    assert benchlib.recording_state(argv).mode == "replay"
    assert benchlib.recording_state(argv).header_line() == "Recording: REPLAY"


def test_requested_path_from_the_spec_variable(tmp_path):
    env = {"RETRACE": "1", "RETRACE_RECORDING_PATH": str(tmp_path / "rec")}
    assert benchlib.requested_recording_path("dir/synthetic_benchmark.py", env) == str(tmp_path / "rec")


def test_requested_path_that_is_a_directory(tmp_path):
    env = {"RETRACE": "1", "RETRACE_RECORDING_PATH": str(tmp_path)}
    assert benchlib.requested_recording_path("synthetic_benchmark.py", env) == \
        str(tmp_path / "synthetic_benchmark.retrace")


def test_spec_variable_wins_over_the_package_variable(tmp_path):
    env = {"RETRACE_RECORDING": str(tmp_path / "pkg"), "RETRACE_RECORDING_PATH": str(tmp_path / "spec")}
    assert benchlib.requested_recording_path("x.py", env) == str(tmp_path / "spec")
    assert benchlib.requested_recording_path("x.py", {"RETRACE_RECORDING": "/p/r"}) == "/p/r"


def test_retrace_alone_records_next_to_the_working_directory():
    assert benchlib.requested_recording_path("a/b_benchmark.py", {"RETRACE": "yes"}) == \
        os.path.abspath("b_benchmark.retrace")


def test_no_recording_asked():
    assert benchlib.requested_recording_path("x.py", {}) is None
    assert benchlib.requested_recording_path("x.py", {"RETRACE": "0"}) is None
