"""A lean HTTP/1.1 keep-alive client on asyncio protocols: one connection, one request at a time.

The verifier sends thousands of identical GETs and needs only the status, the headers and the
body of each answer. A general client (httpx, aiohttp) spends most of its time per request on
things this does not need: building request objects, header normalisation, cookie jars,
pools. Here each request is a prebuilt ``bytes`` and each answer is parsed straight from the
socket buffer, which is what lets one Python process keep up with ``hey``
(docs/verify.md has the figures).

It speaks enough HTTP/1.1 for any server or proxy: Content-Length, chunked and
close-delimited bodies, interim 1xx answers, ``Connection: close``, TLS with SNI.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

from canary.support.redact import redact_url

# What joins the lines of a repeated Set-Cookie in `Answer.headers` (see `_parse_head`).
_COOKIE_LINES = b"\n"


class Answer(NamedTuple):
    """An HTTP answer: status, headers (lower-case names), body."""

    status: int
    headers: dict[bytes, bytes]
    body: bytes

    @property
    def set_cookies(self) -> list[bytes]:
        """Each Set-Cookie line, in the order received."""
        value = self.headers.get(b"set-cookie")
        return value.split(_COOKIE_LINES) if value else []


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.x."""


class ConnectionClosedError(ConnectionError):
    """The connection closed before a whole answer arrived.

    ``empty`` says no byte of the answer had arrived, the case in which a request on a reused
    keep-alive connection is safely retried (the server had closed it while it was idle).
    """

    def __init__(self, empty: bool) -> None:
        super().__init__("connection closed before the answer was complete")
        self.empty = empty


@dataclass(frozen=True)
class Endpoint:
    """Where to connect and what to call the host, from a URL and an optional Host override."""

    scheme: str
    address: str
    port: int
    path: str
    host_header: str
    tls: ssl.SSLContext | None
    server_hostname: str | None

    @classmethod
    def from_url(cls, url: str, host: str | None = None, insecure: bool = False) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"must be an http:// or https:// URL, got {redact_url(url)!r}")
        if not parts.hostname:
            raise ValueError(f"has no host, got {redact_url(url)!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ValueError(f"has a bad port, got {redact_url(url)!r}") from None
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        default_port = port == (443 if parts.scheme == "https" else 80)
        netloc = parts.hostname if default_port else f"{parts.hostname}:{port}"
        if ":" in parts.hostname and not default_port:
            netloc = f"[{parts.hostname}]:{port}"
        host_header = host or netloc
        tls = None
        server_hostname = None
        if parts.scheme == "https":
            tls = ssl.create_default_context()
            if insecure:
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
            # With --host the URL is usually a load balancer: the gateway picks its
            # certificate by SNI, so SNI and verification use the host the mesh serves.
            server_hostname = (host or parts.hostname).split(":")[0]
        return cls(
            scheme=parts.scheme,
            address=parts.hostname,
            port=port,
            path=path,
            host_header=host_header,
            tls=tls,
            server_hostname=server_hostname,
        )

    def request(self, headers: list[tuple[str, str]]) -> bytes:
        """The bytes of a GET for this target carrying ``headers`` after Host."""
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{name}: {value}" for name, value in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Connection(asyncio.Protocol):
    """One keep-alive connection; ``send`` returns a future of the next answer."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Answer] | None = None
        self._head: tuple[int, dict[bytes, bytes], int, int] | None = None
        self._keep_alive = True
        self.used = False
        """Whether an answer has already come over this connection."""

    @property
    def usable(self) -> bool:
        return self._transport is not None and self._keep_alive

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is not None:
            try:
                self._advance()
            except ProtocolError as exc:
                self._fail(exc)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        head = self._head
        if head is not None and head[2] == _UNTIL_CLOSE:
            status, headers, _, start = head
            self._finish(Answer(status, headers, bytes(self._buffer[start:])), len(self._buffer))
            return
        if exc is not None and not isinstance(exc, ConnectionError):
            waiter.set_exception(exc)  # a TLS failure, say: keep what it was
        else:
            waiter.set_exception(ConnectionClosedError(empty=not self._buffer))
        self._waiter = None

    # use

    def send(self, request: bytes) -> asyncio.Future[Answer]:
        """Write ``request``; the future resolves to its answer or to the reason it failed."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Answer] = loop.create_future()
        if self._transport is None:
            waiter.set_exception(ConnectionClosedError(empty=True))
            return waiter
        self._waiter = waiter
        self._head = None
        self._transport.write(request)
        return waiter

    def close(self) -> None:
        """Drop the connection now (after a timeout its next bytes would be the wrong answer)."""
        if self._transport is not None:
            self._transport.abort()
            self._transport = None
        self._keep_alive = False

    # parsing

    def _advance(self) -> None:
        buffer = self._buffer
        while self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    raise ProtocolError("answer head too large")
                return
            status, headers, keep_alive = _parse_head(bytes(buffer[:end]))
            if 100 <= status < 200 and status != 101:
                # An interim answer (100 Continue, 103 Early Hints): the real one follows.
                del buffer[: end + 4]
                continue
            self._keep_alive = keep_alive
            self._head = (status, headers, _framing(status, headers), end + 4)
        status, headers, length, start = self._head
        # Checked as the bytes arrive: a body is held whole (for --version-pattern), so one that
        # never ends must end the answer, not the memory. Chunk framing counts too; it is small.
        if length > _MAX_BODY or len(buffer) - start > _MAX_BODY + 64 * 1024:
            raise ProtocolError(f"answer body over {_MAX_BODY >> 20} MiB")
        if length >= 0:
            stop = start + length
            if len(buffer) >= stop:
                self._finish(Answer(status, headers, bytes(buffer[start:stop])), stop)
        elif length == _CHUNKED:
            parsed = _parse_chunked(buffer, start)
            if parsed is not None:
                body, stop = parsed
                self._finish(Answer(status, headers, body), stop)

    def _finish(self, answer: Answer, consumed: int) -> None:
        del self._buffer[:consumed]
        self._head = None
        self.used = True
        waiter, self._waiter = self._waiter, None
        if not self._keep_alive:
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 << 20
_CHUNKED = -1
_UNTIL_CLOSE = -2


def _parse_head(head: bytes) -> tuple[int, dict[bytes, bytes], bool]:
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        raise ProtocolError(f"not an HTTP/1.x answer: {lines[0][:60]!r}")
    try:
        status = int(status_line[1])
    except ValueError:
        raise ProtocolError(f"bad status line: {lines[0][:60]!r}") from None
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        key = name.strip().lower()
        value = value.strip()
        # Repeated headers are joined as RFC 9110 allows for list-valued fields; Set-Cookie is not
        # one (its Expires holds a comma), so its lines are joined by a newline, which no field
        # value can contain.
        joint = _COOKIE_LINES if key == b"set-cookie" else b", "
        headers[key] = headers[key] + joint + value if key in headers else value
    connection = headers.get(b"connection", b"").lower()
    # HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told not to.
    keep_alive = b"keep-alive" in connection if status_line[0] == b"HTTP/1.0" else b"close" not in connection
    return status, headers, keep_alive


def _framing(status: int, headers: dict[bytes, bytes]) -> int:
    """The body's length, or how its end is found (RFC 9112 section 6.3)."""
    if status in (204, 304):
        return 0
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        return _CHUNKED
    length = headers.get(b"content-length")
    if length is not None:
        try:
            value = int(length.split(b",")[0])
        except ValueError:
            raise ProtocolError(f"bad content-length: {length[:40]!r}") from None
        if value < 0:
            raise ProtocolError(f"bad content-length: {length[:40]!r}")
        return value
    return _UNTIL_CLOSE


def _parse_chunked(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """The body and the offset past it, or None while the body is incomplete."""
    body = bytearray()
    pos = start
    while True:
        line_end = buffer.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size_text = bytes(buffer[pos:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size: {size_text[:20]!r}") from None
        pos = line_end + 2
        if size == 0:
            # Optional trailer fields, then an empty line.
            if buffer[pos : pos + 2] == b"\r\n":
                return bytes(body), pos + 2
            trailer_end = buffer.find(b"\r\n\r\n", pos)
            if trailer_end < 0:
                return None
            return bytes(body), trailer_end + 4
        if len(buffer) < pos + size + 2:
            return None
        body += buffer[pos : pos + size]
        pos += size + 2


async def connect(target: Endpoint) -> Connection:
    """Open a connection to ``target``; raises OSError subclasses as the socket layer does."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        Connection,
        target.address,
        target.port,
        ssl=target.tls,
        server_hostname=target.server_hostname,
    )
    return protocol
