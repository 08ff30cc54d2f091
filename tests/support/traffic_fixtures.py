"""Helpers shared by the traffic tests: loopback servers, route files, running the commands.

Imported by the tests of tests/traffic/ and tests/cli/test_traffic.py; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from canary.cli.traffic import traffic_main, verify_main

LOOPBACK = "127.0.0.1"

COOKIE_ROUTE = {"when": {"cookie": "version=v2"}, "split": {"v2": 100}}
HEADER_ROUTE = {"when": {"headers": {"x-canary": "always"}}, "split": {"v2": 100}}


# A self-signed certificate for nginx-app.example.com (valid 2026-2126), for HTTPS tests.
TLS_HOST = "nginx-app.example.com"
_TLS_CERT = """-----BEGIN CERTIFICATE-----
MIIBuDCCAV+gAwIBAgIUf+06+DV5lgRDLOMkAIo15DAu2HcwCgYIKoZIzj0EAwIw
IDEeMBwGA1UEAwwVbmdpbngtYXBwLmV4YW1wbGUuY29tMCAXDTI2MTEyNjAzMzIy
MloYDzIxMjYxMTAyMDMzMjIyWjAgMR4wHAYDVQQDDBVuZ2lueC1hcHAuZXhhbXBs
ZS5jb20wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAS4jl53vFqdr19JUDGTTnjc
m2MZcIT1b9AukV7JIvveCZPcahZo1TsPP7KWmLCqxf645lmLDF6vP5d2/a0S6UKh
o3UwczAdBgNVHQ4EFgQUzH8aiivuPEubtB/JR6PLiBtGs48wHwYDVR0jBBgwFoAU
zH8aiivuPEubtB/JR6PLiBtGs48wDwYDVR0TAQH/BAUwAwEB/zAgBgNVHREEGTAX
ghVuZ2lueC1hcHAuZXhhbXBsZS5jb20wCgYIKoZIzj0EAwIDRwAwRAIgGfV9KGdg
6OWa3V7i4++K0wkxewNr0D9u8sXiSC7rlvACIHez9/etyHSXDIm/5tY1ICELBPBo
lPJuBnb6CWipDZlC
-----END CERTIFICATE-----
"""
_TLS_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfm7Ip3Sj07hXCbrM
/DCfEN2plff/yvdbsBqShjjYaJ6hRANCAAS4jl53vFqdr19JUDGTTnjcm2MZcIT1
b9AukV7JIvveCZPcahZo1TsPP7KWmLCqxf645lmLDF6vP5d2/a0S6UKh
-----END PRIVATE KEY-----
"""


def tls_server_context(directory: Path, server_names: list[str | None]) -> ssl.SSLContext:
    """A server TLS context with the test certificate; the SNI of each handshake is appended
    to ``server_names``."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    cert.write_text(_TLS_CERT)
    key.write_text(_TLS_KEY)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    return context


def plain_route(split: dict[str, int]) -> dict:
    return {"when": {}, "split": split}


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def write_routes(tmp_path: Path, data: object, name: str = "routes.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


@dataclass
class Outcome:
    """What a command returned and printed."""

    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


def run_command(main: Callable[[list[str]], int], argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return Outcome(code=code, out=captured.out, err=captured.err)


def verify(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    return run_command(verify_main, argv, capsys)


def traffic(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    return run_command(traffic_main, argv, capsys)


@contextlib.contextmanager
def scripted_server(answers: list[bytes | None], close_after: bool = False) -> Iterator[str]:
    """A loopback server that answers each request with the next entry of ``answers`` (in
    order, across connections). ``None`` closes the connection without answering, as a server
    does with an idle keep-alive connection; ``close_after`` closes it after every answer.
    Yields the URL."""
    queue = list(answers)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    port_box: list[int] = []

    class Scripted(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
                answer = queue.pop(0) if queue else None
                if answer is None:
                    self.transport.close()
                    return
                self.transport.write(answer)
                if close_after:
                    self.transport.close()
                    return

    async def serve() -> None:
        server = await loop.create_server(Scripted, LOOPBACK, 0)
        port_box.append(server.sockets[0].getsockname()[1])
        ready.set()
        async with server:
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield f"http://{LOOPBACK}:{port_box[0]}/"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)
        loop.close()
