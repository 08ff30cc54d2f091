"""The gates against servers on loopback: a Prometheus API, a webhook and a mesh."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from canary.rollout.gates import Target, health_gate, split_gate, webhook_gate
from canary.rollout.health import Limits
from canary.rollout.policy import Policy
from tests.fake_mesh import MeshConfig, canary_rules, serve_in_thread

Handler = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, Any]]]


@contextlib.contextmanager
def serving(handle: Handler) -> Iterator[tuple[str, list[Any]]]:
    """An HTTP server on 127.0.0.1 answering with `handle`; yields its URL and what it was sent."""
    received: list[Any] = []

    class Answer(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received.append((self.path, json.loads(self.rfile.read(length)) if length else None))
            status, body = handle(self)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def prometheus(results: dict[str, dict[str, float]]) -> Handler:
    """A Prometheus API answering each kind of query (by its metric and filter) with `results`."""

    def handle(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        query = urllib.parse.parse_qs(urllib.parse.urlparse(request.path).query)["query"][0]
        kind = "p99_ms" if "histogram_quantile" in query else "errors" if "5.." in query else "requests"
        series = [
            {"metric": {"destination_version": version}, "value": [0, str(value)]}
            for version, value in results.get(kind, {}).items()
        ]
        return 200, {"status": "success", "data": {"resultType": "vector", "result": series}}

    return handle


HEALTHY = {
    "requests": {"v1": 9000, "v2": 1000},
    "errors": {"v1": 9, "v2": 1},
    "p99_ms": {"v1": 40, "v2": 45},
}


def policy(url: str | None, **limits: Any) -> Policy:
    return Policy(prometheus=url, limits=Limits(**limits))


def test_health_gate_passes_a_canary_like_stable_and_shows_both():
    with serving(prometheus(HEALTHY)) as (url, received):
        result = health_gate(policy(url), "shop", "web", "v1", "v2", 30.4)
    assert result.ok, result.problems
    assert result.figures["canary"]["requests"] == 1000 and result.figures["stable"]["requests"] == 9000
    assert result.figures["window_seconds"] == 30
    queries = [urllib.parse.parse_qs(urllib.parse.urlparse(path).query)["query"][0] for path, _ in received]
    assert all(
        'reporter="destination"' in q and "[30s]" in q and 'destination_workload_namespace="shop"' in q for q in queries
    )
    assert all('destination_workload=~"web-deployment-(v1|v2)"' in q for q in queries)


def test_health_gate_fails_a_canary_over_the_error_limit():
    results = {**HEALTHY, "errors": {"v1": 9, "v2": 50}}
    with serving(prometheus(results)) as (url, _):
        result = health_gate(policy(url), "shop", "web", "v1", "v2", 30)
    assert not result.ok and "canary error rate 5.00% is above the limit 1%" in result.problems


def test_health_gate_fails_closed_without_canary_data():
    with serving(prometheus({"requests": {"v1": 9000}})) as (url, _):
        result = health_gate(policy(url), "shop", "web", "v1", "v2", 30)
    assert not result.ok and "no requests of canary v2" in result.problems[0] and "failing closed" in result.problems[0]


def test_health_gate_fails_closed_when_prometheus_is_unreachable():
    with serving(prometheus(HEALTHY)) as (url, _):
        pass  # the server is gone once the block ends
    result = health_gate(policy(url), "shop", "web", "v1", "v2", 30)
    assert not result.ok and "unreachable" in result.problems[0] and "failing closed" in result.problems[0]


def test_health_gate_fails_closed_on_an_error_answer():
    with serving(lambda _: (503, {"status": "error", "error": "busy"})) as (url, _):
        result = health_gate(policy(url), "shop", "web", "v1", "v2", 30)
    assert not result.ok and "answered 503" in result.problems[0]


def test_without_prometheus_the_health_gate_is_off_and_says_so():
    result = health_gate(policy(None), "shop", "web", "v1", "v2", 30)
    assert result.ok and "no Prometheus URL" in result.figures["off"]


def test_webhook_gets_the_figures_and_a_2xx_passes():
    with serving(lambda _: (204, {})) as (url, received):
        result = webhook_gate(url + "/hook", {"weight": 10})
    assert result.ok and received == [("/hook", {"weight": 10})]


def test_webhook_answering_non_2xx_or_not_at_all_fails():
    with serving(lambda _: (409, {})) as (url, _):
        assert webhook_gate(url, {}).problems == (f"webhook {url} answered 409",)
    assert "unreachable" in webhook_gate(url, {}).problems[0]


ROUTES = [
    {"when": {"cookie": "version=v2"}, "split": {"v2": 100}},
    {"when": {}, "split": {"v1": 90, "v2": 10}},
]


def test_split_gate_passes_when_the_mesh_routes_as_the_outputs_say():
    outputs = {"routes": ROUTES, "versionHeader": "x-canary-version", "urls": ["http://web.example.com/"]}
    with (
        serving(lambda _: (200, {})) as _,
        serve_in_thread(MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}))) as mesh,
    ):
        result = split_gate(outputs, Target(url=mesh.url, host="web.example.com"), Policy(verify_requests=100))
    assert result.ok, result.problems
    plain = result.figures["routes"][1]
    assert plain["counts"] == {"v1": 90, "v2": 10}


def test_split_gate_fails_when_the_mesh_routes_otherwise():
    outputs = {"routes": ROUTES, "versionHeader": "x-canary-version"}
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 50, "v2": 50}))) as mesh:
        result = split_gate(outputs, Target(url=mesh.url), Policy(verify_requests=200))
    assert not result.ok and any("plain: split differs" in p for p in result.problems)


def test_split_gate_without_a_url_fails():
    result = split_gate({"routes": ROUTES, "versionHeader": "x-canary-version"}, Target(), Policy())
    assert not result.ok and "no URL" in result.problems[0]
