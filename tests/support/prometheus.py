"""A real Prometheus server on loopback, scraping the loopback data plane, for the e2e tier.

The binary is Debian's (`e2e/toolchain prometheus` unpacks the package into the toolchain cache;
e2e/test builds it with the rest). Each `Prometheus` keeps its storage in a folder of its own and
listens on 127.0.0.1 at a free port that it keeps across `stop()` and `start()`, so a URL handed
to the command under test stays valid when a test stops the server mid-rollout and starts it again.

    with Prometheus([plane.metrics_target], tmp_path / "prometheus") as prometheus:
        prometheus.wait_for(f'istio_requests_total{{destination_version="v2"}}')
        prometheus.instant_query("sum by (destination_version) (istio_requests_total)")
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
BUILD_COMMAND = "e2e/toolchain prometheus"


def default_binary() -> Path:
    """Where e2e/toolchain puts the binary (the cache folder `ISTIO_CANARY_CACHE` moves it)."""
    cache = Path(os.environ.get("ISTIO_CANARY_CACHE", Path.home() / ".cache" / "istio-canary"))
    return cache / "bin" / "prometheus"


class PrometheusMissingError(RuntimeError):
    """The binary is not there: the toolchain piece was not built."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class Prometheus:
    """One Prometheus server scraping `targets` (`host:port`, path /metrics) every `scrape_interval`."""

    def __init__(
        self,
        targets: Sequence[str],
        workdir: Path,
        *,
        binary: Path | None = None,
        scrape_interval: str = "1s",
        port: int | None = None,
        web_config: Mapping[str, Any] | None = None,
        client_headers: Mapping[str, str] | None = None,
        ca_file: Path | None = None,
    ) -> None:
        """`web_config`: Prometheus' own `--web.config.file` (TLS, basic auth); then this helper's
        own requests carry `client_headers` and verify the server with `ca_file`."""
        self.binary = binary or default_binary()
        if not os.access(self.binary, os.X_OK):
            raise PrometheusMissingError(f"{self.binary} is missing: build it with `{BUILD_COMMAND}`")
        self.targets = list(targets)
        self.workdir = workdir
        self.scrape_interval = scrape_interval
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_file = workdir / "prometheus.yml"
        self.log_file = workdir / "prometheus.log"
        self.config_file.write_text(self._config())
        self.web_config = dict(web_config) if web_config else None
        self.web_config_file = workdir / "web.yml"
        if self.web_config is not None:
            self.web_config_file.write_text(json.dumps(self.web_config, indent=2) + "\n")
        self.client_headers = dict(client_headers or {})
        self._ssl = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None

    @property
    def url(self) -> str:
        scheme = "https" if self.web_config and "tls_server_config" in self.web_config else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}"

    def _open(self, url: str, timeout: float) -> Any:
        request = urllib.request.Request(url, headers=self.client_headers)
        return urllib.request.urlopen(request, timeout=timeout, context=self._ssl)

    def _config(self) -> str:
        # JSON is YAML. The job name is Istio's for the sidecars' merged metrics.
        config = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "scrape_configs": [
                {
                    "job_name": "kubernetes-pods",
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": self.targets}],
                }
            ],
        }
        return json.dumps(config, indent=2) + "\n"

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> Prometheus:
        """Start the server; return once it is ready and has scraped every target successfully.

        About 5.5 s here: ready in a fraction of a second, then the discovery manager hands the
        targets to the scrapers on its fixed 5 s tick.
        """
        if self.running:
            raise RuntimeError(f"Prometheus is already running (pid {self.process.pid if self.process else '?'})")
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    f"--config.file={self.config_file}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address={LOOPBACK}:{self.port}",
                    # Not the package's /etc and /usr/share defaults: nothing outside the workdir.
                    f"--web.console.templates={self.workdir / 'consoles'}",
                    f"--web.console.libraries={self.workdir / 'console_libraries'}",
                    "--log.level=warn",
                    *([f"--web.config.file={self.web_config_file}"] if self.web_config is not None else []),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        self._wait(deadline, "ready (/-/ready)", self._ready)
        self._wait(deadline, f"every target up ({', '.join(self.targets)})", self._targets_up)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); its data stays for a restart."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- queries ----------------------------------------------------------------------------

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a successful answer of the HTTP API (`/api/v1/<path>`)."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with self._open(url, 5) as response:
            document = json.load(response)
        if document.get("status") != "success":
            raise RuntimeError(f"Prometheus refused {path} {params}: {document.get('error')}")
        return document["data"]

    def instant_query(self, promql: str) -> list[tuple[dict[str, str], float]]:
        """Each series of an instant query's vector result: (labels, value)."""
        data = self.api("query", query=promql)
        if data["resultType"] != "vector":
            raise RuntimeError(f"expected a vector from {promql!r}, got a {data['resultType']}")
        return [(sample["metric"], float(sample["value"][1])) for sample in data["result"]]

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[tuple[dict[str, str], float]]:
        """The query's result, once it has any series (scrapes and rates need a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.instant_query(promql)
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"no series for {promql!r} after {timeout} s")
            time.sleep(0.5)

    # --- inside -----------------------------------------------------------------------------

    def _ready(self) -> bool:
        try:
            with self._open(f"{self.url}/-/ready", 2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _targets_up(self) -> bool:
        active = self.api("targets", state="active")["activeTargets"]
        return len(active) == len(self.targets) and all(target["health"] == "up" for target in active)

    def _wait(self, deadline: float, what: str, condition: Callable[[], bool]) -> None:
        while not condition():
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"Prometheus exited while waiting to be {what}; its log:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"Prometheus was not {what} in time; its log:\n{self._log_tail()}")
            time.sleep(0.2)

    def _log_tail(self, lines: int = 30) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
