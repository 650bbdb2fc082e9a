"""A local stand-in for an APM backend: an HTTP server on 127.0.0.1 that answers what each agent
expects (Datadog agent, OTLP/HTTP, Sentry, Elastic APM intake) and counts what it receives.

An agent arm is real only when its sink received data during the load (`Sink.snapshot()` before
and after). Events are counted where the payload says so without decoding a binary format:
Sentry envelope items and Elastic's NDJSON lines; Datadog's msgpack and OTLP's protobuf are
counted as requests and bytes.
"""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    requests: int = 0
    bytes: int = 0
    events: int = 0                 # transactions and spans, where the payload can be counted
    paths: dict[str, int] = field(default_factory=dict)

    def minus(self, other: "Received") -> "Received":
        return Received(self.requests - other.requests, self.bytes - other.bytes, self.events - other.events,
                        {p: n - other.paths.get(p, 0) for p, n in self.paths.items() if n - other.paths.get(p, 0)})


#: Paths that carry telemetry (the others are handshakes: /info, server info, remote config).
DATA_PATHS = ("/v0.4/traces", "/v0.5/traces", "/v0.7/traces", "/v1/traces", "/v1/metrics", "/v1/logs",
              "/api/1/envelope/", "/api/1/store/", "/intake/v2/events", "/telemetry/proxy/api/v2/apmtelemetry")


def count_events(path: str, body: bytes) -> int:
    """Spans (transactions included) in what an agent sent: Sentry envelopes, Elastic NDJSON,
    Datadog msgpack (v0.4/v0.5), OTLP protobuf. 0 for anything it cannot read."""
    try:
        if path.startswith("/v0.4/traces") or path.startswith("/v0.5/traces"):
            return msgpack_span_count(body, v05=path.startswith("/v0.5/"))
        if path.startswith("/v1/traces"):
            return otlp_span_count(body)
    except (IndexError, ValueError):
        return 0
    text = body.decode("utf-8", errors="replace")
    if path.startswith("/api/") and "envelope" in path:
        events = 0
        for line in text.splitlines():
            if line.startswith("{") and '"spans"' in line:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if item.get("type") == "transaction":           # the payload, not its item header
                    events += 1 + len(item.get("spans") or [])
        return events
    if path.startswith("/intake/"):
        return sum(1 for line in text.splitlines()
                   if line.startswith('{"transaction"') or line.startswith('{"span"'))
    return 0


# --------------------------------------------------------------------------- msgpack (Datadog)

_FIXED = {0xc0: 0, 0xc2: 0, 0xc3: 0, 0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8,
          0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, 0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17}
_SIZED = {0xc4: 1, 0xc5: 2, 0xc6: 4, 0xd9: 1, 0xda: 2, 0xdb: 4}     # bin and str: length bytes
_EXT = {0xc7: 1, 0xc8: 2, 0xc9: 4}


def _container(buf: bytes, i: int) -> tuple[str | None, int, int]:
    """(kind, count, next index) when buf[i] starts an array or a map, else (None, 0, i)."""
    b = buf[i]
    if 0x90 <= b <= 0x9f:
        return "array", b & 0x0f, i + 1
    if 0x80 <= b <= 0x8f:
        return "map", b & 0x0f, i + 1
    if b in (0xdc, 0xde):
        return ("array" if b == 0xdc else "map"), int.from_bytes(buf[i + 1:i + 3], "big"), i + 3
    if b in (0xdd, 0xdf):
        return ("array" if b == 0xdd else "map"), int.from_bytes(buf[i + 1:i + 5], "big"), i + 5
    return None, 0, i


def _skip(buf: bytes, i: int) -> int:
    """The index after the msgpack value at i."""
    kind, count, j = _container(buf, i)
    if kind:
        for _ in range(count * (2 if kind == "map" else 1)):
            j = _skip(buf, j)
        return j
    b = buf[i]
    if b <= 0x7f or b >= 0xe0:
        return i + 1
    if 0xa0 <= b <= 0xbf:
        return i + 1 + (b & 0x1f)
    if b in _FIXED:
        return i + 1 + _FIXED[b]
    if b in _SIZED:
        n = _SIZED[b]
        return i + 1 + n + int.from_bytes(buf[i + 1:i + 1 + n], "big")
    if b in _EXT:
        n = _EXT[b]
        return i + 2 + n + int.from_bytes(buf[i + 1:i + 1 + n], "big")
    raise ValueError(f"msgpack byte {b:#x}")


def msgpack_span_count(buf: bytes, v05: bool) -> int:
    """Spans in a Datadog payload: v0.4 is [[span, ...], ...]; v0.5 is [strings, [[span, ...], ...]]."""
    kind, count, i = _container(buf, 0)
    if kind != "array":
        raise ValueError("not a msgpack array")
    if v05:
        i = _skip(buf, i)                          # the string table
        kind, count, i = _container(buf, i)
    spans = 0
    for _ in range(count):
        _, in_trace, i = _container(buf, i)
        spans += in_trace
        for _ in range(in_trace):
            i = _skip(buf, i)
    return spans


# --------------------------------------------------------------------------- protobuf (OTLP)

def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[i]
        value |= (b & 0x7f) << shift
        i += 1
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, payload) of each field of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(buf, i)
            yield number, wire, None
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            length, i = _varint(buf, i)
            yield number, wire, buf[i:i + length]
            i += length
        else:
            raise ValueError(f"protobuf wire type {wire}")


def otlp_span_count(buf: bytes) -> int:
    """Spans in an ExportTraceServiceRequest: resource_spans(1) > scope_spans(2) > spans(2)."""
    return sum(1 for n, w, resource in _fields(buf) if n == 1 and w == 2
               for m, v, scope in _fields(resource) if m == 2 and v == 2
               for k, x, _ in _fields(scope) if k == 2 and x == 2)


class Sink:
    """The server, in a daemon thread of the calling process; `close()` stops it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received = Received()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                try:
                    if encoding == "gzip":
                        return gzip.decompress(data)
                    if encoding == "deflate":
                        return zlib.decompress(data)
                except (OSError, zlib.error):
                    pass
                return data

            def answer(self, status: int, payload: bytes, content_type="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def handle_any(self):
                path = self.path.split("?", 1)[0]
                data = self.body()
                if any(path.startswith(p) for p in DATA_PATHS):
                    with sink.lock:
                        r = sink.received
                        r.requests += 1
                        r.bytes += len(data)
                        r.events += count_events(path, data)
                        r.paths[path] = r.paths.get(path, 0) + 1
                if path.endswith("/traces") and path.startswith("/v0."):
                    return self.answer(200, b'{"rate_by_service": {}}')
                if path.startswith("/v1/"):
                    return self.answer(200, b"", "application/x-protobuf")
                if path.startswith("/intake/"):
                    return self.answer(202, b"")
                if path == "/":                       # Elastic APM server information
                    return self.answer(200, b'{"version": "8.15.0", "build_date": "", "build_sha": ""}')
                if path == "/info":                   # Datadog agent discovery: none advertised
                    return self.answer(404, b"{}")
                return self.answer(200, b"{}")

            do_GET = do_POST = do_PUT = handle_any

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass                # an agent that drops its connection at exit is not news

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def snapshot(self) -> Received:
        with self.lock:
            r = self.received
            return Received(r.requests, r.bytes, r.events, dict(r.paths))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
