"""A fake service mesh on loopback: the server the traffic tests and the benchmark talk to.

It routes each request the way an Istio VirtualService does for this project: the first rule
whose cookie or headers match wins, and the rule's weights pick the version. It then answers
the way the mesh's per-destination response header does (``x-canary-version: v2``) and, for
apps that print their version, names it in the body too. A rule can also set a sticky cookie
naming the version that answered (``Set-Cookie: canary-pin=v2; ...``), as the sticky canary's
weighted route does, or a wrong one, to be caught.

Faults the verifier must count rather than crash on are switchable: a status per version
(a canary that answers 503), every k-th request stalled past the client's timeout, every k-th
answer without any version, every k-th answer cut off mid-way.

It is an ``asyncio.Protocol`` server with precomputed answers, so that in the benchmark the
load generators, not the server, are what is measured. Run it alone with
``python tests/support/fake_mesh.py --split v1=90,v2=10``; tests start it on a thread with
``serve_in_thread``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import ssl
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Rule:
    """One routing rule: what a request must carry, and the weights of the versions."""

    split: Mapping[str, int]
    cookie: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    set_cookie: str | None = None
    """Each answer sets this cookie to the version that answered (a sticky weighted route)."""
    cookie_names: Mapping[str, str] = field(default_factory=dict)
    """A broken mesh: the version the cookie names instead, per version that answered."""

    def added_headers(self, version: str) -> tuple[tuple[str, str], ...]:
        if self.set_cookie is None:
            return ()
        named = self.cookie_names.get(version, version)
        return (("set-cookie", f"{self.set_cookie}={named}; Max-Age=86400; Path=/; HttpOnly; SameSite=Lax"),)

    def matches(self, cookies: list[str], headers: Mapping[str, str]) -> bool:
        if self.cookie is not None and self.cookie not in cookies:
            return False
        return all(headers.get(k.lower()) == v for k, v in self.headers.items())


@dataclass(frozen=True)
class MeshConfig:
    """How the fake mesh routes and answers."""

    rules: tuple[Rule, ...]
    version_header: str | None = "x-canary-version"
    body_version: bool = True
    # None routes by smooth weighted round robin, which serves the exact split in every
    # cycle of sum(weights) requests whatever the arrival order, so tests can assert exact
    # counts. A seed routes at random instead (each rule with its own generator, so the
    # counts still do not depend on the order in which concurrent requests arrive).
    seed: int | None = None
    status_by_version: Mapping[str, int] = field(default_factory=dict)
    stall_every: int = 0
    stall_seconds: float = 2.0
    unversioned_every: int = 0
    truncate_every: int = 0
    """Every k-th answer is cut off halfway and its connection closed."""
    record_order: bool = False
    """Keep the rule index of every request in arrival order (``FakeMesh.order``)."""


class _Picker:
    """Chooses a version for one rule, deterministically or from a seeded generator."""

    def __init__(self, split: Mapping[str, int], seed: int | None) -> None:
        self._versions = [v for v, w in split.items() if w > 0]
        self._weights = [split[v] for v in self._versions]
        self._total = sum(self._weights)
        self._current = [0] * len(self._versions)
        self._rng = random.Random(seed) if seed is not None else None

    def pick(self) -> str:
        if self._rng is not None:
            return self._rng.choices(self._versions, self._weights)[0]
        # nginx's smooth weighted round robin.
        best = 0
        for i, w in enumerate(self._weights):
            self._current[i] += w
            if self._current[i] > self._current[best]:
                best = i
        self._current[best] -= self._total
        return self._versions[best]


class FakeMesh:
    """Routing state and the record of what was served, shared by all connections."""

    def __init__(self, config: MeshConfig) -> None:
        self.config = config
        seed = config.seed
        self._pickers = [_Picker(rule.split, None if seed is None else seed + i) for i, rule in enumerate(config.rules)]
        self.served: Counter[tuple[int, str]] = Counter()
        """(rule index, version) -> requests routed there: the truth the client is checked against."""
        self.requests = 0
        self.stalled = 0
        self.order: list[int] = []
        self.truncated = 0
        self._answers: dict[tuple[str, int, bool, tuple[tuple[str, str], ...]], bytes] = {}

    def route(self, cookies: list[str], headers: Mapping[str, str]) -> tuple[int, str] | None:
        for i, rule in enumerate(self.config.rules):
            if rule.matches(cookies, headers):
                return i, self._pickers[i].pick()
        return None

    def added_headers(self, index: int, version: str, headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The header lines the mesh adds to an answer of rule `index` from `version`."""
        return self.config.rules[index].added_headers(version)

    def answer(
        self, version: str | None, status: int, versioned: bool, added: tuple[tuple[str, str], ...] = ()
    ) -> bytes:
        key = (version or "", status, versioned, added)
        cached = self._answers.get(key)
        if cached is None:
            cached = self._answers[key] = self._build(version, status, versioned, added)
        return cached

    def _build(self, version: str | None, status: int, versioned: bool, added: tuple[tuple[str, str], ...]) -> bytes:
        reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "Status")
        named = versioned and version is not None
        body = (
            f"<h1>nginx app</h1><p>version: {version}</p>\n"
            if named and self.config.body_version
            else "<h1>nginx app</h1>\n"
        ).encode()
        lines = [f"HTTP/1.1 {status} {reason}", "content-type: text/html"]
        if named and self.config.version_header:
            lines.append(f"{self.config.version_header}: {version}")
        lines += [f"{name}: {value}" for name, value in added]
        lines.append(f"content-length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _parse_cookies(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


class _Connection(asyncio.Protocol):
    def __init__(self, mesh: FakeMesh) -> None:
        self._mesh = mesh
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._transport is not None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
            self._handle(head)

    def _handle(self, head: bytes) -> None:
        mesh = self._mesh
        config = mesh.config
        mesh.requests += 1
        n = mesh.requests
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            key = name.strip().lower().decode("latin-1")
            text = value.strip().decode("latin-1")
            headers[key] = text
            if key == "cookie":
                cookies.extend(_parse_cookies(text))
        routed = mesh.route(cookies, headers)
        if routed is None:
            answer = mesh.answer(None, 404, False)
        else:
            index, version = routed
            mesh.served[routed] += 1
            if config.record_order:
                mesh.order.append(index)
            status = config.status_by_version.get(version, 200)
            versioned = not (config.unversioned_every and n % config.unversioned_every == 0)
            answer = mesh.answer(version, status, versioned, mesh.added_headers(index, version, headers))
        if config.stall_every and n % config.stall_every == 0:
            mesh.stalled += 1
            asyncio.get_running_loop().call_later(config.stall_seconds, self._write, answer)
        elif config.truncate_every and n % config.truncate_every == 0:
            mesh.truncated += 1
            self._write(answer[: len(answer) // 2])
            if self._transport is not None:
                self._transport.close()
        else:
            self._write(answer)

    def _write(self, answer: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(answer)


def listening_socket(port: int = 0, reuse_port: bool = False) -> socket.socket:
    """A loopback listening socket; with reuse_port several processes can share one port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((LOOPBACK, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def serve(mesh: FakeMesh, sock: socket.socket, stop: asyncio.Event, tls: ssl.SSLContext | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(mesh), sock=sock, ssl=tls)
    async with server:
        await stop.wait()


@dataclass
class RunningMesh:
    """A fake mesh serving on a thread; ``url`` is where to send requests."""

    mesh: FakeMesh
    url: str
    port: int


@contextlib.contextmanager
def serve_in_thread(
    config: MeshConfig, tls: ssl.SSLContext | None = None, mesh: FakeMesh | None = None
) -> Iterator[RunningMesh]:
    """Serve ``config`` on 127.0.0.1 on a free port until the block ends (HTTPS with ``tls``).

    ``mesh`` replaces the routing of ``config.rules`` with a mesh of the caller's own.
    """
    mesh = mesh if mesh is not None else FakeMesh(config)
    sock = listening_socket()
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_until_complete(serve(mesh, sock, stop, tls))
        loop.close()

    thread = threading.Thread(target=run, name="fake-mesh", daemon=True)
    thread.start()
    ready.wait(5)
    try:
        scheme = "https" if tls else "http"
        yield RunningMesh(mesh=mesh, url=f"{scheme}://{LOOPBACK}:{port}/", port=port)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)


def canary_rules(split: Mapping[str, int], cookie: str = "version=v2") -> tuple[Rule, ...]:
    """The tutorial's routing: the cookie goes to v2, everything else by ``split``."""
    return (Rule(split={"v2": 100}, cookie=cookie), Rule(split=dict(split)))


def sticky_rules(
    split: Mapping[str, int], sticky: str = "canary-pin", cookie_names: Mapping[str, str] | None = None
) -> tuple[Rule, ...]:
    """A sticky canary's routing: a client carrying ``<sticky>=<version>`` goes back to that version,
    every other request by ``split``, its answer setting the cookie (to ``cookie_names``' version
    instead, for a broken mesh)."""
    pins = tuple(Rule(split={version: 100}, cookie=f"{sticky}={version}") for version in split)
    return (*pins, Rule(split=dict(split), set_cookie=sticky, cookie_names=dict(cookie_names or {})))


def _parse_split(text: str) -> dict[str, int]:
    split = {}
    for part in text.split(","):
        match = re.fullmatch(r"\s*([\w.-]+)=(\d+)\s*", part)
        if not match:
            raise argparse.ArgumentTypeError(f"expected NAME=WEIGHT,..., got {text!r}")
        split[match.group(1)] = int(match.group(2))
    return split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the fake mesh on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--split", type=_parse_split, default={"v1": 90, "v2": 10})
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the listening socket, for more than one core of serving",
    )
    args = parser.parse_args(argv)
    sock = listening_socket(args.port)
    # The benchmark reads the port from the first line.
    print(sock.getsockname()[1], flush=True)
    config = MeshConfig(rules=canary_rules(args.split), seed=args.seed)
    # A plain SIGTERM would skip the clean-up below and leave forked workers behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    children = []
    for _ in range(args.workers - 1):
        pid = os.fork()
        if pid == 0:
            children = []
            break
        children.append(pid)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(FakeMesh(config), sock, asyncio.Event()))
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
