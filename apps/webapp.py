"""A small orders API shaped like the spec's "Example: Web API Request".

Each request does internal business logic, a sqlite query and a cache lookup, and times the three
(with time.perf_counter_ns, which Retrace does not record, so the timing adds nothing to a trace):

    GET /api/report/<customer>   internal-compute heavy: scores the customer's orders in Python
    GET /api/orders/<customer>   database heavy: an aggregate query over the orders table
    GET /api/stats               per-endpoint request counts and time in logic, database, cache
    GET /healthz                 liveness

Flask on waitress (a pure-Python production WSGI server), sqlite3 as the embedded database
(created and seeded on first start), an in-process TTL cache. Listens on 127.0.0.1 only.

    python apps/webapp.py --port 8000 [--db PATH] [--threads 4]
"""

import argparse
import logging
import os
import random
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from time import perf_counter_ns

from flask import Flask, abort, jsonify

CUSTOMERS = 200
ORDERS = 20_000
CACHE_TTL_S = 0.5


class TTLCache:
    """A thread-safe in-process cache whose entries expire after `ttl` seconds."""

    def __init__(self, ttl):
        self.ttl = ttl
        self.entries = {}
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            entry = self.entries.get(key)
            if entry and entry[0] > time.monotonic():
                return entry[1]
            return None

    def put(self, key, value):
        with self.lock:
            self.entries[key] = (time.monotonic() + self.ttl, value)


def seed_database(path):
    """Create the orders table with a fixed pseudo-random data set (same data every time)."""
    rng = random.Random(42)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer INTEGER, "
                   "amount_cents INTEGER, status TEXT, created INTEGER)")
        db.execute("CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer)")
        if db.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0:
            db.executemany("INSERT INTO orders (customer, amount_cents, status, created) VALUES (?, ?, ?, ?)",
                           ((rng.randrange(CUSTOMERS), rng.randrange(100, 100_000),
                             rng.choice(["paid", "shipped", "refunded"]), 1_700_000_000 + i * 60)
                            for i in range(ORDERS)))


def risk_score(amounts):
    """Internal business logic: a deliberately CPU-bound score over the customer's orders."""
    score = 0.0
    for round_ in range(100):
        for i, amount in enumerate(amounts):
            score = (score * 1.000001 + (amount % (97 + round_)) * (i % 7)) % 1_000_003
    return round(score, 3)


class OrdersAPI:
    """The business logic both shipped apps serve (this WSGI app and apps/asgiapp.py): a report
    and an orders summary per customer, each timed in three parts (logic, db, cache) with
    time.perf_counter_ns, which Retrace does not record, and the per-endpoint totals."""

    def __init__(self, db_path):
        self.db_path = db_path
        self.cache = TTLCache(CACHE_TTL_S)
        self.totals = defaultdict(lambda: {"requests": 0, "logic_ms": 0.0, "db_ms": 0.0, "cache_ms": 0.0})
        self.lock = threading.Lock()
        self.local = threading.local()

    def db(self):
        if not hasattr(self.local, "db"):
            self.local.db = sqlite3.connect(self.db_path, check_same_thread=False)
        return self.local.db

    @staticmethod
    def valid(customer):
        return 0 <= customer < CUSTOMERS

    @contextmanager
    def timed(self, parts, part):
        start = perf_counter_ns()
        try:
            yield
        finally:
            parts[part] += (perf_counter_ns() - start) / 1e6

    def report(self, customer):
        """Internal-compute heavy: score the customer's orders in Python."""
        parts = {"logic": 0.0, "db": 0.0, "cache": 0.0}
        with self.timed(parts, "cache"):
            cached_profile = self.cache.get(("profile", customer))
        with self.timed(parts, "db"):
            amounts = [row[0] for row in self.db().execute(
                "SELECT amount_cents FROM orders WHERE customer = ? ORDER BY id", (customer,))]
        with self.timed(parts, "logic"):
            score = risk_score(amounts)
            profile = cached_profile or {"tier": "gold" if sum(amounts) > 5_000_000 else "standard"}
        with self.timed(parts, "cache"):
            self.cache.put(("profile", customer), profile)
        return self.finish("report", parts, {"customer": customer, "orders": len(amounts),
                                             "risk_score": score, "tier": profile["tier"]})

    def orders(self, customer):
        """Database heavy: an aggregate query that scans the orders table."""
        parts = {"logic": 0.0, "db": 0.0, "cache": 0.0}
        with self.timed(parts, "cache"):
            cached = self.cache.get(("orders", customer))
        with self.timed(parts, "db"):
            rows = self.db().execute(
                "SELECT status, COUNT(*), SUM(amount_cents), MAX(created) FROM orders "
                "WHERE customer = ? OR amount_cents > 99900 GROUP BY status ORDER BY status",
                (customer,)).fetchall()
        with self.timed(parts, "logic"):
            summary = {status: {"count": n, "total_cents": total, "last": last}
                       for status, n, total, last in rows}
        with self.timed(parts, "cache"):
            if cached is None:
                self.cache.put(("orders", customer), summary)
        return self.finish("orders", parts, {"customer": customer, "by_status": summary})

    def finish(self, endpoint, parts, payload):
        with self.lock:
            totals = self.totals[endpoint]
            totals["requests"] += 1
            for part, ms in parts.items():
                totals[f"{part}_ms"] += ms
        return payload

    def stats(self):
        with self.lock:
            return {k: dict(v) for k, v in self.totals.items()}


def create_app(db_path):
    app = Flask(__name__)
    api = OrdersAPI(db_path)

    @app.get("/api/report/<int:customer>")
    def report(customer):
        if not api.valid(customer):
            abort(404)
        return jsonify(api.report(customer))

    @app.get("/api/orders/<int:customer>")
    def orders(customer):
        if not api.valid(customer):
            abort(404)
        return jsonify(api.orders(customer))

    @app.get("/api/stats")
    def get_stats():
        return jsonify(api.stats())

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", help="sqlite file (default: a private temporary one, removed at exit)")
    parser.add_argument("--threads", type=int, default=1,
                        help="worker threads (default 1: one request at a time, so the breakdown "
                             "is not inflated by waiting for the GIL)")
    args = parser.parse_args()
    from waitress import serve
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)   # "Task queue depth" under load

    with tempfile.TemporaryDirectory(prefix="retrace-webapp-") as scratch:
        db_path = args.db or os.path.join(scratch, "orders.db")
        seed_database(db_path)
        # SIGTERM ends the server like Ctrl-C, so a recording is closed cleanly.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            serve(create_app(db_path), host="127.0.0.1", port=args.port, threads=args.threads,
                  _quiet=True)
        except KeyboardInterrupt:
            pass
        except OSError as error:
            sys.exit(f"webapp: cannot listen on 127.0.0.1:{args.port}: {error.strerror}")


if __name__ == "__main__":
    main()
