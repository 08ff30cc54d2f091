"""HTTP servers on loopback answering as a test says: a Prometheus API, a webhook, a proxy."""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"

Handler = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, Any]]]


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test's output free of access logs, with helpers to answer."""

    def log_message(self, *args: Any) -> None:
        pass

    def send_body(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward_get(self, upstream: str) -> None:
        """Answer with what `upstream` answers to this request's path, error statuses included."""
        try:
            with urllib.request.urlopen(upstream + self.path, timeout=10) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as err:
            status, body = err.code, err.read()
        self.send_body(status, body)


@contextlib.contextmanager
def listening(handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """`handler` served on 127.0.0.1 by a thread per request (over TLS with `tls`) until the
    block ends; yields its URL, http:// whatever the scheme (the port is what a test needs)."""
    server = ThreadingHTTPServer((LOOPBACK, 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def serving(handle: Handler, tls: ssl.SSLContext | None = None) -> Iterator[tuple[str, list[Any]]]:
    """An HTTP server on 127.0.0.1 answering with `handle` (over TLS with `tls`); yields its URL
    (http://, whatever the scheme) and what it was sent (path, JSON body)."""
    received: list[Any] = []

    class Answer(QuietHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received.append((self.path, json.loads(self.rfile.read(length)) if length else None))
            status, body = handle(self)
            self.send_body(status, json.dumps(body).encode())

        do_GET = do_POST = do_HEAD = _answer  # noqa: N815

    with listening(Answer, tls) as url:
        yield url, received
