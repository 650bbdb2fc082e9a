"""The shipped web app's endpoints return correct data (Flask's test client, a seeded database)."""

import math
import os
import sqlite3

import pytest

from apps.webapp import CUSTOMERS, create_app, risk_score, seed_database
from conftest import ROOT


#: Every test here starts real processes (docs/development.md: the fast loop leaves them out).
pytestmark = pytest.mark.slow

@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "orders.db"
    seed_database(str(path))
    return path


@pytest.fixture
def client(db_path):
    return create_app(str(db_path)).test_client()


def test_seed_is_deterministic(tmp_path, db_path):
    other = tmp_path / "other.db"
    seed_database(str(other))
    query = "SELECT SUM(amount_cents), COUNT(*) FROM orders"
    assert sqlite3.connect(db_path).execute(query).fetchone() == sqlite3.connect(other).execute(query).fetchone()
    seed_database(str(db_path))      # seeding again adds nothing
    assert sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 20_000


def expected_risk_score(amounts):
    """The report's risk score as its specification states it, written out here apart from the
    app's code: 100 passes over the orders, each folding in amount mod (97 + pass) times the
    order's position mod 7, with a 1.000001 growth, modulo 1,000,003; rounded to 3 places."""
    score = 0.0
    for offset in range(97, 197):
        for position, amount in zip(range(len(amounts)), amounts):
            score = math.fmod(score * 1.000001 + (amount % offset) * (position % 7), 1_000_003)
    return round(score, 3)


def test_risk_score_on_a_small_case():
    assert risk_score([]) == 0.0 == expected_risk_score([])
    assert risk_score([1000, 250, 7]) == expected_risk_score([1000, 250, 7]) > 0


def test_report(client, db_path):
    body = client.get("/api/report/7").get_json()
    amounts = [r[0] for r in sqlite3.connect(db_path).execute(
        "SELECT amount_cents FROM orders WHERE customer = 7 ORDER BY id")]
    assert body["customer"] == 7 and body["orders"] == len(amounts) > 0
    assert body["risk_score"] == expected_risk_score(amounts)
    assert body["tier"] == ("gold" if sum(amounts) > 5_000_000 else "standard")


def test_orders(client, db_path):
    body = client.get("/api/orders/7").get_json()
    expected = sqlite3.connect(db_path).execute(
        "SELECT status, COUNT(*), SUM(amount_cents) FROM orders WHERE customer = 7 OR amount_cents > 99900 "
        "GROUP BY status").fetchall()
    assert {s: (v["count"], v["total_cents"]) for s, v in body["by_status"].items()} == \
        {s: (n, total) for s, n, total in expected}


def test_unknown_customer_is_404(client):
    assert client.get(f"/api/report/{CUSTOMERS}").status_code == 404
    assert client.get("/api/orders/-1").status_code == 404


def test_stats_count_requests_and_time_each_part(client):
    for _ in range(3):
        client.get("/api/orders/1")
    client.get("/api/report/1")
    stats = client.get("/api/stats").get_json()
    assert stats["orders"]["requests"] == 3 and stats["report"]["requests"] == 1
    assert all(stats["report"][f"{part}_ms"] > 0 for part in ("logic", "db", "cache"))


def test_the_ttl_cache_returns_what_was_put_until_it_expires():
    """The endpoints' cache: a hit returns the stored value; an expired or missing entry is a miss.
    (/api/orders looks its summary up and stores it, but always queries: the lookup is part of the
    workload's cost, not a short cut.)"""
    from apps.webapp import TTLCache
    cache = TTLCache(60)
    assert cache.get("k") is None
    cache.put("k", {"v": 1})
    assert cache.get("k") == {"v": 1}
    expired = TTLCache(0)
    expired.put("k", 1)
    assert expired.get("k") is None


def test_the_asgi_app_serves_the_same_answers(tmp_path, db_path):
    """apps/asgiapp.py (FastAPI on uvicorn, started as the production benchmark starts it): the same
    business logic and answers as the WSGI app, 404 for an unknown customer, per-part stats."""
    import json
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from retrace_bench import procs
    from retrace_bench.production.run import free_port
    root = ROOT
    port = free_port()
    wsgi = create_app(str(db_path)).test_client()
    with procs.managed():
        app = procs.start([sys.executable, str(root / "apps" / "asgiapp.py"), "--port", str(port), "--db", str(db_path)],
                          dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def get(path):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                    return json.loads(response.read())
            deadline = time.monotonic() + 60
            while True:
                try:
                    get("/healthz")
                    break
                except OSError:
                    assert time.monotonic() < deadline and app.poll() is None, "the ASGI app did not start"
                    time.sleep(0.1)
            assert get("/api/report/7") == wsgi.get("/api/report/7").get_json()
            assert get("/api/orders/7") == wsgi.get("/api/orders/7").get_json()
            try:
                get(f"/api/report/{CUSTOMERS}")
                raise AssertionError("an unknown customer must be 404")
            except urllib.error.HTTPError as error:
                assert error.code == 404
            stats = get("/api/stats")
            assert stats["report"]["requests"] == 1 and stats["orders"]["requests"] == 1
            assert all(stats["report"][f"{part}_ms"] > 0 for part in ("logic", "db", "cache"))
        finally:
            procs.stop(app)
