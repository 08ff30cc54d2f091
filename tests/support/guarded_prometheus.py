"""What stands between the rollout and a hosted Prometheus, on loopback: TLS from a CA of the
test's own and basic auth (Prometheus' own `--web.config.file`), or a gateway that wants a bearer
token and a tenant header (as Mimir's, Grafana Cloud's and the managed services' do: Prometheus
itself has no bearer-token auth).
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"


def tls_material(folder: Path) -> tuple[Path, Path, Path]:
    """(CA bundle, server certificate, server key): a CA made here, and a certificate it signed
    for 127.0.0.1 (the system's CAs do not know it: only `caFile` can verify it)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr = folder / "server.pem", folder / "server.key", folder / "server.csr"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl = ["openssl", "req", *ec]
    subprocess.run(
        [*openssl, "-x509", "-keyout", ca_key, "-out", ca, "-days", "1", "-subj", "/CN=e2e test CA"],
        check=True,
        capture_output=True,
    )
    subprocess.run([*openssl, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    san = folder / "san.cnf"
    san.write_text(f"subjectAltName=IP:{LOOPBACK}\n")
    subprocess.run(
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
         "-days", "1", "-extfile", san],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return ca, cert, key


def bcrypt_hash(password: str) -> str:
    """The bcrypt hash Prometheus' web config wants, by the C library's crypt(3) (libxcrypt)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4))


@contextlib.contextmanager
def bearer_gateway(upstream: str, token: str, headers: Mapping[str, str]) -> Iterator[tuple[str, list[str]]]:
    """A gateway on loopback forwarding GETs to `upstream` only with `Authorization: Bearer
    <token>` and `headers`, else 401; yields its URL and each request's `Authorization` seen
    (to show that it was asked, and with what)."""
    seen: list[str] = []

    class Gateway(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            wanted = {"Authorization": f"Bearer {token}", **headers}
            if any(self.headers.get(name) != value for name, value in wanted.items()):
                self._send(401, b'{"status":"error","error":"authentication required"}')
                return
            try:
                with urllib.request.urlopen(upstream + self.path, timeout=10) as answer:
                    self._send(answer.status, answer.read())
            except urllib.error.HTTPError as err:
                self._send(err.code, err.read())

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
