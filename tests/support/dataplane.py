"""A loopback data plane that stands in for Istio's: it routes as istiod programs the gateway.

kwok's pods run nothing, so the local cluster has no sidecars and no gateway. This server plays
both for one app: every request it takes is routed by the app's routing objects as the API server
holds them (the VirtualService with its Gateway, DestinationRule and Service, or the Gateway API
Gateway, HTTPRoutes and per-version Services; re-read in the background, so a `pulumi up` that
moves the weights is followed within a second), answered the way that version is told to behave,
and counted in the metrics both proxies of a real call report, which Prometheus scrapes: once by
the ingress gateway (`reporter="source"`) and once more by the version's sidecar
(`reporter="destination"`) when the request reached it.

- Routing is Istio's own: the objects go through istiod's translation and each request through
  Envoy's route matching over the result (the oracle, `tests/support/oracle.py`), which names the
  route, its split, the response headers each destination answers with (the version header, the
  sticky Set-Cookie) and the mirror. The product's own reader of the spec decides nothing here.
  The version is picked by smooth weighted round robin, so a split is exact in every cycle of
  100 requests.
- A route's mirror copies each request with its probability (seeded) to the mirror subset, which
  answers as its `Behaviour` says into the void: only the metrics see it, as in Istio, where the
  mirror's destination sidecar reports the shadow request and the client never gets its answer.
- A request no route takes is answered 404, as Istio's gateway does; the destination sidecar
  never sees it, so it is not in the metrics either (`DataPlane.unrouted` counts it).
- The Host header is not read: the tests address the plane by its loopback URL. Each request is
  routed as one for the first host the VirtualService or HTTPRoute names (https when the gateway
  serves TLS on 443, since port 80 then only redirects).
- Each version behaves as its `Behaviour` says (an error rate and a latency), changeable while
  traffic flows: `plane.behave("v2", error_rate=0.05)`. `unreachable_rate` is the share of its
  requests that never reach it (no healthy upstream): the gateway answers them 503 itself, and
  only the gateway reports them, with `destination_version="unknown"` as Istio labels a request
  whose upstream it never picked.
- Shadow requests of a mirror are reported by the mirror's destination only.

Two ports on 127.0.0.1, both ephemeral: `url` takes the traffic; `metrics_url` serves
`GET /metrics`, a port of its own as a sidecar's metrics port is, so a scrape is never routed.
Both are served by one asyncio loop on a thread of its own.

    with DataPlane("canary-deployment", "nginx") as plane:    # follows the namespace's routing objects
        plane.behave("v2", latency_ms=30)
        ...  # send requests to plane.url; scrape plane.metrics_url
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from tests.support.app_metrics import AppMetrics
from tests.support.fake_mesh import _Picker
from tests.support.oracle import Answer, Oracle, OracleError
from tests.support.stack import kubectl

LOOPBACK = "127.0.0.1"
# Istio's default buckets for istio_request_duration_milliseconds (its stats filter's defaults).
DURATION_BUCKETS_MS = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
    1800000, 3600000,
)  # fmt: skip
REFRESH_SECONDS = 0.5

log = logging.getLogger(__name__)

ManifestSource = Callable[[], Sequence[Mapping[str, Any]] | None]
"""Returns the app's routing objects as they stand (Kubernetes objects as dicts), None when unknown."""

# What the gateway's route table is made of: the Istio API's objects and the Gateway API's.
ISTIO_KINDS = ",".join(
    [
        "services",
        "gateways.networking.istio.io",
        "destinationrules.networking.istio.io",
        "virtualservices.networking.istio.io",
    ]
)
GATEWAY_API_KINDS = "gateways.gateway.networking.k8s.io,httproutes.gateway.networking.k8s.io"


def live_manifest_source(namespace: str) -> ManifestSource:
    """A source that reads the namespace's routing objects from the local API server (KUBECONFIG).

    One kubectl call a read; without the Gateway API's CRDs installed, the Istio kinds alone.
    """
    kinds = [f"{ISTIO_KINDS},{GATEWAY_API_KINDS}"]

    def read() -> Sequence[Mapping[str, Any]] | None:
        result = kubectl("get", kinds[0], "-n", namespace, "-o", "json")
        if result.returncode != 0 and "doesn't have a resource type" in result.stderr and kinds[0] != ISTIO_KINDS:
            kinds[0] = ISTIO_KINDS
            result = kubectl("get", kinds[0], "-n", namespace, "-o", "json")
        result.check()
        items: list[Mapping[str, Any]] = json.loads(result.stdout)["items"]
        return items

    return read


def live_split(namespace: str, headers: Mapping[str, str] | None = None) -> dict[str, float]:
    """Where requests with these headers go, version -> percent, as Istio would program the
    gateway from the namespace's routing objects the API server holds now (asked of the oracle)."""
    router = Router()
    try:
        router.update(live_manifest_source(namespace)())
        answer = router.ask(headers or {})
        return {} if answer is None else dict(answer.destinations)
    finally:
        router.close()


def _as_manifest(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as one would write it: what the API server adds (status, uid, ...) left out."""
    meta = obj.get("metadata", {})
    kept = {key: meta[key] for key in ("name", "namespace", "labels", "annotations") if meta.get(key)}
    manifest = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": kept, "spec": obj.get("spec", {})}
    return manifest


def _host_and_scheme(manifests: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """The first host the routes serve, and https when a gateway terminates TLS on 443."""
    host = None
    tls = False
    for m in manifests:
        spec = m.get("spec") or {}
        if m["kind"] == "VirtualService" and host is None:
            host = next((h for h in spec.get("hosts", []) if "." in h), None)
        if m["kind"] == "HTTPRoute" and host is None:
            host = next(iter(spec.get("hostnames", [])), None)
        if m["kind"] == "Gateway":
            ports = [s.get("port", {}) for s in spec.get("servers", [])] + spec.get("listeners", [])
            tls = tls or any(p.get("protocol") == "HTTPS" and p.get("number", p.get("port")) == 443 for p in ports)
    if host is None:
        return None
    # A wildcard host is asked as one name under it.
    return host.replace("*", "any", 1), ("https" if tls else "http")


@dataclass(frozen=True)
class Behaviour:
    """How a version answers: a 500 with probability `error_rate`, else a 200; after `latency_ms`.
    With probability `unreachable_rate` a request never reaches it: the gateway answers 503."""

    error_rate: float = 0.0
    latency_ms: float = 1.0
    unreachable_rate: float = 0.0
    checkout_failure_rate: float = 0.0
    """The share of its 200s that are failed checkouts in the app's own metrics (`AppMetrics`)."""

    def __post_init__(self) -> None:
        for name in ("error_rate", "unreachable_rate", "checkout_failure_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, got {self.latency_ms}")


# The headers the app itself answers with; the mesh's `set` and `add` apply on top.
APP_HEADERS = (("content-type", "text/html"),)


@dataclass(frozen=True)
class Routed:
    """Where a request goes: the version, the answer's headers there, and the route's mirror."""

    subset: str
    headers: tuple[tuple[str, str], ...]
    """The app's headers as the mesh passes them on: lines, since a Set-Cookie is one of its own."""
    mirror: tuple[str, float] | None = None
    """(version, percent) of the route's requests also sent there, answers discarded."""


class Router:
    """Routes requests by one set of routing objects at a time, as the oracle says; `update` swaps them."""

    def __init__(self, oracle_command: Sequence[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._manifests: list[dict[str, Any]] | None = None
        self._target: tuple[str, str] | None = None
        self._oracle: Oracle | None = None
        self._oracle_command = oracle_command
        self._folder = Path(tempfile.mkdtemp(prefix="dataplane-manifests-"))
        self._generation = 0
        # One round robin per route and split, dropped on every update.
        self._pickers: dict[tuple[str, tuple[tuple[str, float], ...]], _Picker] = {}

    @property
    def manifests(self) -> list[dict[str, Any]] | None:
        return self._manifests

    def update(self, objects: Sequence[Mapping[str, Any]] | None) -> bool:
        """Route by these objects from now on; True when they differ from the ones routed by so far."""
        manifests = (
            None
            if objects is None
            else sorted((_as_manifest(o) for o in objects), key=lambda m: (m["kind"], m["metadata"].get("name", "")))
        )
        with self._lock:
            if manifests == self._manifests:
                return False
            target = None if manifests is None else _host_and_scheme(manifests)
            if manifests is not None and target is not None:
                # A fresh folder per generation: the oracle reads every file in the one it is given.
                self._generation += 1
                folder = self._folder / str(self._generation)
                folder.mkdir()
                for i, manifest in enumerate(manifests):
                    (folder / f"{i:02d}.yaml").write_text(yaml.safe_dump(manifest))
                if self._oracle is None:
                    self._oracle = Oracle(folder, self._oracle_command)
                else:
                    self._oracle.load(folder)
                shutil.rmtree(self._folder / str(self._generation - 1), ignore_errors=True)
            self._manifests = manifests
            self._target = target
            self._pickers = {}
            return True

    def ask(self, headers: Mapping[str, str]) -> Answer | None:
        """The oracle's answer for a request with these headers; None: nothing to route by."""
        with self._lock:
            oracle, target = self._oracle, self._target
            if oracle is None or target is None:
                return None
            host, scheme = target
            return oracle.ask(host, headers=headers, scheme=scheme, upstream_headers=APP_HEADERS)

    def route(self, headers: Mapping[str, str]) -> Routed | None:
        """Where a request with these headers (names lower-case) goes; None: no route takes it."""
        answer = self.ask(headers)
        if answer is None or answer.route is None or not answer.destinations:
            return None
        key = (answer.route, tuple(sorted(answer.destinations.items())))
        with self._lock:
            picker = self._pickers.get(key)
            if picker is None:
                split = {version: round(percent) for version, percent in answer.destinations.items()}
                picker = self._pickers[key] = _Picker(split, seed=None)
            version = picker.pick()
        mirror = next(iter(answer.mirror.items()), None)
        return Routed(version, answer.destination_headers[version], mirror)

    def close(self) -> None:
        with self._lock:
            if self._oracle is not None:
                self._oracle.close()
                self._oracle = None
        shutil.rmtree(self._folder, ignore_errors=True)


def _le(bound: float) -> str:
    """A bucket bound as Prometheus clients write it: `1`, `0.5`, `1800000`."""
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


UNKNOWN = "unknown"
"""Istio's value for a destination label the reporting proxy does not know."""
BOTH = ("source", "destination")
GATEWAY = {"source_workload": "istio-ingressgateway", "source_workload_namespace": "istio-system"}


class IstioMetrics:
    """`istio_requests_total` and `istio_request_duration_milliseconds`, as both proxies report.

    The labels are those Istio's standard metrics carry that the rollout's queries and
    dashboards select on; the workload is `<app>-deployment-<version>`, the Deployment's name.
    The source's series are the ingress gateway's (every request here comes through it); a
    version of `unknown` is a request whose upstream the gateway never picked.
    """

    def __init__(self, namespace: str, app: str) -> None:
        self.namespace = namespace
        self.app = app
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = {}
        # (reporter, version, code) -> per-bucket counts (non-cumulative, the last past every bound), sum.
        self._buckets: dict[tuple[str, str, int], list[int]] = {}
        self._sums: dict[tuple[str, str, int], float] = {}

    def record(self, version: str, code: int, duration_ms: float, reporters: Sequence[str] = BOTH) -> None:
        index = next((i for i, bound in enumerate(DURATION_BUCKETS_MS) if duration_ms <= bound), None)
        with self._lock:
            for reporter in reporters:
                key = (reporter, version, code)
                self._requests[key] = self._requests.get(key, 0) + 1
                buckets = self._buckets.setdefault(key, [0] * (len(DURATION_BUCKETS_MS) + 1))
                buckets[len(DURATION_BUCKETS_MS) if index is None else index] += 1
                self._sums[key] = self._sums.get(key, 0.0) + duration_ms

    def requests(self, reporter: str = "destination") -> dict[tuple[str, int], int]:
        """A copy of one reporter's counters: (version, response code) -> requests."""
        with self._lock:
            return {(version, code): n for (by, version, code), n in self._requests.items() if by == reporter}

    def labels(self, reporter: str, version: str, code: int) -> dict[str, str]:
        service = f"{self.app}-service"
        known = version != UNKNOWN
        return {
            "reporter": reporter,
            **(GATEWAY if reporter == "source" else {}),
            "destination_workload": f"{self.app}-deployment-{version}" if known else UNKNOWN,
            "destination_workload_namespace": self.namespace,
            "destination_app": self.app if known else UNKNOWN,
            "destination_version": version,
            "destination_service": f"{service}.{self.namespace}.svc.cluster.local",
            "destination_service_name": service,
            "destination_service_namespace": self.namespace,
            "request_protocol": "http",
            "response_code": str(code),
            "response_flags": "-" if known else "UH",
        }

    def exposition(self) -> str:
        """Prometheus' text format (0.0.4)."""
        with self._lock:
            requests = dict(self._requests)
            buckets = {key: list(counts) for key, counts in self._buckets.items()}
            sums = dict(self._sums)
        lines = [
            "# HELP istio_requests_total Total requests.",
            "# TYPE istio_requests_total counter",
        ]
        for key in sorted(requests):
            lines.append(f"istio_requests_total{{{_labels(self.labels(*key))}}} {requests[key]}")
        lines += [
            "# HELP istio_request_duration_milliseconds Request duration in milliseconds.",
            "# TYPE istio_request_duration_milliseconds histogram",
        ]
        for key in sorted(buckets):
            labels = _labels(self.labels(*key))
            cumulative = 0
            for bound, count in zip([*DURATION_BUCKETS_MS, None], buckets[key], strict=True):
                cumulative += count
                le = "+Inf" if bound is None else _le(bound)
                lines.append(f'istio_request_duration_milliseconds_bucket{{{labels},le="{le}"}} {cumulative}')
            lines.append(f"istio_request_duration_milliseconds_sum{{{labels}}} {sums[key]!r}")
            lines.append(f"istio_request_duration_milliseconds_count{{{labels}}} {cumulative}")
        return "\n".join(lines) + "\n"


def _labels(labels: Mapping[str, str]) -> str:
    # Every value here is a name or a number: none holds a quote, backslash or newline to escape.
    return ",".join(f'{name}="{value}"' for name, value in labels.items())


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error", 503: "Unavailable"}


def _response(status: int, headers: Mapping[str, str] | Sequence[tuple[str, str]], body: bytes, close: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lines += [f"{name}: {value}" for name, value in pairs]
    lines.append(f"content-length: {len(body)}")
    if close:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    close: bool


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """The next request on a keep-alive connection; None when the client is done."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    method, path, protocol = [*request_line.split(" ", 2), "", ""][:3]
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        key, value = name.strip().lower(), value.strip()
        # Repeated headers fold into one, as Envoy does before matching (cookies with "; ").
        if key in headers:
            value = headers[key] + ("; " if key == "cookie" else ",") + value
        headers[key] = value
    length = int(headers.get("content-length", "0") or "0")
    if length:
        await reader.readexactly(length)  # a body means nothing here; keep the framing right
    connection = headers.get("connection", "").lower()
    close = connection == "close" or (protocol == "HTTP/1.0" and connection != "keep-alive")
    return _Request(method, path, headers, close)


class DataPlane:
    """The gateway, sidecars and metrics of one app, on loopback. See the module docstring."""

    def __init__(
        self,
        namespace: str,
        app: str,
        source: ManifestSource | None = None,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        seed: int = 0,
        oracle_command: Sequence[str] | None = None,
        business_metrics: bool = False,
    ) -> None:
        """`source` defaults to the routing objects in `namespace` on the local API server;
        `business_metrics` adds the app's own (`AppMetrics`) to the metrics port."""
        self.namespace = namespace
        self.app = app
        self.source = source or live_manifest_source(namespace)
        self.refresh_seconds = refresh_seconds
        self.router = Router(oracle_command)
        self.metrics = IstioMetrics(namespace, app)
        self.app_metrics = AppMetrics(namespace, app) if business_metrics else None
        """The app's own business metrics, served on the same metrics port (when asked for)."""
        self.unrouted = 0
        """Requests answered 404 because no route took them (or there were no routing objects)."""
        self.refresh_errors = 0
        """Reads of the routing objects that failed (the last ones read stay in force)."""
        self._behaviours: dict[str, Behaviour] = {}
        self.mirrored = 0
        """Requests copied to a route's mirror (their answers went nowhere)."""
        # Shadow requests in flight: the loop keeps only weak references to its tasks.
        self._shadows: set[asyncio.Task[None]] = set()
        # Errors and jitter from a seeded generator: a run's answers are reproducible.
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._refresher: threading.Thread | None = None
        self._refresher_stop = threading.Event()
        self.port = 0
        self.metrics_port = 0

    # --- what tests call ------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    @property
    def metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.metrics_port}/metrics"

    @property
    def metrics_target(self) -> str:
        """`host:port` of the metrics endpoint, as a Prometheus scrape config names it."""
        return f"{LOOPBACK}:{self.metrics_port}"

    def behaviour(self, version: str) -> Behaviour:
        with self._lock:
            return self._behaviours.get(version, Behaviour())

    def behave(
        self,
        version: str,
        *,
        error_rate: float | None = None,
        latency_ms: float | None = None,
        unreachable_rate: float | None = None,
        checkout_failure_rate: float | None = None,
    ) -> Behaviour:
        """Change how `version` answers from the next request on; fields not given stay."""
        with self._lock:
            current = self._behaviours.get(version, Behaviour())
            changes = {
                "error_rate": error_rate,
                "latency_ms": latency_ms,
                "unreachable_rate": unreachable_rate,
                "checkout_failure_rate": checkout_failure_rate,
            }
            new = replace(current, **{k: v for k, v in changes.items() if v is not None})
            self._behaviours[version] = new
            return new

    def refresh(self) -> bool:
        """Read the routing objects now; True when they changed."""
        try:
            objects = self.source()
        except Exception:  # the API server restarting, kubectl timing out: keep routing by the last
            self.refresh_errors += 1
            log.warning("reading the routing objects failed; routing by the last ones read", exc_info=True)
            return False
        try:
            return self.router.update(objects)
        except OracleError:
            # Objects istiod would refuse (or an oracle that died): a bug to see; the last ones stay.
            self.refresh_errors += 1
            log.error("istiod's translation refused the routing objects; routing by the last ones", exc_info=True)
            return False

    def wait_for_split(
        self, split: Mapping[str, int], headers: Mapping[str, str] | None = None, timeout: float = 10.0
    ) -> None:
        """Block until the plane routes such requests (default: none in particular) by `split`,
        as the oracle reads the objects it follows."""
        want = {version: float(percent) for version, percent in split.items() if percent > 0}
        deadline = time.monotonic() + timeout
        while True:
            answer = self.router.ask(headers or {})
            current = None if answer is None else dict(answer.destinations)
            if current == want:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the data plane still routes by {current}, not {dict(split)}")
            time.sleep(0.05)

    def start(self) -> DataPlane:
        if self._thread is not None:
            raise RuntimeError("the data plane is already running")
        self.refresh()  # route from the first request on
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self._serve(started))
            except BaseException as err:  # surfaces in start() when it fails before serving
                failure.append(err)
                started.set()

        self._thread = threading.Thread(target=run, name="dataplane", daemon=True)
        self._thread.start()
        if not started.wait(10) or failure:
            raise RuntimeError(f"the data plane did not start: {failure[0] if failure else 'timed out'}")
        self._refresher_stop.clear()
        self._refresher = threading.Thread(target=self._refresh_loop, name="dataplane-refresh", daemon=True)
        self._refresher.start()
        return self

    def stop(self) -> None:
        self._refresher_stop.set()
        if self._refresher is not None:
            self._refresher.join(10)
            self._refresher = None
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.router.close()

    def __enter__(self) -> DataPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- inside -----------------------------------------------------------------------------

    def _refresh_loop(self) -> None:
        while not self._refresher_stop.wait(self.refresh_seconds):
            if self.refresh():
                log.info("data plane now routes by %d objects", len(self.router.manifests or []))

    async def _serve(self, started: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        connections: dict[asyncio.StreamWriter, asyncio.Task[Any]] = {}

        def tracked(
            handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
        ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                task = asyncio.current_task()
                assert task is not None
                connections[writer] = task
                try:
                    await handler(reader, writer)
                except ConnectionError:
                    pass  # the client went away mid-answer
                finally:
                    del connections[writer]
                    writer.close()

            return handle

        traffic = await asyncio.start_server(tracked(self._traffic), LOOPBACK, 0)
        metrics = await asyncio.start_server(tracked(self._metrics), LOOPBACK, 0)
        self.port = traffic.sockets[0].getsockname()[1]
        self.metrics_port = metrics.sockets[0].getsockname()[1]
        started.set()
        await self._stopping.wait()
        for server in (traffic, metrics):
            server.close()
        # Keep-alive connections would outlive the servers: close them, so that each handler sees
        # the end of its stream and returns. Left to asyncio.run to cancel, a handler waiting for
        # a request trips a bug of Python 3.11's streams (it logs the CancelledError).
        handlers = list(connections.values())
        for writer in list(connections):
            writer.close()
        if handlers:
            await asyncio.wait(handlers, timeout=5)

    async def _traffic(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await _read_request(reader)) is not None:
            writer.write(await self._answer(request))
            await writer.drain()
            if request.close:
                return

    async def _answer(self, request: _Request) -> bytes:
        try:
            routed = self.router.route(request.headers)
        except OracleError as err:
            # A route table the evaluator does not model, or a dead oracle: a bug to see, not route.
            log.error("cannot route by the routing objects: %s", err)
            return _response(503, {"content-type": "text/plain"}, f"{err}\n".encode(), request.close)
        if routed is None:
            self.unrouted += 1
            return _response(404, {}, b"", request.close)
        self._mirror(routed.mirror)
        version = routed.subset
        if self._unreachable(version):
            # The gateway found no healthy upstream: its own 503, no version named, seen by it alone.
            self.metrics.record(UNKNOWN, 503, 0.0, reporters=("source",))
            return _response(503, {"content-type": "text/plain"}, b"no healthy upstream", request.close)
        status, took_ms = await self._serve_as(version)
        body = f"<h1>{self.app} app</h1><p>version: {version}</p>\n".encode()
        answer = _response(status, routed.headers, body, request.close)
        self.metrics.record(version, status, took_ms)
        if status == 200 and self.app_metrics is not None:
            rate = self.behaviour(version).checkout_failure_rate
            with self._lock:
                failed = rate > 0 and self._random.random() < rate
            self.app_metrics.checkout(version, failed)
        return answer

    def _unreachable(self, version: str) -> bool:
        rate = self.behaviour(version).unreachable_rate
        with self._lock:
            return rate > 0 and self._random.random() < rate

    async def _serve_as(self, version: str) -> tuple[int, float]:
        """Take as long as `version` does; its status and the milliseconds it took.

        The duration recorded is the version's own (its latency, with jitter), not the wall time
        of the sleep: on a busy 2-core CI machine the event loop wakes late, which says nothing
        about the version, and the tests compare versions' latencies.
        """
        behaviour = self.behaviour(version)
        with self._lock:
            jitter = self._random.uniform(0.9, 1.1)  # +-10 %: a histogram with some spread
            failed = self._random.random() < behaviour.error_rate
        took_ms = behaviour.latency_ms * jitter
        await asyncio.sleep(took_ms / 1000)
        return (500 if failed else 200), took_ms

    def _mirror(self, mirror: tuple[str, float] | None) -> None:
        """Copy the request to the mirror subset with the route's probability, not waiting for it:
        Envoy sends the shadow alongside and never holds the real answer for it."""
        if mirror is None:
            return
        subset, percent = mirror
        with self._lock:
            copied = self._random.random() * 100 < percent
        if not copied:
            return
        self.mirrored += 1
        task = asyncio.create_task(self._shadow(subset))
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    async def _shadow(self, subset: str) -> None:
        status, took_ms = await self._serve_as(subset)
        self.metrics.record(subset, status, took_ms, reporters=("destination",))

    async def _metrics(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await _read_request(reader)) is not None:
            if request.method == "GET" and request.path.split("?", 1)[0] == "/metrics":
                business = self.app_metrics.exposition() if self.app_metrics is not None else ""
                body = (self.metrics.exposition() + business).encode()
                content_type = "text/plain; version=0.0.4; charset=utf-8"
                writer.write(_response(200, {"content-type": content_type}, body, request.close))
            else:
                writer.write(_response(404, {}, b"", request.close))
            await writer.drain()
            if request.close:
                return
