"""Tests for canary/traffic/verify.py: verdicts per route against the fake mesh."""

from __future__ import annotations

import asyncio

from canary.traffic.client import Endpoint
from canary.traffic.expected import Route, parse_routes
from canary.traffic.load import Settings, Tally
from canary.traffic.verify import Criteria, Verification, judge, run_verify
from canary.traffic.versions import VersionReader
from tests.support.fake_mesh import MeshConfig, Rule, canary_rules, serve_in_thread
from tests.support.traffic_fixtures import COOKIE_ROUTE, HEADER_ROUTE, plain_route

HEADER = VersionReader(header="x-canary-version")


def _verify(
    config: MeshConfig,
    routes: list[dict],
    requests: int,
    criteria: Criteria = Criteria(),  # noqa: B008 - frozen, shared safely
) -> Verification:
    parsed = parse_routes(routes, "test")
    with serve_in_thread(config) as mesh:
        target = Endpoint.from_url(mesh.url)
        tallies = [Tally() for _ in parsed]
        return asyncio.run(run_verify(target, parsed, tallies, HEADER, Settings(), requests, criteria))


def test_correct_split_from_a_random_mesh_holds() -> None:
    # The mesh draws each version at random, as Envoy does. At 99.9999% confidence a correct
    # split fails with probability at most 1e-6, whatever the seed.
    config = MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}), seed=20240501)
    result = _verify(config, [plain_route({"v1": 90, "v2": 10})], 2000, Criteria(0.999999))
    (route,) = result.results
    assert route.ok and route.problems == ()
    assert sum(route.counts.values()) == 2000 and route.counts["v2"] != 200  # really random


def test_split_served_50_50_where_90_10_is_expected_fails() -> None:
    # At 99.9999% confidence as well: 1,000 answers at 50/50 have p below 1e-200.
    config = MeshConfig(rules=canary_rules({"v1": 50, "v2": 50}), seed=3)
    result = _verify(config, [plain_route({"v1": 90, "v2": 10})], 1000, Criteria(0.999999))
    (route,) = result.results
    assert not route.ok and not result.ok
    assert route.problems[0].startswith("split differs from the expected one")


def test_cookie_route_reaches_the_canary_only() -> None:
    config = MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}))
    result = _verify(config, [COOKIE_ROUTE, plain_route({"v1": 90, "v2": 10})], 600)
    cookie, plain = result.results
    assert cookie.ok and cookie.counts == {"v2": 600}
    assert plain.ok and plain.counts == {"v1": 540, "v2": 60}


def test_cookie_route_fails_when_the_mesh_ignores_the_cookie() -> None:
    config = MeshConfig(rules=(Rule(split={"v1": 100}),))
    result = _verify(config, [COOKIE_ROUTE], 100)
    (cookie,) = result.results
    assert not cookie.ok
    assert cookie.problems == ("v1 answered 100 time(s) but should get none",)


def test_header_route_is_matched_on_its_exact_headers() -> None:
    rules = (Rule(split={"v2": 100}, headers={"x-canary": "always"}), Rule(split={"v1": 100}))
    result = _verify(MeshConfig(rules=rules), [HEADER_ROUTE, plain_route({"v1": 100})], 100)
    assert [r.counts for r in result.results] == [{"v2": 100}, {"v1": 100}]
    assert result.ok


def test_errors_above_the_allowed_share_fail_the_route() -> None:
    config = MeshConfig(rules=canary_rules({"v1": 100}), unversioned_every=50)
    strict = _verify(config, [plain_route({"v1": 100})], 500, Criteria(max_error_rate=0.01))
    lenient = _verify(config, [plain_route({"v1": 100})], 500, Criteria(max_error_rate=0.05))
    assert strict.results[0].problems == ("2.0% of requests failed, most as no_version (10); at most 1% may",)
    assert lenient.ok


def test_route_with_no_versioned_answer_says_what_was_looked_for() -> None:
    config = MeshConfig(rules=canary_rules({"v1": 100}), version_header="x-served-by")
    result = _verify(config, [plain_route({"v1": 100})], 50)
    (route,) = result.results
    assert not route.ok and route.test is None
    assert route.problems[0] == "no answer named a version (looked for header x-canary-version)"


def test_judge_gives_the_sample_size_when_the_difference_is_within_chance() -> None:
    route = Route(when={}, split={"v1": 90, "v2": 10})
    tally = Tally()
    for version, n in (("v1", 440), ("v2", 60)):
        for _ in range(n):
            tally.add_version(version, 0.001)
    result = judge(route, tally, Criteria(), HEADER)
    assert result.ok and result.test is not None
    assert result.test.needed is not None and result.test.needed > 500


def test_json_has_the_documented_fields() -> None:
    config = MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}), status_by_version={"v2": 503})
    document = _verify(config, [COOKIE_ROUTE, plain_route({"v1": 90, "v2": 10})], 200).to_json()
    assert set(document) >= {"ok", "rps", "routes"}
    assert document["ok"] is False and document["rps"] > 0
    cookie, plain = document["routes"]
    assert set(plain) >= {
        "when", "expected", "counts", "split", "ok", "p_value", "errors", "latency_ms"
    }  # fmt: skip
    assert cookie["when"] == {"cookie": "version=v2"} and cookie["errors"] == {"http_5xx": 200}
    assert plain["expected"] == {"v1": 90, "v2": 10}
    assert plain["counts"] == {"v1": 180, "v2": 0} and plain["split"] == {"v1": 100.0, "v2": 0.0}
    assert plain["errors"] == {"http_5xx": 20}
    assert set(plain["latency_ms"]) == {"p50", "p90", "p99"}
    assert 0 < plain["latency_ms"]["p50"] <= plain["latency_ms"]["p90"] <= plain["latency_ms"]["p99"]


def test_an_error_rate_exactly_at_the_limit_passes_and_one_more_fails():
    route = Route(when={}, split={"v1": 100})
    at_limit, over = Tally(), Tally()
    for tally, failures in ((at_limit, 1), (over, 2)):
        for _ in range(100 - failures):
            tally.add_version("v1", 0.001)
        for _ in range(failures):
            tally.add_error("http_5xx", 0.001)
    # 1 failure in 100 is 1%: allowed at max_error_rate 1%; 2 in 100 is not.
    assert judge(route, at_limit, Criteria(max_error_rate=0.01), HEADER).ok
    assert not judge(route, over, Criteria(max_error_rate=0.01), HEADER).ok


def _tally(**answers: int) -> Tally:
    tally = Tally()
    for version, n in answers.items():
        for _ in range(n):
            tally.add_version(version, 0.001)
    return tally


def test_with_a_tolerance_a_split_slightly_off_passes_and_one_far_off_names_the_shares() -> None:
    route = Route(when={}, split={"v1": 90, "v2": 10})
    criteria = Criteria(confidence=0.99, tolerance=2)
    # 9.2 % of 50,000: the point null rejects it, the tolerance does not.
    assert not judge(route, _tally(v1=45_400, v2=4_600), Criteria(), HEADER).ok
    assert judge(route, _tally(v1=45_400, v2=4_600), criteria, HEADER).ok
    far = judge(route, _tally(v1=150, v2=50), criteria, HEADER)
    assert not far.ok
    expected = "split differs from the expected one by more than 2 points: v1 75.0%, v2 25.0% of 200"
    assert far.problems[0].startswith(expected)
