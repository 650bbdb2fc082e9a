"""The same orders API as apps/webapp.py on ASGI: FastAPI on uvicorn.

Same business logic, database and cache (imported from webapp.py). /api/report/<id> is an async
endpoint (it runs on the event loop, database call included, as many async apps do);
/api/orders/<id> is a sync endpoint, which FastAPI runs in its threadpool: the path where an
async app hands work to threads.

    python apps/asgiapp.py --port 8001 [--db PATH]
"""

import argparse
import os
import signal
import sqlite3
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path
from time import perf_counter_ns

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webapp import CACHE_TTL_S, CUSTOMERS, TTLCache, risk_score, seed_database  # noqa: E402


def create_app(db_path):
    from fastapi import FastAPI, HTTPException

    app = FastAPI()
    cache = TTLCache(CACHE_TTL_S)
    stats = defaultdict(lambda: {"requests": 0, "logic_ms": 0.0, "db_ms": 0.0, "cache_ms": 0.0})
    stats_lock = threading.Lock()
    local = threading.local()

    def db():
        if not hasattr(local, "db"):
            local.db = sqlite3.connect(db_path, check_same_thread=False)
        return local.db

    class Breakdown:
        """Time per part of one request (logic, db, cache), added to the endpoint's totals."""

        def __init__(self):
            self.parts = {"logic": 0.0, "db": 0.0, "cache": 0.0}

        def timed(self, part):
            breakdown = self

            class Timer:
                def __enter__(self):
                    self.start = perf_counter_ns()

                def __exit__(self, *exc):
                    breakdown.parts[part] += (perf_counter_ns() - self.start) / 1e6
            return Timer()

        def finish(self, endpoint, payload):
            with stats_lock:
                s = stats[endpoint]
                s["requests"] += 1
                for part, ms in self.parts.items():
                    s[f"{part}_ms"] += ms
            return payload

    @app.get("/api/report/{customer}")
    async def report(customer: int):
        if not 0 <= customer < CUSTOMERS:
            raise HTTPException(404)
        b = Breakdown()
        with b.timed("cache"):
            cached_profile = cache.get(("profile", customer))
        with b.timed("db"):
            amounts = [row[0] for row in db().execute(
                "SELECT amount_cents FROM orders WHERE customer = ? ORDER BY id", (customer,))]
        with b.timed("logic"):
            score = risk_score(amounts)
            profile = cached_profile or {"tier": "gold" if sum(amounts) > 5_000_000 else "standard"}
        with b.timed("cache"):
            cache.put(("profile", customer), profile)
        return b.finish("report", {"customer": customer, "orders": len(amounts), "risk_score": score,
                                   "tier": profile["tier"]})

    @app.get("/api/orders/{customer}")
    def orders(customer: int):                  # sync: FastAPI runs it in the threadpool
        if not 0 <= customer < CUSTOMERS:
            raise HTTPException(404)
        b = Breakdown()
        with b.timed("cache"):
            cached = cache.get(("orders", customer))
        with b.timed("db"):
            rows = db().execute(
                "SELECT status, COUNT(*), SUM(amount_cents), MAX(created) FROM orders "
                "WHERE customer = ? OR amount_cents > 99900 GROUP BY status ORDER BY status",
                (customer,)).fetchall()
        with b.timed("logic"):
            summary = {status: {"count": n, "total_cents": total, "last": last}
                       for status, n, total, last in rows}
        with b.timed("cache"):
            if cached is None:
                cache.put(("orders", customer), summary)
        return b.finish("orders", {"customer": customer, "by_status": summary})

    @app.get("/api/stats")
    def get_stats():
        with stats_lock:
            return {k: dict(v) for k, v in stats.items()}

    @app.get("/healthz")
    async def healthz():
        return {"ok": True}

    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", help="sqlite file (default: a private temporary one, removed at exit)")
    args = parser.parse_args()
    import uvicorn

    with tempfile.TemporaryDirectory(prefix="retrace-asgiapp-") as scratch:
        db_path = args.db or os.path.join(scratch, "orders.db")
        seed_database(db_path)
        config = uvicorn.Config(create_app(db_path), host="127.0.0.1", port=args.port, workers=1,
                                log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
        server.run()


if __name__ == "__main__":
    main()
