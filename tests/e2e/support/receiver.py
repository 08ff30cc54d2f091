"""A receiver on loopback for what a rollout sends out (Apprise's `json://` notifications, the
webhook's POSTs): every request kept whole, its request line, headers and body, for a test to
search for what must not be there."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.support.loopback_http import QuietHandler, listening


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: str

    def sent(self) -> str:
        """What the sender chose to say: its headers and body (the path is the receiver's own URL)."""
        return "\n".join([*(f"{name}: {value}" for name, value in self.headers), self.body])

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@contextlib.contextmanager
def receiving() -> Iterator[tuple[str, list[Received]]]:
    """An HTTP server on 127.0.0.1 answering 200 to anything; yields its URL and what it received."""
    received: list[Received] = []
    lock = threading.Lock()

    class Receiver(QuietHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode(errors="replace") if length else ""
            with lock:
                received.append(Received(self.command, self.path, tuple(self.headers.items()), body))
            self.send_body(200, b"{}")

        do_GET = do_POST = do_HEAD = _answer  # noqa: N815

    with listening(Receiver) as url:
        yield url, received
