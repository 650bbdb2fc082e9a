"""retrace_bench/services.py with the real servers (Debian's postgresql and redis-server): started
private and seeded, stopped and removed on every way out (kill -9 of the owner included), and a
server that does not start is one line with its own last words."""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, needs_servers, processes_under, run
from retrace_bench import facts, procs, services



def service_dirs() -> set[Path]:
    return {p for parent in services.parents() for p in Path(parent).glob(f"{services.PREFIX}*")}


def alive(pid: int) -> bool:
    return procs.start_time(pid) is not None and not procs.is_zombie(pid)


def test_unknown_service_names_are_one_line_exit_2():
    result = run([sys.executable, "-m", "retrace_bench.services", "--services", "postgres,mysql", "--", "true"])
    assert result.returncode == 2 and "unknown service mysql" in result.stderr and "Traceback" not in result.stderr
    result = run([sys.executable, "-m", "retrace_bench.services", "--services", "redis"])
    assert result.returncode == 2 and "no command" in result.stderr


def test_a_missing_server_names_its_package_and_the_one_command():
    original = services.BINARIES["redis"]
    services.BINARIES["redis"] = lambda: None
    try:
        assert services.missing("redis") == ("Redis is not installed (Debian's redis-server: "
                                              "sudo apt-get install redis-server)")
        lines = []
        with services.provided(["redis"], progress=lines.append) as status:
            assert status == {"redis": {"skipped": services.missing("redis")}}
            assert "REDIS_URL" not in os.environ or os.environ["REDIS_URL"] != ""
        assert lines == [f"[services] Redis skipped: {services.missing('redis')}"]
    finally:
        services.BINARIES["redis"] = original


def test_a_server_that_exits_is_one_line_with_its_last_log_line(tmp_path):
    (tmp_path / services.LOG_FILE).write_text("")
    process = services.launch("redis", ["sh", "-c", "echo starting; echo 'FATAL: could not bind 127.0.0.1' >&2; exit 3"],
                              tmp_path, os.getuid(), os.getgid())
    try:
        with pytest.raises(services.ServiceError) as raised:
            services.wait_ready("redis", process, tmp_path, lambda: False)
    finally:
        procs.stop(process)
    assert str(raised.value) == "Redis did not start (exit 3): FATAL: could not bind 127.0.0.1"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root's private TMPDIR is out of the servers' reach")
def test_a_private_tmpdir_of_roots_sends_the_servers_to_tmp(tmp_path, monkeypatch):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr("tempfile.tempdir", None)
    _, uid, gid = services.service_user("postgres")
    assert not services.reachable(str(private), uid, gid) and services.reachable("/tmp", uid, gid)
    directory = services.owned_directory("postgres", uid, gid)
    try:
        assert directory.parent == Path("/tmp")
        info = directory.stat()
        assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == uid
    finally:
        services.stop_directory(directory)
    assert not directory.exists()


@pytest.mark.slow
@needs_servers
def test_the_servers_are_private_seeded_and_gone_afterwards():
    import psycopg2
    import redis
    before = service_dirs()
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL")}
    with services.provided(list(facts.SERVICE_TITLES), progress=lambda line: None, strict=True) as status:
        assert set(status) == {"postgres", "redis"} and all(s["version"][0].isdigit() for s in status.values())
        if os.geteuid() == 0:                   # PostgreSQL refuses root: its package's own account
            assert status["postgres"]["user"] == "postgres"
        directories = service_dirs() - before
        assert len(directories) == 2
        for directory in directories:
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        connection = psycopg2.connect(os.environ["DATABASE_URL"])
        cursor = connection.cursor()
        cursor.execute("SELECT count(*), min(length(v)), max(length(v)) FROM kv")
        assert cursor.fetchone() == (facts.SEED_ROWS, facts.SEED_VALUE_BYTES, facts.SEED_VALUE_BYTES)
        connection.close()
        for url in (os.environ["REDIS_URL"], os.environ["REDIS_SOCKET_URL"]):
            client = redis.Redis.from_url(url)
            assert client.dbsize() == facts.SEED_ROWS and len(client.get("key:421")) == facts.SEED_VALUE_BYTES
            client.close()
        pids = [int(d.joinpath(services.PID_FILE).read_text().split()[0]) for d in directories]
        host, port = os.environ["DATABASE_URL"].rsplit("@", 1)[1].split("/")[0].split(":")
        assert host == "127.0.0.1"
    assert not any(alive(pid) for pid in pids)
    assert not any(d.exists() for d in directories)
    assert {k: os.environ.get(k) for k in saved} == saved
    with pytest.raises(OSError):                # nothing listens where PostgreSQL was
        socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()


def wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.slow
@needs_servers
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_servers_die_with_their_owner_and_the_next_run_removes_what_is_left(tmp_path, how):
    before = service_dirs()
    ready = tmp_path / "ready"
    stderr = (tmp_path / "stderr").open("w")     # a file: a pipe would wait for every process that inherited it
    owner = subprocess.Popen([sys.executable, "-m", "retrace_bench.services", "--", "sh", "-c", f"touch {ready}; exec sleep 120"],
                             cwd=ROOT, stderr=stderr, text=True)
    try:
        assert wait_for(ready.exists), "the services did not start"
        directories = service_dirs() - before
        pids = [int(d.joinpath(services.PID_FILE).read_text().split()[0]) for d in directories]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        owner.send_signal(how)
        owner.wait(30)
        assert wait_for(lambda: not any(alive(pid) for pid in pids), 15), "a server outlived its owner"
        assert wait_for(lambda: not processes_under(f"touch {ready}"), 15), "the command outlived its owner"
        if how == signal.SIGTERM:               # its own cleanup ran: exit 130, nothing left
            assert owner.returncode == 130 and "Traceback" not in (tmp_path / "stderr").read_text()
            assert not any(d.exists() for d in directories)
        else:                                   # killed: its directories wait for the next run
            assert all(d.exists() for d in directories)
            assert services.remove_stale() >= 2
            assert not any(d.exists() for d in directories)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        stderr.close()
        subprocess.run(["pkill", "-f", f"touch {ready}"], check=False)


@pytest.mark.slow
@needs_servers
def test_the_command_gets_the_variables_and_its_exit_status_is_passed_back():
    result = run([sys.executable, "-m", "retrace_bench.services", "--services", "redis", "--",
                  "sh", "-c", 'case "$REDIS_URL" in redis://127.0.0.1:*) exit 7;; esac; exit 1'])
    assert result.returncode == 7, result.stderr
    assert "Redis" in result.stderr and "ready in" in result.stderr and "PostgreSQL" not in result.stderr


# --------------------------------------------------------------------------- --services for a user's command
from retrace_bench import commands, driver  # noqa: E402
from retrace_bench.production import run as production_run  # noqa: E402


def test_the_placeholders_are_filled_from_the_servers_variables_and_quoted():
    variables = {"DATABASE_URL": "postgresql://bench@127.0.0.1:5/bench", "REDIS_URL": "redis://127.0.0.1:6/0"}
    argv = commands.split_command("{python} job.py --db {postgres_url} --cache {redis_url} --port {port}", "py", 8,
                                  variables)
    assert argv == ["py", "job.py", "--db", variables["DATABASE_URL"], "--cache", variables["REDIS_URL"], "--port", "8"]
    assert commands.placeholder_problem("{python} job.py {redis_url}", []) == \
        "the command has {redis_url}: add --services redis"
    assert commands.placeholder_problem("{python} job.py {redis_url}", ["redis"]) is None


@pytest.mark.parametrize("argv, words", [
    (["--services", "redis"], "--services starts servers for --program commands"),
    (["--program", "{python} job.py {postgres_url}"], "add --services postgres"),
    (["--services", "mysql", "--program", "{python} job.py"], "unknown service mysql"),
])
def test_the_drivers_services_option_is_refused_where_it_cannot_apply(argv, words, capsys):
    with pytest.raises(SystemExit) as raised:
        driver.parse_args(argv)
    assert raised.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--services", "redis", "--path", "/x"], "it needs --app-cmd"),
    (["--app-cmd", "{python} app.py {port} {redis_url}", "--path", "/x"], "add --services redis"),
])
def test_the_production_benchmarks_services_option_is_refused_where_it_cannot_apply(argv, words, capsys):
    with pytest.raises(SystemExit) as raised:
        production_run.parse_args(argv)
    assert raised.value.code == 2 and words in capsys.readouterr().err


JOB = """
import sys, psycopg2
connection = psycopg2.connect(sys.argv[1])
cursor = connection.cursor()
cursor.execute("SELECT count(*) FROM log")
(before,) = cursor.fetchone()
cursor.execute("INSERT INTO log (v) VALUES ('this process was here')")
connection.commit()
print("rows before:", before)
sys.exit(0 if before == 0 else 3)            # a database another process wrote to: not fresh
"""


@pytest.mark.slow
@needs_servers
def test_a_program_with_services_gets_fresh_servers_for_each_process(tmp_path):
    (tmp_path / "job.py").write_text(JOB)
    before = service_dirs()
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--quick", "--no-synthetic", "--no-production",
                  "--pyperformance", "none", "--services", "postgres", "--program", "{python} job.py {postgres_url}",
                  "--results", str(tmp_path / "results")], cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    import json
    data = json.loads((tmp_path / "results" / "programs.json").read_text())
    runs = [r for item in data["programs"] for r in item["runs"]]
    assert len(runs) >= 4 and not [r for r in runs if r.get("failure")]
    assert service_dirs() == before                 # every process's servers stopped and removed


def test_the_summary_says_which_servers_ran_and_why_the_others_did_not():
    from retrace_bench.ops.report import services_lines
    status = {"postgres": {"version": "15.18", "user": "postgres"},
              "redis": {"skipped": "Redis is not installed (Debian's redis-server: sudo apt-get install redis-server)"}}
    assert services.started(status) == ["postgres"]
    lines = services_lines(status)
    assert lines[0].startswith("  services: PostgreSQL 15.18 (as postgres): private servers on 127.0.0.1")
    assert lines[1:] == ["  NOT RUN: the Redis tests: Redis is not installed (Debian's redis-server: "
                         "sudo apt-get install redis-server)"]
    assert services_lines({}) == []
