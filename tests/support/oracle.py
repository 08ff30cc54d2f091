"""Istio's own answer to "where does this request go": a client of the routing oracle.

`e2e/istio-route` runs a folder of manifests through istiod's translation (in process) and each
request through Envoy's route matching over the route tables istiod produced; it answers one
JSON line per request line. This module keeps one such process and asks it, so tests and the
e2e data plane never decide a route with the product's own reader of the spec.

    with Oracle(manifest_dir) as oracle:
        answer = oracle.ask("nginx-app.example.com", headers={"cookie": "a=1; version=v2"})
        answer.destinations     # {"v2": 100.0}: version -> percent
        oracle.load(other_dir)  # route by other manifests from now on

The wrapper builds the binary (with istioctl, through e2e/toolchain) when it is missing.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMMAND = ROOT / "e2e" / "istio-route"


class OracleError(Exception):
    """The oracle refused the manifests or a request; the message is its own line."""


@dataclass(frozen=True)
class Answer:
    """Where the gateway Istio programs sends one request."""

    route: str | None
    """The Envoy route's name (istiod names it), None when no route or virtual host takes it."""
    destinations: Mapping[str, float]
    """Version -> percent of such requests (a subset's name, or the version a Service selects)."""
    mirror: Mapping[str, float]
    """Version -> percent of such requests also copied there."""
    response_headers: Mapping[str, str]
    """Headers every destination's answer carries alike."""
    destination_headers: Mapping[str, tuple[tuple[str, str], ...]]
    """Version -> the header lines its answers carry, the upstream's with the route's changes."""
    redirect: Mapping[str, Any] | None
    raw: Mapping[str, Any]
    timeout: str | None = None
    """The route's request timeout as Envoy holds it (`3s`; `0s` is none)."""
    retry: Mapping[str, Any] | None = None
    """The route's retry policy as Envoy holds it: `retryOn`, `numRetries`, `perTryTimeout`."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Answer:
        return cls(
            route=data["route"],
            destinations=data["destinations"],
            mirror=data["mirror"],
            response_headers=data["responseHeaders"],
            destination_headers={v: tuple((n, x) for n, x in lines) for v, lines in data["destinationHeaders"].items()},
            redirect=data.get("redirect"),
            raw=data,
            timeout=data.get("timeout"),
            retry=data.get("retry"),
        )


class Oracle:
    """One `e2e/istio-route` process; thread-safe (one question at a time)."""

    def __init__(self, manifests: Path, command: Sequence[str] | None = None) -> None:
        self._lock = threading.Lock()
        # A file, not a pipe: nobody reads stderr until the process ends, and a full pipe would stall it.
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in close())
        self._process = subprocess.Popen(
            [*(command or [str(COMMAND)]), str(manifests)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        # The first translation happens before the first line is read: a ping answers once it is done.
        self._call({"host": "oracle.invalid"})

    def _call(self, message: Mapping[str, Any]) -> dict[str, Any]:
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        with self._lock:
            try:
                process.stdin.write(json.dumps(message) + "\n")
                process.stdin.flush()
            except BrokenPipeError:
                pass  # it exited: its stderr says why, below
            line = process.stdout.readline()
        if not line:
            process.wait(60)
            self._stderr.seek(0)
            lines = self._stderr.read().strip().splitlines()
            raise OracleError(lines[-1] if lines else f"the oracle exited with status {process.returncode}")
        data: dict[str, Any] = json.loads(line)
        if "error" in data:
            raise OracleError(data["error"])
        return data

    def load(self, manifests: Path) -> None:
        """Route by the manifests in this folder from now on."""
        self._call({"load": str(manifests)})

    def ask(
        self,
        host: str,
        path: str = "/",
        headers: Mapping[str, str] | None = None,
        *,
        scheme: str = "http",
        upstream_headers: Sequence[tuple[str, str]] = (),
        method: str = "GET",
    ) -> Answer:
        """Route one request. `upstream_headers` are the lines the app answers with, which the
        route's header changes apply to."""
        data = self._call(
            {
                "host": host,
                "path": path,
                "method": method,
                "scheme": scheme,
                "headers": dict(headers or {}),
                "answer": [list(pair) for pair in upstream_headers],
            }
        )
        return Answer.from_json(data)

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Oracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
