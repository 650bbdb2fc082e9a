"""External boundaries: operations the spec says Retrace intercepts (spec Category B).

The spec's two tests (os.environ.get() and a file open()+read()) plus a file write, two system
state queries (os.stat, os.getpid), a sqlite3 query and a loopback TCP round trip to an echo
server in a separate, never-recorded process. Each test measures one operation in isolation.
"""

import os
import socket
import sqlite3
import tempfile
from contextlib import contextmanager
from itertools import repeat

from benchlib import BOUNDARY, Suite, helper_server

suite = Suite(__doc__.splitlines()[0])


@contextmanager
def scratch_file(size=1024):
    """A private temporary file of `size` bytes, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="retrace-bench-") as directory:
        path = os.path.join(directory, "data.txt")
        with open(path, "w") as f:
            f.write("x" * size)
        yield path


@suite.test("os.environ.get()", BOUNDARY, iterations=20000)
def environ_get(loops):
    for _ in repeat(None, loops):
        os.environ.get("HOME")


@suite.test("file open()+read() 1 KiB", BOUNDARY, iterations=500, fixture=scratch_file)
def file_read(loops, path):
    for _ in repeat(None, loops):
        with open(path) as f:
            f.read()


@suite.test("file open()+write() 1 KiB", BOUNDARY, iterations=500, fixture=scratch_file)
def file_write(loops, path, data="y" * 1024):
    # "r+" overwrites in place: "w" would truncate, and ext4 then flushes to disk on close.
    for _ in repeat(None, loops):
        with open(path, "r+") as f:
            f.write(data)


@suite.test("os.stat()", BOUNDARY, iterations=500, fixture=scratch_file)
def stat(loops, path):
    for _ in repeat(None, loops):
        os.stat(path)


@suite.test("os.getpid()", BOUNDARY, iterations=1000)
def getpid(loops):
    for _ in repeat(None, loops):
        os.getpid()


@contextmanager
def sqlite_database(rows=1000):
    """A seeded sqlite3 file database in a private temporary directory."""
    with tempfile.TemporaryDirectory(prefix="retrace-bench-") as directory:
        connection = sqlite3.connect(os.path.join(directory, "bench.db"))
        connection.execute("CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)")
        connection.executemany("INSERT INTO kv VALUES (?, ?)",
                               ((k, f"value-{k}") for k in range(rows)))
        connection.commit()
        try:
            yield connection
        finally:
            connection.close()


@suite.test("sqlite3 SELECT by primary key", BOUNDARY, iterations=300, fixture=sqlite_database)
def sqlite_query(loops, connection):
    for _ in repeat(None, loops):
        connection.execute("SELECT v FROM kv WHERE k = ?", (421,)).fetchone()


ECHO_SERVER = """
import socket, sys
server = socket.create_server(("127.0.0.1", 0))
server.settimeout(60)  # never outlive a benchmark that died before connecting
print(server.getsockname()[1], flush=True)
connection, _ = server.accept()
while data := connection.recv(65536):
    connection.sendall(data)
"""


@contextmanager
def echo_connection():
    """A TCP connection to an echo server on 127.0.0.1 in a child process that is never recorded."""
    with helper_server(ECHO_SERVER) as port, socket.create_connection(("127.0.0.1", port)) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        yield connection


@suite.test("loopback TCP round trip (64 B)", BOUNDARY, iterations=300, fixture=echo_connection)
def tcp_round_trip(loops, connection, message=b"p" * 64):
    for _ in repeat(None, loops):
        connection.sendall(message)
        connection.recv(64)


if __name__ == "__main__":
    suite.main()
