"""A tiny HTTP app that fails every second request when it is being recorded by Retrace, the way a
real asyncio app failed some of its requests under recording ("RuntimeError: object is already
bound"): the production benchmark must show the failed requests and this exception, not guess a
cause.

    python fragile_app.py --port 8000
"""

import argparse
import itertools
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORDED = sys.orig_argv[1:3] == ["-m", "retracesoftware"] and "--" in sys.orig_argv
REQUESTS = itertools.count()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if RECORDED and self.path != "/healthz" and next(REQUESTS) % 2:
            raise RuntimeError("object is already bound (simulated failure under recording)")
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    server = ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
