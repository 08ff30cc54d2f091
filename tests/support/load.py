"""Steady traffic for the loopback data plane, so that Prometheus sees every version the weights reach.

Requests leave at fixed times (`rate` per second) whatever the answers take, as users' requests
do, from an event loop on a thread of its own. Each goes through the product's own client and
request engine pieces (`canary.traffic`: keep-alive connections, `fetch`, `Tally`):

    with LoadGenerator(plane.url, rate=80) as load:
        ...                                 # pulumi up, Prometheus queries
    load.snapshot()                         # [{"v1": 712, "v2": 80, "http_5xx": 3}]

Each entry of `header_sets` is one shape of request (none: a plain GET); requests take the shapes
in turn, so `header_sets=((), (), (), (("cookie", "version=v2"),))` sends one request in four
with the testers' cookie. Answers are tallied per shape by the version header; a 5xx answer is
counted as `http_5xx` (the data plane's metrics say which version gave it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from canary.traffic.client import Connection, Endpoint, ProtocolError
from canary.traffic.load import Tally, error_kind, fetch
from canary.traffic.versions import DEFAULT_HEADER, VersionReader

PLAIN: Sequence[Sequence[tuple[str, str]]] = ((),)


class LoadGenerator:
    """Requests to `url` at `rate` per second from a background thread, from `start` to `stop`."""

    def __init__(
        self,
        url: str,
        rate: float = 80.0,
        *,
        header_sets: Sequence[Sequence[tuple[str, str]]] = PLAIN,
        max_in_flight: int = 64,
        timeout: float = 5.0,
        version_header: str = DEFAULT_HEADER,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.url = url
        self.rate = rate
        self.header_sets = [list(headers) for headers in header_sets]
        self.max_in_flight = max_in_flight
        self.timeout = timeout
        self.tallies = [Tally() for _ in self.header_sets]
        """One per header set, in order; written by the load's thread (read `snapshot()`)."""
        self.skipped = 0
        """Requests not sent because `max_in_flight` were still waiting: the server is stuck."""
        self._reader = VersionReader(header=version_header)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LoadGenerator:
        if self._thread is not None:
            raise RuntimeError("the load generator is already running")
        started = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run(started)), name="load", daemon=True)
        self._thread.start()
        if not started.wait(5):
            raise RuntimeError("the load generator did not start")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(self.timeout + 5)
        self._thread = None

    def snapshot(self) -> list[dict[str, int]]:
        """Per header set, answers by version and errors by kind so far (safe while running)."""
        if self._thread is None or self._loop is None:
            return self._merged()

        async def read() -> list[dict[str, int]]:
            return self._merged()

        return asyncio.run_coroutine_threadsafe(read(), self._loop).result(5)

    def __enter__(self) -> LoadGenerator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- inside -----------------------------------------------------------------------------

    def _merged(self) -> list[dict[str, int]]:
        return [{**tally.counts, **tally.errors} for tally in self.tallies]

    async def _run(self, started: threading.Event) -> None:
        loop = self._loop = asyncio.get_running_loop()
        stopping = self._stopping = asyncio.Event()
        target = Endpoint.from_url(self.url)
        requests = [target.request(headers) for headers in self.header_sets]
        idle: list[Connection] = []
        in_flight: set[asyncio.Task[None]] = set()
        started.set()
        begin = loop.time()
        i = 0
        while not stopping.is_set():
            # Fixed start slots, not a pause after each answer: the rate holds when answers are slow.
            delay = begin + i / self.rate - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stopping.wait(), delay)
                    break
                except TimeoutError:
                    pass
            shape = i % len(requests)
            i += 1
            if len(in_flight) >= self.max_in_flight:
                self.skipped += 1
                continue
            task = asyncio.create_task(self._one(target, requests[shape], self.tallies[shape], idle))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        # Let the requests under way finish (each has its timeout), then drop the connections.
        if in_flight:
            await asyncio.wait(in_flight)
        for conn in idle:
            conn.close()

    async def _one(self, target: Endpoint, request: bytes, tally: Tally, idle: list[Connection]) -> None:
        began = asyncio.get_running_loop().time()
        try:
            answer, conn = await fetch(target, request, self.timeout, idle.pop() if idle else None)
        except (OSError, ProtocolError) as exc:
            tally.add_error(error_kind(exc))
            return
        latency = asyncio.get_running_loop().time() - began
        if conn.usable:
            idle.append(conn)
        if answer.status >= 400:
            tally.add_error(f"http_{answer.status // 100}xx", latency)
            return
        version = self._reader(answer)
        if version is None:
            tally.add_error("no_version", latency)
        else:
            tally.add_version(version, latency)
