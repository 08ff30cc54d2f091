"""The request engine: many requests of a few shapes, kept in flight, each outcome tallied.

Every request ends in exactly one bucket of its route's ``Tally``: the version that answered,
or one kind of error. ``run_load`` is shared by ``verify`` (a fixed number of requests as fast
as allowed) and ``traffic`` (paced, until stopped).
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from canary.traffic.client import (
    Answer,
    Connection,
    ConnectionClosedError,
    Endpoint,
    ProtocolError,
    connect,
)
from canary.traffic.versions import VersionReader

ERROR_KINDS = {
    "refused": "connection refused",
    "unreachable": "host unknown or unreachable",
    "timeout": "no answer within the timeout",
    "reset": "connection closed or reset mid-request",
    "tls": "TLS handshake or certificate failure",
    "protocol": "not a valid HTTP/1.x answer",
    "http_4xx": "answered 4xx",
    "http_5xx": "answered 5xx",
    "no_version": "answered without naming a version",
}
"""Every kind of error a request can end in, with what it means."""

_LATENCY_SAMPLES = 200_000

Inspector = Callable[[Answer, str], None]
"""Looks further at an answer that named a version (the answer, the version)."""


class Tally:
    """What became of one route's requests: versions, errors by kind, latencies.

    Latencies are kept exactly up to 200,000 samples, then as a uniform reservoir sample of
    that size, so a ``traffic`` run of hours stays small.
    """

    __slots__ = ("_latencies", "_rng", "_seen", "counts", "errors", "failed_versions")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.failed_versions: dict[str, int] = {}
        """5xx answers that still named their version, by version: the mesh adds a route's answer
        headers to an upstream's 5xx too, and a rollout must know whose 5xx it caused."""
        self._latencies = array("d")
        self._seen = 0
        self._rng = random.Random(0)

    @property
    def answered(self) -> int:
        """Requests whose answer named a version."""
        return sum(self.counts.values())

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def total(self) -> int:
        return self.answered + self.failed

    @property
    def reached(self) -> int:
        """Requests that got an HTTP answer of any kind (with a version, an error status, or
        neither)."""
        http = sum(n for kind, n in self.errors.items() if kind.startswith("http_"))
        return self.answered + http + self.errors.get("no_version", 0)

    @property
    def latencies(self) -> Sequence[float]:
        """Seconds from sending to the whole answer, for requests that got an HTTP answer."""
        return self._latencies

    def add_version(self, version: str, latency: float) -> None:
        self.counts[version] = self.counts.get(version, 0) + 1
        self._add_latency(latency)

    def add_failed_version(self, version: str) -> None:
        """One 5xx (already counted by `add_error`) that named `version`."""
        self.failed_versions[version] = self.failed_versions.get(version, 0) + 1

    def add_error(self, kind: str, latency: float | None = None) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if latency is not None:
            self._add_latency(latency)

    def _add_latency(self, latency: float) -> None:
        self._seen += 1
        if len(self._latencies) < _LATENCY_SAMPLES:
            self._latencies.append(latency)
        else:
            slot = self._rng.randrange(self._seen)
            if slot < _LATENCY_SAMPLES:
                self._latencies[slot] = latency


@dataclass(frozen=True)
class Settings:
    """How hard and how long to push."""

    concurrency: int = 32
    rate: float | None = None
    """Requests per second across all workers; None sends as fast as answers come."""
    timeout: float = 5.0
    """Seconds for one request, connecting included."""


def error_kind(exc: BaseException) -> str:
    """The ``ERROR_KINDS`` key for an exception raised while connecting or waiting."""
    # Order matters: SSL errors and refusals are OSErrors too.
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, ConnectionError):
        return "reset"
    if isinstance(exc, ProtocolError):
        return "protocol"
    if isinstance(exc, OSError):
        return "unreachable"
    raise exc


async def fetch(target: Endpoint, request: bytes, timeout: float, conn: Connection | None) -> tuple[Answer, Connection]:
    """Send ``request`` on ``conn`` (or a new connection) and wait for its answer.

    A reused keep-alive connection that closes before any byte of the answer was closed by
    the server while idle; the request (a GET) is then sent once more on a new connection,
    as browsers and HTTP libraries do.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for _ in range(2):
        if conn is None or not conn.usable:
            conn = await asyncio.wait_for(connect(target), deadline - loop.time())
        waiter = conn.send(request)
        timer = loop.call_at(deadline, _expire, waiter)
        try:
            return await waiter, conn
        except ConnectionClosedError as exc:
            if not (exc.empty and conn.used):
                raise
            conn = None
        except BaseException:
            conn.close()
            raise
        finally:
            timer.cancel()
    raise ConnectionClosedError(empty=True)


def _expire(waiter: asyncio.Future[Answer]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def run_load(
    target: Endpoint,
    route_requests: Sequence[Sequence[bytes]],
    tallies: Sequence[Tally],
    reader: VersionReader,
    settings: Settings,
    total: int | None = None,
    inspectors: Sequence[Inspector | None] = (),
) -> float:
    """Send requests until ``total`` have been sent (or forever: cancel to stop).

    Request ``i`` takes route ``i % len(route_requests)`` and, of that route's variants, the next in
    turn, so the routes are interleaved and a slow moment affects them all alike. A route's
    inspector, if ``inspectors`` has one for it, sees each of its answers that named a version.
    Returns the seconds taken.
    """
    inspect = list(inspectors) + [None] * (len(route_requests) - len(inspectors))
    routes = len(route_requests)
    loop = asyncio.get_running_loop()
    start = loop.time()
    interval = 1.0 / settings.rate if settings.rate else 0.0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        conn: Connection | None = None
        while total is None or next_index < total:
            i = next_index
            next_index += 1
            if interval:
                # Fixed start slots rather than a sleep after each answer: the rate holds
                # even when answers are slow, up to the concurrency limit.
                delay = start + i * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            route = i % routes
            variants = route_requests[route]
            request = variants[(i // routes) % len(variants)]
            tally = tallies[route]
            began = time.perf_counter()
            try:
                answer, conn = await fetch(target, request, settings.timeout, conn)
            except (OSError, ProtocolError) as exc:
                conn = None
                tally.add_error(error_kind(exc))
                continue
            latency = time.perf_counter() - began
            status = answer.status
            if status >= 400:
                tally.add_error(f"http_{status // 100}xx", latency)
                if status >= 500 and (failed_version := reader(answer)) is not None:
                    tally.add_failed_version(failed_version)
                continue
            version = reader(answer)
            if version is None:
                tally.add_error("no_version", latency)
            else:
                tally.add_version(version, latency)
                inspector = inspect[route]
                if inspector is not None:
                    inspector(answer, version)

    workers = settings.concurrency if total is None else min(settings.concurrency, total)
    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return loop.time() - start


async def probe(target: Endpoint, request: bytes, timeout: float) -> str | None:
    """Whether ``target`` answers HTTP at all: None if it does, else what went wrong."""
    try:
        _, conn = await fetch(target, request, timeout, None)
    except (OSError, ProtocolError) as exc:
        kind = error_kind(exc)
        detail = str(exc) if kind in ("tls", "protocol", "unreachable") else ""
        message = ERROR_KINDS[kind]
        return f"{message} ({detail})" if detail else message
    conn.close()
    return None
