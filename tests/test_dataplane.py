"""The e2e tier's loopback data plane and load generator, on specs fed directly: no cluster.

The specs are what the program writes (`virtual_service` of the routing plan) or written by hand;
the expected splits, statuses and metric values below are written out from the spec's meaning,
not computed with the code under test. The metrics are read back with a parser of this file's own.
The plane routes through istiod's translation (the oracle), so these tests are in the `istio` tier.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest

from canary.plan.canary_rules import Canary
from tests.support.dataplane import DataPlane
from tests.support.dataplane_checks import SpecHolder, parse_exposition, series
from tests.support.load import LoadGenerator
from tests.support.prometheus import Prometheus, PrometheusMissingError
from tests.support.routing_cases import spec as planned_spec

pytestmark = pytest.mark.istio

ISTIO_BUCKETS = [
    "0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "30000", "60000",
    "300000", "600000", "1800000", "3600000", "+Inf",
]  # fmt: skip


class Client:
    """A keep-alive HTTP/1.1 client for one URL; closed when the test ends."""

    opened: ClassVar[list[Client]] = []

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname and parts.port
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        self.path = parts.path or "/"
        Client.opened.append(self)

    def get(self, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        self.connection.request("GET", self.path, headers=dict(headers or {}))
        response = self.connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    def versions(self, n: int, headers: Mapping[str, str] | None = None) -> Counter[tuple[int, str | None]]:
        """(status, version header) of `n` answers."""
        answers: Counter[tuple[int, str | None]] = Counter()
        for _ in range(n):
            status, got, _ = self.get(headers)
            answers[(status, got.get("x-canary-version"))] += 1
        return answers


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while Client.opened:
        Client.opened.pop().connection.close()


@pytest.fixture
def plane() -> Iterator[DataPlane]:
    holder = SpecHolder(planned_spec(Canary(version="v2", cookie="version=v2", weight=10)))
    with DataPlane("shop", "web", source=holder, refresh_seconds=0.1) as running:
        # Fast answers unless a test says otherwise: these tests count, they do not time.
        running.behave("v1", latency_ms=0)
        running.behave("v2", latency_ms=0)
        yield running


def holder_of(plane: DataPlane) -> SpecHolder:
    assert isinstance(plane.source, SpecHolder)
    return plane.source


# --- routing ------------------------------------------------------------------------------


def non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_it_listens_on_loopback_only(plane: DataPlane) -> None:
    assert urlsplit(plane.url).hostname == urlsplit(plane.metrics_url).hostname == "127.0.0.1"
    assert plane.port != plane.metrics_port
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    for port in (plane.port, plane.metrics_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, port), timeout=2).close()


def test_the_cookie_route_and_the_default_route_answer_as_the_spec_says(plane: DataPlane) -> None:
    client = Client(plane.url)
    status, headers, body = client.get({"cookie": "_ga=1; version=v2; theme=dark"})
    assert (status, headers["x-canary-version"]) == (200, "v2")
    assert b"version: v2" in body
    # The cookie's name must match exactly; anything else takes the weighted default route.
    assert client.versions(100, {"cookie": "myversion=v2"}) == {(200, "v1"): 90, (200, "v2"): 10}


def test_the_split_over_many_requests_is_what_the_weights_say(plane: DataPlane) -> None:
    holder_of(plane).spec = planned_spec(Canary(version="v2", cookie="version=v2", weight=25))
    plane.refresh()
    assert Client(plane.url).versions(1000) == {(200, "v1"): 750, (200, "v2"): 250}


def test_a_changed_spec_is_followed_within_a_second(plane: DataPlane) -> None:
    client = Client(plane.url)
    assert client.versions(10) == {(200, "v1"): 9, (200, "v2"): 1}
    holder_of(plane).spec = planned_spec(Canary(version="v2", cookie="version=v2", weight=50))
    began = time.monotonic()
    plane.wait_for_split({"v1": 50, "v2": 50}, timeout=1.0)
    assert time.monotonic() - began < 1.0
    assert client.versions(100) == {(200, "v1"): 50, (200, "v2"): 50}


def test_a_failed_read_keeps_the_last_spec(plane: DataPlane) -> None:
    holder = holder_of(plane)
    holder.fail = True
    holder.spec = planned_spec(None)  # what a good read would now return: everything to v1
    assert plane.refresh() is False
    assert plane.refresh_errors >= 1
    assert Client(plane.url).versions(10) == {(200, "v1"): 9, (200, "v2"): 1}


def test_a_request_no_route_takes_is_a_404_and_not_in_the_metrics(plane: DataPlane) -> None:
    route = {"destination": {"host": "web-service", "subset": "v2"}}
    holder_of(plane).spec = {"http": [{"match": [{"headers": {"x-team": {"exact": "qa"}}}], "route": [route]}]}
    plane.refresh()
    client = Client(plane.url)
    assert client.get()[0] == 404
    assert client.get({"x-team": "qa"})[0] == 200
    assert plane.unrouted == 1
    assert plane.metrics.requests() == {("v2", 200): 1}


def test_no_virtual_service_is_a_404(plane: DataPlane) -> None:
    holder_of(plane).spec = None
    plane.refresh()
    assert Client(plane.url).get()[0] == 404


# --- behaviours ---------------------------------------------------------------------------


def test_an_error_rate_shows_in_the_answers(plane: DataPlane) -> None:
    holder_of(plane).spec = planned_spec(None, stable="v2")  # everything to v2
    plane.refresh()
    plane.behave("v2", error_rate=0.25)
    answers = Client(plane.url).versions(800)
    # The mesh names the version on error answers too. 200 expected; 4 standard deviations either side.
    assert set(answers) == {(200, "v2"), (500, "v2")}
    assert 150 <= answers[(500, "v2")] <= 250
    plane.behave("v2", error_rate=0.0)
    assert Client(plane.url).versions(100) == {(200, "v2"): 100}


def test_a_latency_shows_in_the_answer_time(plane: DataPlane) -> None:
    plane.behave("v1", latency_ms=40)
    client = Client(plane.url)
    client.get()  # connect first: time the answer, not the handshake
    began = time.perf_counter()
    status, headers, _ = client.get()
    elapsed_ms = (time.perf_counter() - began) * 1000
    assert (status, headers["x-canary-version"]) == (200, "v1")
    assert elapsed_ms >= 36  # 40 ms less the 10 % jitter


def test_behave_changes_only_the_fields_given(plane: DataPlane) -> None:
    plane.behave("v2", error_rate=0.5, latency_ms=7)
    plane.behave("v2", error_rate=0.1)
    assert (plane.behaviour("v2").error_rate, plane.behaviour("v2").latency_ms) == (0.1, 7)
    with pytest.raises(ValueError, match="error_rate"):
        plane.behave("v2", error_rate=1.5)


# --- metrics ------------------------------------------------------------------------------


def scrape(plane: DataPlane) -> tuple[str, str]:
    client = Client(plane.metrics_url)
    status, headers, body = client.get()
    assert status == 200
    return headers["content-type"], body.decode()


def test_the_metrics_are_istios_standard_ones_with_the_destinations_labels(plane: DataPlane) -> None:
    holder_of(plane).spec = planned_spec(Canary(version="v2", weight=50))
    plane.refresh()
    plane.behave("v1", latency_ms=30)
    plane.behave("v2", error_rate=1.0)
    assert Client(plane.url).versions(20) == {(200, "v1"): 10, (500, "v2"): 10}

    content_type, text = scrape(plane)
    assert content_type.startswith("text/plain; version=0.0.4")
    types, samples = parse_exposition(text)
    assert types == {"istio_requests_total": "counter", "istio_request_duration_milliseconds": "histogram"}
    assert {name for name, _, _ in samples} == {
        "istio_requests_total",
        "istio_request_duration_milliseconds_bucket",
        "istio_request_duration_milliseconds_sum",
        "istio_request_duration_milliseconds_count",
    }
    totals = [(labels, value) for name, labels, value in samples if name == "istio_requests_total"]
    destination = {
        "destination_workload_namespace": "shop",
        "destination_app": "web",
        "destination_service": "web-service.shop.svc.cluster.local",
        "destination_service_name": "web-service",
        "destination_service_namespace": "shop",
        "request_protocol": "http",
        "response_flags": "-",
    }
    gateway = {"source_workload": "istio-ingressgateway", "source_workload_namespace": "istio-system"}
    expected = [
        (
            {
                "reporter": reporter,
                **(gateway if reporter == "source" else {}),
                "destination_workload": f"web-deployment-{version}",
                "destination_version": version,
                **destination,
                "response_code": code,
            },
            10.0,
        )
        for version, code in (("v1", "200"), ("v2", "500"))
        for reporter in ("destination", "source")
    ]
    # Each request twice, as the two proxies of a real call report it: the gateway and the sidecar.
    order = lambda t: (t[0]["destination_version"], t[0]["reporter"])  # noqa: E731
    assert sorted(totals, key=order) == sorted(expected, key=order)


def test_a_request_that_never_reaches_its_version_is_a_503_the_gateway_alone_reports(plane: DataPlane) -> None:
    holder_of(plane).spec = planned_spec(None, stable="v2")  # everything to v2
    plane.refresh()
    plane.behave("v2", unreachable_rate=1.0)
    answers = Client(plane.url).versions(20)
    assert answers == {(503, None): 20}
    _, samples = parse_exposition(scrape(plane)[1])
    assert series(samples, "istio_requests_total", reporter="source", destination_version="unknown") == [20.0]
    assert series(samples, "istio_requests_total", reporter="destination") == []
    assert plane.metrics.requests("source") == {("unknown", 503): 20} and plane.metrics.requests() == {}


def test_the_duration_histogram_has_istios_buckets_and_counts_every_answer(plane: DataPlane) -> None:
    plane.behave("v1", latency_ms=30)
    Client(plane.url).versions(10)  # 9 to v1 (about 30 ms each), 1 to v2 (about 0 ms)
    _, samples = parse_exposition(scrape(plane)[1])
    v1 = {"reporter": "destination", "destination_version": "v1", "response_code": "200"}
    buckets = [
        (labels["le"], value)
        for name, labels, value in samples
        if name.endswith("_bucket") and v1.items() <= labels.items()
    ]
    assert [le for le, _ in buckets] == ISTIO_BUCKETS
    counts = dict(buckets)
    # 27 to 33 ms asked for: none within 25 ms, all within 100 ms (50 leaves no room for a slow moment).
    assert counts["25"] == 0
    assert counts["100"] == counts["+Inf"] == 9
    assert [value for _, value in buckets] == sorted(value for _, value in buckets)  # cumulative
    assert series(samples, "istio_request_duration_milliseconds_count", **v1) == [9]
    (total_ms,) = series(samples, "istio_request_duration_milliseconds_sum", **v1)
    assert 9 * 27 <= total_ms <= 9 * 100
    assert series(samples, "istio_request_duration_milliseconds_count", destination_version="v2") == [1, 1]


def test_the_metrics_port_serves_nothing_but_metrics(plane: DataPlane) -> None:
    client = Client(plane.metrics_url.replace("/metrics", "/other"))
    assert client.get()[0] == 404
    assert plane.metrics.requests() == {}


# --- load generator -----------------------------------------------------------------------


def test_the_load_generator_keeps_its_rate_and_sends_each_shape_in_turn(plane: DataPlane) -> None:
    with LoadGenerator(plane.url, rate=200, header_sets=((), (("cookie", "version=v2"),))) as load:
        time.sleep(1.0)
    plain, cookie = load.snapshot()
    # 200 requests a second for a second, half of each shape; 15 % for a busy machine.
    assert 170 <= sum(plain.values()) + sum(cookie.values()) <= 230
    assert set(cookie) == {"v2"}
    assert set(plain) == {"v1", "v2"}
    assert load.skipped == 0
    served = plane.metrics.requests()
    assert served[("v1", 200)] == plain["v1"]
    assert served[("v2", 200)] == plain["v2"] + cookie["v2"]


def test_the_load_generator_counts_error_answers(plane: DataPlane) -> None:
    plane.behave("v1", error_rate=1.0)
    with LoadGenerator(plane.url, rate=100) as load:
        time.sleep(0.5)
    (plain,) = load.snapshot()
    assert plain["http_5xx"] == plane.metrics.requests()[("v1", 500)] > 0


# --- Prometheus ---------------------------------------------------------------------------


def test_a_missing_prometheus_names_the_command_that_builds_it(tmp_path: Path) -> None:
    with pytest.raises(PrometheusMissingError, match=r"e2e/toolchain prometheus"):
        Prometheus(["127.0.0.1:1"], tmp_path, binary=tmp_path / "bin" / "prometheus")


def test_the_apps_business_counters_are_exported_per_version_when_asked_for() -> None:
    holder = SpecHolder(planned_spec(Canary(version="v2", weight=50)))
    with DataPlane("shop", "web", source=holder, refresh_seconds=0.1, business_metrics=True) as plane:
        plane.behave("v1", latency_ms=0)
        plane.behave("v2", latency_ms=0, checkout_failure_rate=1.0)
        assert Client(plane.url).versions(20) == {(200, "v1"): 10, (200, "v2"): 10}  # no 5xx
        _, text = scrape(plane)
    types, samples = parse_exposition(text)
    assert types["shop_checkouts_total"] == types["shop_checkout_failures_total"] == "counter"
    where = {"namespace": "shop", "app": "web"}
    assert series(samples, "shop_checkouts_total", **where, version="v1") == [10.0]
    assert series(samples, "shop_checkouts_total", **where, version="v2") == [10.0]
    # Stable's failure counter is there at 0: a series the preflight finds.
    assert series(samples, "shop_checkout_failures_total", **where, version="v1") == [0.0]
    assert series(samples, "shop_checkout_failures_total", **where, version="v2") == [10.0]
