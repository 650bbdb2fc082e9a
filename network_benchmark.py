"""Network boundaries: calls to a real PostgreSQL, Redis and HTTP server (spec Category B, network calls).

The servers run beside the benchmark on 127.0.0.1, never recorded: the suite starts private
PostgreSQL and Redis servers for the run (retrace_bench/services.py) and tells this script where
they are in DATABASE_URL, REDIS_URL and REDIS_SOCKET_URL; the HTTP server is a child process of the
test. A test whose server is not there is not registered (a note says so on stderr). By hand:
python -m retrace_bench.services -- python network_benchmark.py
"""

import os
import sys
from contextlib import contextmanager
from itertools import repeat

from benchlib import BOUNDARY, Suite, helper_server
from retrace_bench import facts

suite = Suite(__doc__.splitlines()[0])
# Iterations: a run of 20-30 ms each on this machine (a call takes 50 µs to 5 ms): the process's
# tests then take 4-5 s, not 17 s, in each of the rounds.
KEY = 421                                   # a seeded row and key (facts.SEED_ROWS of them)
VALUE = "s" * facts.SEED_VALUE_BYTES


UNSET = []


def variable(name):
    value = os.environ.get(name)
    if not value:
        UNSET.append(name)
    return value


# --------------------------------------------------------------------------- PostgreSQL (psycopg2)
DATABASE_URL = variable("DATABASE_URL")


@contextmanager
def database(autocommit=True):
    import psycopg2  # lazy: only when the server is there (its tests are registered)
    connection = psycopg2.connect(DATABASE_URL)
    connection.autocommit = autocommit
    try:
        yield connection.cursor()
    finally:
        connection.close()


if DATABASE_URL:
    @suite.test("PostgreSQL SELECT by key", BOUNDARY, iterations=150, fixture=database)
    def pg_select(loops, cursor):
        for _ in repeat(None, loops):
            cursor.execute("SELECT v FROM kv WHERE k = %s", (KEY,))
            cursor.fetchone()

    @suite.test("PostgreSQL INSERT + COMMIT", BOUNDARY, iterations=40, fixture=lambda: database(autocommit=False))
    def pg_insert(loops, cursor):
        for _ in repeat(None, loops):
            cursor.execute("INSERT INTO log (v) VALUES (%s)", (VALUE,))
            cursor.connection.commit()

    @suite.test(facts.SPEC_QUERY_TEST, BOUNDARY, iterations=4, fixture=database)
    def pg_wait(loops, cursor, query=f"SELECT pg_sleep({facts.SPEC_QUERY_WAIT_S})"):
        for _ in repeat(None, loops):
            cursor.execute(query)
            cursor.fetchone()


# --------------------------------------------------------------------------- Redis (redis-py)
REDIS_URL, REDIS_SOCKET_URL = variable("REDIS_URL"), variable("REDIS_SOCKET_URL")


def cache(url):
    @contextmanager
    def connected():
        import redis  # lazy: as above
        client = redis.Redis.from_url(url)
        try:
            client.ping()
            yield client
        finally:
            client.close()
    return connected


for url, transport in ((REDIS_URL, "TCP"), (REDIS_SOCKET_URL, "Unix socket")):
    if not url:
        continue

    @suite.test(f"Redis GET {facts.SEED_VALUE_BYTES} B ({transport})", BOUNDARY, iterations=200, fixture=cache(url))
    def redis_get(loops, client):
        for _ in repeat(None, loops):
            client.get(f"key:{KEY}")

    @suite.test(f"Redis SET {facts.SEED_VALUE_BYTES} B ({transport})", BOUNDARY, iterations=200, fixture=cache(url))
    def redis_set(loops, client):
        for _ in repeat(None, loops):
            client.set("bench:set", VALUE)


# --------------------------------------------------------------------------- HTTP (urllib3)
HTTP_SERVER = f"""
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive: one connection for the whole test
    disable_nagle_algorithm = True
    wbufsize = -1                          # the whole response in one write
    body = b"h" * {facts.SEED_VALUE_BYTES}
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
server.timeout = 60                        # never outlive a benchmark that died: a minute idle ends it
server.handle_timeout = sys.exit
print(server.server_address[1], flush=True)
while True:
    server.handle_request()
"""


@contextmanager
def http_pool():
    import urllib3  # lazy: as above
    with helper_server(HTTP_SERVER) as port, urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1) as pool:
        yield pool


@suite.test(f"HTTP GET {facts.SEED_VALUE_BYTES} B (urllib3)", BOUNDARY, iterations=60, fixture=http_pool)
def http_get(loops, pool):
    for _ in repeat(None, loops):
        pool.request("GET", "/").data


if UNSET:
    print(f"note: {', '.join(UNSET)} not set: their tests are not registered (to have them: "
          f"python -m retrace_bench.services -- python {os.path.basename(sys.argv[0])})", file=sys.stderr)

if __name__ == "__main__":
    suite.main()
