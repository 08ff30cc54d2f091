"""What stands between the rollout and a hosted Prometheus, on loopback: TLS from a CA of the
test's own and basic auth (Prometheus' own `--web.config.file`), or a gateway that wants a bearer
token and a tenant header (as Mimir's, Grafana Cloud's and the managed services' do: Prometheus
itself has no bearer-token auth).
"""

from __future__ import annotations

import contextlib
import subprocess
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.support.loopback_http import LOOPBACK, QuietHandler, listening


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

    class Gateway(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.headers.get("Authorization", ""))
            wanted = {"Authorization": f"Bearer {token}", **headers}
            if any(self.headers.get(name) != value for name, value in wanted.items()):
                self.send_body(401, b'{"status":"error","error":"authentication required"}')
                return
            self.forward_get(upstream)

    with listening(Gateway) as url:
        yield url, seen
