"""Private PostgreSQL and Redis servers for a run, from Debian's packages (docs/benchmarks.md#network).

Each server gets a private 0700 directory (data, socket, log), a free port on 127.0.0.1 and a Unix
socket, and a seeded data set; under root it runs as its package's own unprivileged account. It is
bound to die with the process that started it (kill -9 included), is stopped and its directory
removed on every way out of `provided`, and a later run removes what a killed run left.

`python -m retrace_bench.services [--services postgres,redis] -- CMD ...` runs any command with them:
DATABASE_URL, REDIS_URL and REDIS_SOCKET_URL tell it where they are; its exit status is passed back."""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from retrace_bench import facts, procs

PREFIX = "retrace-services."
PID_FILE = "server.pid"
LOG_FILE = "server.log"
DATABASE = "bench"


class ServiceError(Exception):
    """A server that is missing or did not start: one line, ending with what the server said."""


@dataclass
class Service:
    name: str
    version: str
    user: str
    directory: Path
    process: subprocess.Popen
    variables: dict[str, str] = field(default_factory=dict)

    def status(self) -> dict:
        return {"version": self.version, "user": self.user}


# --------------------------------------------------------------------------- what is installed
def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian: /usr/lib/postgresql/N/bin)."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "postgres").is_file() and (p / "initdb").is_file()]
    numbers = [(int(p.parent.name), p) for p in found if p.parent.name.isdigit()]
    return max(numbers)[1] if numbers else None


def redis_bin() -> Path | None:
    path = shutil.which("redis-server")
    return Path(path) if path else None


BINARIES = {"postgres": postgres_bin, "redis": redis_bin}


def missing(name: str) -> str | None:
    """Why that server cannot be started here (with the one command that installs it), or None."""
    if BINARIES[name]() is None:
        package = facts.SERVICE_PACKAGES[name]
        return (f"{facts.SERVICE_TITLES[name]} is not installed (Debian's {package}: "
                f"sudo apt-get install {package})")
    return None


def client_problem(name: str) -> str | None:
    """Why this interpreter has no client library for that server (requirements.txt pins it), or None."""
    module = {"postgres": "psycopg2", "redis": "redis"}[name]
    try:
        __import__(module)
    except ImportError as error:
        return f"the {facts.SERVICE_TITLES[name]} client ({module}) is not installed: {error}"
    return None


def service_user(name: str) -> tuple[str, int, int]:
    """(name, uid, gid) the server runs as: this user, or under root the package's own account
    (PostgreSQL refuses to run as root), else nobody."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return entry.pw_name, entry.pw_uid, os.getegid()
    for account in (facts.SERVICE_USERS[name], "nobody"):
        try:
            entry = pwd.getpwnam(account)
        except KeyError:
            continue
        return entry.pw_name, entry.pw_uid, entry.pw_gid
    raise ServiceError(f"{facts.SERVICE_TITLES[name]}: no unprivileged account to run it as "
                       f"({facts.SERVICE_USERS[name]} or nobody)")


# --------------------------------------------------------------------------- directories
def parents() -> list[str]:
    """Where the servers' directories may go: the temporary directory, then /tmp."""
    return list(dict.fromkeys([tempfile.gettempdir(), "/tmp"]))


def reachable(directory: str, uid: int, gid: int) -> bool:
    """Whether that user can enter and write `directory` (and enter every directory above it)."""
    path = Path(directory).resolve()
    for index, part in enumerate([path, *path.parents]):
        try:
            info = part.stat()
        except OSError:
            return False
        needed = 0o3 if index == 0 else 0o1           # write and enter the parent; enter the rest
        if uid == 0:
            continue
        shift = 6 if info.st_uid == uid else 3 if info.st_gid == gid else 0
        if (info.st_mode >> shift) & needed != needed:
            return False
    return True


def owned_directory(name: str, uid: int, gid: int) -> Path:
    """A new 0700 directory owned by the server's user, in the first parent that user can reach (a
    private 0700 TMPDIR of root's is not: then /tmp), with the owner file of this process."""
    for parent in parents():
        if reachable(parent, uid, gid):
            directory = procs.make_private_dir(f"{PREFIX}{name}.", parent)
            for path in (directory, *directory.iterdir()):
                os.chown(path, uid, gid)
            return directory
    raise ServiceError(f"{facts.SERVICE_TITLES[name]}: none of {', '.join(parents())} can be written by "
                       f"the account it runs as (uid {uid}); set TMPDIR to a directory it can write")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(directory: Path) -> dict:
    """A server's whole environment: no Retrace or suite variable, no recording, a C locale."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(directory), "LC_ALL": "C", "TZ": "UTC"}


def last_line(path: Path) -> str:
    lines = [line.strip() for line in procs.read_output(path).splitlines() if line.strip()]
    return lines[-1] if lines else "(it wrote nothing)"


def run_as(argv: list, uid: int, gid: int, directory: Path, what: str, timeout: float = facts.SERVICE_START_TIMEOUT_S) -> str:
    """Run one setup command as the server's user; its output, or a ServiceError with its last line."""
    try:
        done = subprocess.run([str(a) for a in argv], env=server_env(directory), cwd=directory, capture_output=True, text=True,
                              timeout=timeout, preexec_fn=(lambda: procs.as_user(uid, gid)) if os.geteuid() == 0 else None)
    except subprocess.TimeoutExpired:
        raise ServiceError(f"{what} did not finish in {timeout:g} s") from None
    if done.returncode:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        raise ServiceError(f"{what} failed (exit {done.returncode}): {lines[-1].strip() if lines else 'no output'}")
    return done.stdout


def launch(name: str, argv: list, directory: Path, uid: int, gid: int) -> subprocess.Popen:
    """The server itself, its output in its log, bound to die with this process; its pid file (pid
    and start time) lets a later run stop it if this process was killed before it could."""
    with open(directory / LOG_FILE, "ab") as log:
        process = procs.start([str(a) for a in argv], server_env(directory), stdout=log, stderr=log, cwd=directory,
                              user=(uid, gid) if os.geteuid() == 0 else None)
    (directory / PID_FILE).write_text(f"{process.pid} {procs.start_time(process.pid)}\n")
    return process


def wait_ready(name: str, process: subprocess.Popen, directory: Path, ready) -> None:
    """Until `ready()` is true; a ServiceError with the server's last log line if it exits or times out."""
    deadline = time.monotonic() + facts.SERVICE_START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise ServiceError(f"{facts.SERVICE_TITLES[name]} did not start (exit {process.returncode}): "
                               f"{last_line(directory / LOG_FILE)}")
        try:
            if ready():
                return
        except (OSError, ServiceError):
            pass
        if time.monotonic() > deadline:
            raise ServiceError(f"{facts.SERVICE_TITLES[name]} was not ready in {facts.SERVICE_START_TIMEOUT_S:g} s: "
                               f"{last_line(directory / LOG_FILE)}")
        time.sleep(0.05)


def version_of(argv: list) -> str:
    text = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"(?:PostgreSQL\)\s*|v=)(\d+(?:\.\d+)+)", text)
    return match.group(1) if match else text.strip() or "unknown"


# --------------------------------------------------------------------------- the servers
def start_postgres() -> Service:
    """initdb (trust on 127.0.0.1 and the socket only: nothing else can reach it), the server, the
    database `bench` with table kv (SEED_ROWS rows of SEED_VALUE_BYTES) and an empty table log."""
    binaries = postgres_bin()
    user, uid, gid = service_user("postgres")
    directory = owned_directory("postgres", uid, gid)
    try:
        data, port = directory / "data", free_port()
        run_as([binaries / "initdb", "-D", data, "-U", DATABASE, "--auth=trust", "-E", "UTF8", "--locale=C",
                "--no-sync"], uid, gid, directory, "PostgreSQL's initdb")
        process = launch("postgres", [binaries / "postgres", "-D", data, "-p", port, "-k", directory,
                                      "-c", "listen_addresses=127.0.0.1", "-c", "synchronous_commit=off",
                                      "-c", "max_connections=20", "-c", "shared_buffers=32MB"],
                         directory, uid, gid)
        psql = [binaries / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", directory, "-p", port, "-U", DATABASE]
        wait_ready("postgres", process, directory,
                   lambda: run_as([*psql, "-d", "postgres", "-c", "SELECT 1"], uid, gid, directory, "psql", 5) is not None)
        run_as([*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}"], uid, gid, directory, "creating the database")
        run_as([*psql, "-d", DATABASE, "-c",
                f"CREATE TABLE kv (k integer PRIMARY KEY, v text NOT NULL); "
                f"INSERT INTO kv SELECT g, repeat('v', {facts.SEED_VALUE_BYTES}) FROM generate_series(0, {facts.SEED_ROWS - 1}) g; "
                f"CREATE TABLE log (id bigserial PRIMARY KEY, v text NOT NULL); ANALYZE"],
               uid, gid, directory, "seeding the database")
    except BaseException:
        stop_directory(directory)
        raise
    url = f"postgresql://{DATABASE}@127.0.0.1:{port}/{DATABASE}"
    return Service("postgres", version_of([binaries / "postgres", "--version"]), user, directory, process,
                   {"DATABASE_URL": url})


def redis_command(*words: str) -> bytes:
    """One command in Redis's protocol (RESP)."""
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def redis_exchange(port: int, payload: bytes, replies: int) -> list[bytes]:
    """Send commands, read `replies` simple replies (one line each)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(payload)
        buffer = b""
        while buffer.count(b"\r\n") < replies:
            chunk = connection.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            buffer += chunk
    return buffer.split(b"\r\n")[:replies]


def start_redis() -> Service:
    """The server with no persistence, TCP on 127.0.0.1 and a Unix socket, SEED_ROWS keys key:N."""
    binary = redis_bin()
    user, uid, gid = service_user("redis")
    directory = owned_directory("redis", uid, gid)
    try:
        port, sock = free_port(), directory / "redis.sock"
        process = launch("redis", [binary, "--port", port, "--bind", "127.0.0.1", "--unixsocket", sock,
                                   "--unixsocketperm", "700", "--dir", directory, "--save", "", "--appendonly", "no",
                                   "--daemonize", "no"], directory, uid, gid)
        wait_ready("redis", process, directory, lambda: redis_exchange(port, redis_command("PING"), 1) == [b"+PONG"])
        value = "v" * facts.SEED_VALUE_BYTES
        seed = b"".join(redis_command("SET", f"key:{n}", value) for n in range(facts.SEED_ROWS))
        if any(reply != b"+OK" for reply in redis_exchange(port, seed, facts.SEED_ROWS)):
            raise ServiceError("Redis refused the seed data")
    except BaseException:
        stop_directory(directory)
        raise
    return Service("redis", version_of([binary, "--version"]), user, directory, process,
                   {"REDIS_URL": f"redis://127.0.0.1:{port}/0", "REDIS_SOCKET_URL": f"unix://{sock}?db=0"})


STARTERS = {"postgres": start_postgres, "redis": start_redis}


def stop_directory(directory: Path) -> None:
    """Stop the server whose pid file is in `directory` (if it is still that process) and remove it."""
    try:
        pid, started = (directory / PID_FILE).read_text().split()
        if procs.start_time(int(pid)) == started:
            os.killpg(int(pid), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    shutil.rmtree(directory, ignore_errors=True)


def stop(service: Service) -> None:
    """The server stopped (SIGTERM, then SIGKILL after the grace), its directory removed."""
    try:
        procs.stop(service.process)
    finally:
        shutil.rmtree(service.directory, ignore_errors=True)


def remove_stale() -> int:
    """Stop the servers and remove the directories of runs that were killed (their owner process is
    gone): only this suite's directories. Returns how many were removed."""
    removed = 0
    for parent in parents():
        root = Path(parent)
        for path in root.iterdir() if root.is_dir() else ():
            if not path.name.startswith(PREFIX) or not path.is_dir():
                continue
            try:
                pid, started = (path / procs.OWNER_FILE).read_text().split()
            except (OSError, ValueError):
                continue
            if procs.start_time(int(pid)) != started:
                stop_directory(path)
                removed += 1
    return removed


# --------------------------------------------------------------------------- for a run
def start(name: str, progress=print) -> Service:
    problem = missing(name)
    if problem:
        raise ServiceError(problem)
    began = time.monotonic()
    service = STARTERS[name]()
    progress(f"[services] {facts.SERVICE_TITLES[name]} {service.version} ready in {time.monotonic() - began:.1f} s "
             f"(as {service.user}, in a private directory, seeded with {facts.SEED_ROWS} "
             f"{'rows' if name == 'postgres' else 'keys'} of {facts.SEED_VALUE_BYTES} B)")
    return service


def started(status: dict) -> list[str]:
    """The names of the servers that `provided`'s status says started (the others say why not)."""
    return [name for name, entry in status.items() if "skipped" not in entry]


@contextmanager
def provided(names, progress=print, strict: bool = False):
    """The servers `names` for the duration, their variables set in os.environ (and removed after).
    Yields {name: Service.status() | {"skipped": why}}: one that is missing or fails is skipped with
    one line, unless `strict` (then a ServiceError). Stopped and removed however the block ends."""
    status, saved = {}, {}
    with ExitStack() as stack:
        for name in names:
            try:
                service = start(name, progress)
            except ServiceError as error:
                if strict:
                    raise
                progress(f"[services] {facts.SERVICE_TITLES[name]} skipped: {error}")
                status[name] = {"skipped": str(error)}
                continue
            stack.callback(stop, service)
            status[name] = service.status()
            for key, value in service.variables.items():
                saved.setdefault(key, os.environ.get(key))
                os.environ[key] = value
        try:
            yield status
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@contextmanager
def for_each_process(names):
    """Fresh servers for one process of a user's command (--program, --app-cmd with --services), so
    that what one arm wrote cannot change what the next one reads. Yields their variables (for the
    process's environment and its command's placeholders), exported nowhere: two processes counted
    side by side each have their own. A server that does not start is a ServiceError."""
    with ExitStack() as stack:
        variables = {}
        for name in names:
            service = start(name, progress=lambda line: None)
            stack.callback(stop, service)
            variables.update(service.variables)
        yield variables


def parse_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in facts.SERVICE_TITLES]
    if unknown or not names:
        raise ValueError(f"unknown service {', '.join(unknown) or '(none given)'}: the services are "
                         f"{', '.join(facts.SERVICE_TITLES)}")
    return list(dict.fromkeys(names))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m retrace_bench.services",
        description="Run CMD with private PostgreSQL and Redis servers (Debian's packages), started for it and "
                    "stopped and removed when it ends: DATABASE_URL, REDIS_URL and REDIS_SOCKET_URL tell it where "
                    "they are; its exit status is passed back (docs/benchmarks.md#network).")
    parser.add_argument("--services", default=",".join(facts.SERVICE_TITLES), metavar="NAMES",
                        help=f"comma-separated, of {', '.join(facts.SERVICE_TITLES)} (default: all)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        names = parse_names(args.services)
    except ValueError as error:
        parser.error(str(error))
    if not command:
        parser.error("no command: give one after --")
    if not shutil.which(command[0]):
        print(f"error: {command[0]}: not found", file=sys.stderr)
        return 127
    procs.absolute_tmpdir()                     # TMPDIR=. : the servers run in their own directories
    remove_stale()
    try:
        with procs.managed(reap=True), provided(names, progress=lambda line: print(line, file=sys.stderr), strict=True):
            child = subprocess.Popen(command, preexec_fn=procs.die_with_parent)   # dies with this process too
            try:
                return child.wait()
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:                    # found, but not executable
        print(f"error: {command[0]}: {error.strerror}", file=sys.stderr)
        return 126
    except KeyboardInterrupt:
        print("\ninterrupted: the servers were stopped and removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
