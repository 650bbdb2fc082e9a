

def test_spec_command_line_works_from_another_directory(tmp_path):
    result = run([sys.executable, str(ROOT / "synthetic_benchmark.py"), "--quick", "--only", "1"], cwd=tmp_path,
                 RETRACE="1", RETRACE_RECORDING_PATH=str(tmp_path / "elsewhere.retrace"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "elsewhere.retrace").is_file()
    assert not list(tmp_path.glob("synthetic_benchmark.retrace"))
