"""The same orders API as apps/webapp.py on ASGI: FastAPI on uvicorn.

Same business logic, database and cache (webapp.OrdersAPI). /api/report/<id> is an async
endpoint (it runs on the event loop, database call included, as many async apps do);
/api/orders/<id> is a sync endpoint, which FastAPI runs in its threadpool: the path where an
async app hands work to threads.

    python apps/asgiapp.py --port 8001 [--db PATH]
"""

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webapp import OrdersAPI, seed_database  # noqa: E402


def create_app(db_path):
    from fastapi import FastAPI, HTTPException

    app = FastAPI()
    api = OrdersAPI(db_path)

    @app.get("/api/report/{customer}")
    async def report(customer: int):            # on the event loop, database call included
        if not api.valid(customer):
            raise HTTPException(404)
        return api.report(customer)

    @app.get("/api/orders/{customer}")
    def orders(customer: int):                  # sync: FastAPI runs it in the threadpool
        if not api.valid(customer):
            raise HTTPException(404)
        return api.orders(customer)

    @app.get("/api/stats")
    def get_stats():
        return api.stats()

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
