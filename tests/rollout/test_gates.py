"""The gates against servers on loopback: a webhook and a mesh."""

from __future__ import annotations

import pytest

from canary.rollout.gates import (
    EntryPoint,
    requests_to_see_a_missing_version,
    split_alpha,
    split_gate,
    split_tests,
    webhook_gate,
)
from canary.rollout.policy import Limits, Policy
from canary.rollout.watch import Sent
from canary.router.contract import Route
from tests.support.fake_mesh import MeshConfig, canary_rules, serve_in_thread
from tests.support.loopback_http import serving


def test_webhook_gets_the_figures_and_a_2xx_passes():
    with serving(lambda _: (204, {})) as (url, received):
        result = webhook_gate(url + "/hook", {"weight": 10})
    assert result.ok and received == [("/hook", {"weight": 10})]


def test_webhook_answering_non_2xx_or_not_at_all_fails():
    with serving(lambda _: (409, {})) as (url, _):
        assert webhook_gate(url, {}).problems == (f"webhook {url} answered 409",)
    assert "unreachable" in webhook_gate(url, {}).problems[0]


def test_webhook_with_user_and_password_in_its_url_is_sent_them_as_basic_auth_and_its_token():
    # The oracle: the header a client must send for bob / p@ss/w, per RFC 7617, written out.
    expected = "Basic Ym9iOnBAc3Mvdw=="
    seen = []

    def answer(request):
        seen.append((request.headers.get("Authorization"), request.path))
        return (200, {})

    with serving(answer) as (url, _):
        hooked = url.replace("http://", "http://bob:p%40ss%2Fw@") + "/gate?token=t0k"
        result = webhook_gate(hooked, {"weight": 10})
    assert result.ok, result.problems
    assert seen == [(expected, "/gate?token=t0k")]


ROUTES = [
    {"when": {"cookie": "version=v2"}, "split": {"v2": 100}},
    {"when": {}, "split": {"v1": 90, "v2": 10}},
]


def test_split_gate_passes_when_the_mesh_routes_as_the_outputs_say_and_counts_what_it_sent():
    outputs = {"routes": ROUTES, "versionHeader": "x-canary-version", "urls": ["http://web.example.com/"]}
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}))) as mesh:
        result = split_gate(
            outputs, EntryPoint(url=mesh.url, host="web.example.com"), Policy(verify_requests=100), 0.001
        )
    assert result.ok, result.problems
    plain = result.figures["routes"][1]
    assert plain["counts"] == {"v1": 90, "v2": 10}
    assert (result.figures["alpha"], result.figures["tolerance_points"]) == (0.001, 2)
    # The cookie route's 100 and the plain route's 10 reached v2; the plain route's 90 reached v1.
    assert result.sent == {"v1": Sent(90), "v2": Sent(110)}


def test_split_gate_gives_each_version_the_5xx_that_named_it():
    outputs = {"routes": ROUTES, "versionHeader": "x-canary-version"}
    config = MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}), status_by_version={"v2": 503})
    with serve_in_thread(config) as mesh:
        result = split_gate(
            outputs, EntryPoint(url=mesh.url), Policy(prometheus="http://p:9090", verify_requests=100), 0.01
        )
    # The mesh names the version on a 5xx as on any answer: the cookie route's 100 503s and the
    # plain route's 10 are v2's.
    assert result.sent == {"v1": Sent(90), "v2": Sent(110, 110)}


def test_split_gate_gives_a_nameless_5xx_only_to_a_route_one_version_serves():
    outputs = {"routes": ROUTES, "versionHeader": "x-canary-version"}
    config = MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}), status_by_version={"v2": 503}, version_header=None)
    with serve_in_thread(config) as mesh:
        result = split_gate(
            outputs, EntryPoint(url=mesh.url), Policy(prometheus="http://p:9090", verify_requests=100), 0.01
        )
    # No answer names a version: the cookie route's 100 503s can only be v2's; the plain route's
    # 10 could be either version's, and stay in the mesh's counts as it reported them.
    assert result.sent == {"v2": Sent(100, 100)}


def test_split_gate_fails_when_the_mesh_routes_otherwise():
    outputs = {"routes": ROUTES, "versionHeader": "x-canary-version"}
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 50, "v2": 50}))) as mesh:
        result = split_gate(outputs, EntryPoint(url=mesh.url), Policy(verify_requests=200), 0.001)
    assert not result.ok
    assert any("plain: split differs from the expected one by more than 2 points" in p for p in result.problems)


def test_split_gate_tolerates_a_split_a_point_off_however_many_requests():
    # The mesh routes 11 % where the outputs say 10 %: a point off, inside the 2-point tolerance.
    outputs = {"routes": [{"when": {}, "split": {"v1": 90, "v2": 10}}], "versionHeader": "x-canary-version"}
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 89, "v2": 11}))) as mesh:
        result = split_gate(outputs, EntryPoint(url=mesh.url), Policy(verify_requests=3000), 0.001)
    assert result.ok, result.problems


def test_the_split_gates_alpha_is_a_fifth_of_the_rollouts_over_every_test_it_runs():
    tests = split_tests(steps=4, routes=2, versions=2)
    assert tests == 16
    assert split_alpha(Policy(limits=Limits(alpha=0.01)), tests) == pytest.approx(0.01 / 5 / 16)


def test_split_gate_without_a_url_fails():
    result = split_gate({"routes": ROUTES, "versionHeader": "x-canary-version"}, EntryPoint(), Policy(), 0.001)
    assert not result.ok and "no URL" in result.problems[0]


def test_the_split_gate_sends_enough_requests_to_see_a_canary_that_gets_none():
    # 10 % of plain requests should reach v2, but the mesh sends them all to v1. With 100 requests
    # a route, 0 answers from v2 are within chance at this alpha (2 * 0.92^100 = 4.8e-4 > 1.7e-4),
    # so the gate sends as many as make a missing version fail.
    outputs = {"routes": ROUTES, "versionHeader": "x-canary-version"}
    alpha = 0.002 / 12
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 100, "v2": 0}))) as mesh:
        result = split_gate(outputs, EntryPoint(url=mesh.url), Policy(verify_requests=100), alpha)
    assert not result.ok
    assert result.figures["requests_per_route"] == requests_to_see_a_missing_version(
        [Route(when={}, split={"v1": 90, "v2": 10})], 2, alpha
    )
    assert any(problem.startswith("plain: ") for problem in result.problems), result.problems


def test_a_version_missing_entirely_fails_with_the_requests_the_gate_sends():
    # Worked by hand: the test's p-value for none of n is 2 (1 - 0.03)^n at 5 % give or take 2:
    # 2 * 0.97^317 = 1.28e-4, 2 * 0.97^318 = 1.24e-4, so at alpha 1.25e-4 it takes 318.
    five_percent = [Route(when={}, split={"v1": 95, "v2": 5})]
    assert requests_to_see_a_missing_version(five_percent, 2, 1.25e-4) == 318
    # 2 * 0.92^107 = 2.67e-4, 2 * 0.92^108 = 2.46e-4: at 10 % and alpha 2.5e-4, 108 a route.
    assert requests_to_see_a_missing_version([Route(when={}, split={"v1": 90, "v2": 10})], 2, 2.5e-4) == 108
