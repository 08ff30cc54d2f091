"""The mesh's counters read raw from a Prometheus API on loopback: differences from the start,
resets, new series, 5xx of no version, and Prometheus failing."""

from __future__ import annotations

import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from canary.rollout.prometheus import MAX_ANSWER_BYTES, MeshReader, PrometheusError, queries, series_query
from tests.support.loopback_http import serving

SOURCE = {"reporter": "source", "destination_service_name": "web-service", "destination_service_namespace": "shop"}


def request_series(version: str, code: int, value: float, pod: str = "gw-1") -> dict[str, Any]:
    labels = {**SOURCE, "destination_version": version, "response_code": str(code), "pod": pod}
    return {"metric": {"__name__": "istio_requests_total", **labels}, "value": [0, str(value)]}


def bucket_series(version: str, le: str, value: float) -> dict[str, Any]:
    labels = {**SOURCE, "destination_version": version, "response_code": "200", "le": le}
    return {"metric": labels, "value": [0, str(value)]}


class FakePrometheus:
    """Answers the request and bucket queries with the series a test sets, and records queries."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.buckets: list[dict[str, Any]] = []
        self.queries: list[str] = []

    def __call__(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        query = urllib.parse.parse_qs(urllib.parse.urlparse(request.path).query)["query"][0]
        self.queries.append(query)
        series = self.buckets if "_bucket" in query else self.requests
        return 200, {"status": "success", "data": {"resultType": "vector", "result": series}}


def test_the_queries_read_the_source_reporter_raw_per_series():
    for promql in queries("shop", "web", ["v1", "v2"]).values():
        assert 'reporter="source"' in promql and 'reporter="destination"' not in promql
        assert 'destination_service_namespace="shop"' in promql
        assert 'destination_service_name=~"web-service|web-v1|web-v2"' in promql
        # No increase() (drops a new series' first increment) and no sum (hides a series' reset).
        assert "increase" not in promql and "sum" not in promql and "rate" not in promql


def test_counts_are_differences_from_the_first_read():
    fake = FakePrometheus()
    fake.requests = [request_series("v1", 200, 1000), request_series("v2", 200, 100), request_series("v2", 503, 4)]
    with serving(fake) as (url, _):
        reader = MeshReader(url, "shop", "web", ["v1", "v2"])
        baseline = reader.read()
        fake.requests = [request_series("v1", 200, 1900), request_series("v2", 200, 200), request_series("v2", 503, 6)]
        later = reader.read()
    assert baseline.versions["v1"].requests == 0 and baseline.versions["v2"].requests == 0
    assert (later.versions["v1"].requests, later.versions["v1"].errors) == (900, 0)
    assert (later.versions["v2"].requests, later.versions["v2"].errors) == (102, 2)


def test_a_series_born_after_the_start_counts_whole():
    # A canary's first 503 is a new series (response_code="503"): increase() would drop it.
    fake = FakePrometheus()
    fake.requests = [request_series("v2", 200, 50)]
    with serving(fake) as (url, _):
        reader = MeshReader(url, "shop", "web", ["v1", "v2"])
        reader.read()
        fake.requests = [request_series("v2", 200, 60), request_series("v2", 503, 1)]
        later = reader.read()
    assert (later.versions["v2"].requests, later.versions["v2"].errors) == (11, 1)


def test_a_reset_of_one_series_is_seen_though_the_sum_grows():
    # Two gateway pods: gw-2 restarts (300 -> 20) while gw-1 grows by 400. Summed, the total would
    # go 1300 -> 1420 and hide the reset (+120); per series it is +400 and +20.
    fake = FakePrometheus()
    fake.requests = [request_series("v1", 200, 1000, "gw-1"), request_series("v1", 200, 300, "gw-2")]
    with serving(fake) as (url, _):
        reader = MeshReader(url, "shop", "web", ["v1", "v2"])
        reader.read()
        fake.requests = [request_series("v1", 200, 1400, "gw-1"), request_series("v1", 200, 20, "gw-2")]
        after_reset = reader.read()
        fake.requests = [request_series("v1", 200, 1500, "gw-1"), request_series("v1", 200, 50, "gw-2")]
        later = reader.read()
    assert after_reset.versions["v1"].requests == 420
    assert later.versions["v1"].requests == 420 + 100 + 30


def test_5xx_of_no_version_are_counted_apart_and_on_neither_version():
    fake = FakePrometheus()
    with serving(fake) as (url, _):
        reader = MeshReader(url, "shop", "web", ["v1", "v2"])
        reader.read()
        fake.requests = [
            request_series("unknown", 503, 7),  # no healthy upstream: the source's proxy picked none
            request_series("v1", 200, 100),
            request_series("v3", 500, 5),  # a version not in this release: neither
        ]
        later = reader.read()
    assert later.unattributed_errors == 7
    assert (later.versions["v1"].requests, later.versions["v1"].errors) == (100, 0)
    assert later.versions["v2"].requests == 0


def test_histogram_buckets_are_summed_per_edge_and_version():
    fake = FakePrometheus()
    with serving(fake) as (url, _):
        reader = MeshReader(url, "shop", "web", ["v1", "v2"])
        reader.read()
        fake.buckets = [bucket_series("v2", "5", 80), bucket_series("v2", "10", 95), bucket_series("v2", "+Inf", 100)]
        later = reader.read()
    assert later.versions["v2"].buckets == {5.0: 80, 10.0: 95}


def test_prometheus_unreachable_or_refusing_is_one_line():
    with serving(FakePrometheus()) as (url, _):
        pass
    with pytest.raises(PrometheusError, match=r"^Prometheus at http://127\.0\.0\.1:\d+ is unreachable: "):
        MeshReader(url, "shop", "web", ["v1", "v2"]).read()
    for status, message in ((400, "answered 400"), (200, "refused the query: busy")):
        with (
            serving(lambda _, status=status: (status, {"status": "error", "error": "busy"})) as (url, _),
            pytest.raises(PrometheusError, match=message),
        ):
            MeshReader(url, "shop", "web", ["v1", "v2"]).read()


def test_an_answer_larger_than_any_query_needs_is_one_line_not_a_memory_error():
    huge = {"status": "success", "data": {"resultType": "vector", "result": []}, "pad": "x" * (MAX_ANSWER_BYTES + 1)}
    with serving(lambda _: (200, huge)) as (url, _), pytest.raises(PrometheusError) as raised:
        series_query(url, "up")
    assert str(raised.value) == f"Prometheus at {url} answered more than {MAX_ANSWER_BYTES >> 20} MiB"


class FakeRangePrometheus:
    """Answers range queries: stable's 5xx and requests per step, and records what was asked."""

    def __init__(self, errors: list[float], requests: list[float]) -> None:
        self.errors, self.requests = errors, requests
        self.asked: list[dict[str, str]] = []

    def __call__(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        parsed = urllib.parse.urlparse(request.path)
        asked = {key: values[0] for key, values in urllib.parse.parse_qs(parsed.query).items()}
        self.asked.append({"path": parsed.path, **asked})
        values = self.errors if 'response_code=~"5.."' in asked["query"] else self.requests
        result = [{"metric": {}, "values": [[1000 + 10 * i, str(v)] for i, v in enumerate(values)]}] if values else []
        return 200, {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_stables_history_is_its_5xx_and_requests_per_interval_before_now():
    fake = FakeRangePrometheus(errors=[0, 19.6, 0.4], requests=[950, 1000.2, 0])
    with serving(fake) as (url, _):
        history = MeshReader(url, "shop", "web", ["v1", "v2"]).history("v1", seconds=30, step=10, now=2000)
    # Rounded; a step without requests is left out.
    assert history == [(0, 950), (20, 1000)]
    first = fake.asked[0]
    assert first["path"] == "/api/v1/query_range"
    assert (first["start"], first["end"], first["step"]) == ("1980.000", "2000.000", "10")
    assert 'destination_version="v1"' in first["query"] and "[10s]" in first["query"]


def test_stable_without_any_5xx_in_its_history_has_zero_in_each_interval():
    fake = FakeRangePrometheus(errors=[], requests=[950, 1000])
    with serving(fake) as (url, _):
        assert MeshReader(url, "shop", "web", ["v1"]).history("v1", seconds=20, step=10, now=2000) == [
            (0, 950),
            (0, 1000),
        ]
