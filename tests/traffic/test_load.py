"""Tests for canary/traffic/load.py: the engine against the fake mesh on loopback.

The client's counts are checked against the server's own record of what it routed where,
so the expected figures come from the other end of the connection.
"""

from __future__ import annotations

import asyncio
import time

from canary.traffic.client import Endpoint
from canary.traffic.expected import Route
from canary.traffic.load import Settings, Tally, probe, run_load
from canary.traffic.verify import request_bytes
from canary.traffic.versions import VersionReader
from tests.support.fake_mesh import MeshConfig, Rule, canary_rules, serve_in_thread
from tests.support.traffic_fixtures import LOOPBACK, closed_port

HEADER = VersionReader(header="x-canary-version")
PLAIN = Route(when={}, split={"v1": 90, "v2": 10})
COOKIE = Route(when={"cookie": "version=v2"}, split={"v2": 100}, cookie="version=v2")


def _run(
    url: str,
    routes: list[Route],
    total: int,
    settings: Settings = Settings(),  # noqa: B008 - frozen, shared safely
    reader: VersionReader = HEADER,
) -> tuple[list[Tally], float]:
    target = Endpoint.from_url(url)
    tallies = [Tally() for _ in routes]
    route_requests = request_bytes(target, routes, "test")
    seconds = asyncio.run(run_load(target, route_requests, tallies, reader, settings, total=total))
    return tallies, seconds


def test_counts_are_exactly_what_the_server_routed() -> None:
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}))) as mesh:
        (cookie, plain), _ = _run(mesh.url, [COOKIE, PLAIN], total=2000)
        served = dict(mesh.mesh.served)
    # Rule 0 is the cookie rule, rule 1 the weighted default (fake_mesh.canary_rules).
    assert cookie.counts == {"v2": served[(0, "v2")]} == {"v2": 1000}
    assert plain.counts == {"v1": served[(1, "v1")], "v2": served[(1, "v2")]}
    # Weighted round robin serves exactly 90/10 in every 100 requests.
    assert plain.counts == {"v1": 900, "v2": 100}
    assert cookie.errors == plain.errors == {}


def test_requests_alternate_between_routes_evenly() -> None:
    headers = Route(when={}, split={"v2": 100}, headers=(("x-canary", "always"),))
    rules = (Rule(split={"v2": 100}, headers={"x-canary": "always"}), Rule(split={"v1": 100}))
    with serve_in_thread(MeshConfig(rules=rules)) as mesh:
        tallies, _ = _run(mesh.url, [headers, PLAIN, headers], total=301)
    assert [t.total for t in tallies] == [101, 100, 100]
    assert tallies[0].counts == {"v2": 101} and tallies[1].counts == {"v1": 100}


def test_route_shapes_take_turns_one_request_each() -> None:
    headers = Route(when={}, split={"v2": 100}, headers=(("x-canary", "always"),))
    rules = (
        Rule(split={"v2": 100}, headers={"x-canary": "always"}),
        Rule(split={"v2": 100}, cookie="version=v2"),
        Rule(split={"v1": 100}),
    )
    with serve_in_thread(MeshConfig(rules=rules, record_order=True)) as mesh:
        # One request at a time, so the order of arrival is the order of sending.
        _run(mesh.url, [headers, COOKIE, PLAIN], total=7, settings=Settings(concurrency=1))
        order = list(mesh.mesh.order)
    assert order == [0, 1, 2, 0, 1, 2, 0]


def test_5xx_answers_are_counted_as_errors_not_versions() -> None:
    config = MeshConfig(rules=canary_rules({"v1": 50, "v2": 50}), status_by_version={"v2": 503})
    with serve_in_thread(config) as mesh:
        (plain,), _ = _run(mesh.url, [PLAIN], total=400)
        served = dict(mesh.mesh.served)
    assert plain.errors == {"http_5xx": served[(1, "v2")]}
    assert plain.counts == {"v1": served[(1, "v1")]}
    assert plain.total == 400
    # The mesh named the version on each 503, as it does on any answer of the route.
    assert plain.failed_versions == {"v2": served[(1, "v2")]}


def test_answers_without_a_version_are_counted() -> None:
    config = MeshConfig(rules=canary_rules({"v1": 100}), unversioned_every=4)
    with serve_in_thread(config) as mesh:
        (plain,), _ = _run(mesh.url, [PLAIN], total=200)
    assert plain.errors == {"no_version": 50}
    assert plain.counts == {"v1": 150}


def test_stalled_requests_time_out_and_the_rest_still_count() -> None:
    config = MeshConfig(rules=canary_rules({"v1": 100}), stall_every=10, stall_seconds=2.0)
    settings = Settings(concurrency=16, timeout=0.5)
    with serve_in_thread(config) as mesh:
        (plain,), seconds = _run(mesh.url, [PLAIN], total=100, settings=settings)
        stalled = mesh.mesh.stalled
    assert stalled > 0
    assert plain.errors == {"timeout": stalled}
    assert plain.counts == {"v1": 100 - stalled}
    assert seconds < 2.0  # nobody waited for the stalled answers


def test_answers_cut_off_midway_are_resets() -> None:
    config = MeshConfig(rules=canary_rules({"v1": 100}), truncate_every=5)
    with serve_in_thread(config) as mesh:
        (plain,), _ = _run(mesh.url, [PLAIN], total=100, settings=Settings(concurrency=4))
        truncated = mesh.mesh.truncated
    assert truncated > 0
    assert plain.errors == {"reset": truncated}
    assert plain.total == 100


def test_refused_connections_are_counted_without_crashing() -> None:
    url = f"http://{LOOPBACK}:{closed_port()}/"
    (plain,), _ = _run(url, [PLAIN], total=50, settings=Settings(concurrency=8))
    assert plain.errors == {"refused": 50}
    assert plain.counts == {}


def test_rate_cap_spaces_the_requests() -> None:
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 100}))) as mesh:
        started = time.monotonic()
        (plain,), _ = _run(mesh.url, [PLAIN], total=50, settings=Settings(rate=100))
        elapsed = time.monotonic() - started
    # 50 requests at 100/s: the last starts 0.49 s after the first.
    assert plain.total == 50
    assert elapsed >= 0.49


def test_probe_reports_a_refused_connection() -> None:
    target = Endpoint.from_url(f"http://{LOOPBACK}:{closed_port()}/")
    assert asyncio.run(probe(target, target.request([]), 1.0)) == "connection refused"


def test_probe_accepts_any_http_answer() -> None:
    config = MeshConfig(rules=canary_rules({"v1": 100}), status_by_version={"v1": 503})
    with serve_in_thread(config) as mesh:
        target = Endpoint.from_url(mesh.url)
        assert asyncio.run(probe(target, target.request([]), 1.0)) is None


def test_latencies_are_kept_for_every_http_answer() -> None:
    config = MeshConfig(rules=canary_rules({"v1": 50, "v2": 50}), status_by_version={"v2": 503})
    with serve_in_thread(config) as mesh:
        (plain,), _ = _run(mesh.url, [PLAIN], total=100)
    assert len(plain.latencies) == 100
    assert all(0 < latency < 1 for latency in plain.latencies)


def test_the_latency_reservoir_replaces_samples_across_every_slot(monkeypatch):
    # A reservoir of 10: after 10 early latencies and 990 later ones, a uniform sample keeps
    # each early one with probability 10/1000. Overwriting a single slot would keep nine.
    monkeypatch.setattr("canary.traffic.load._LATENCY_SAMPLES", 10)
    tally = Tally()
    for _ in range(10):
        tally.add_version("v1", 0.0)
    for _ in range(990):
        tally.add_version("v1", 1.0)
    assert len(tally.latencies) == 10
    assert sum(1 for latency in tally.latencies if latency == 0.0) <= 2
