"""Routing rules: the VirtualService, the routes read off it, and what the rules wait for.

The expected routes (CASES, in tests/support/routing_cases.py) are written out by hand from the
config's meaning (cookie or headers go to the canary, `weight` percent of the rest too); nothing
computes them with the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from canary.plan.backend import Collector, Ref
from canary.plan.canary_rules import Canary, Sticky
from canary.plan.istio_routing import destination_rule, plan_routing_rules, virtual_service
from canary.router import IstioRouter
from canary.router.contract import parse_routes
from tests.support.routing_cases import CASES, args, request_shaped_like, spec


@pytest.mark.parametrize(("canary", "expected"), CASES, ids=[str(c) for c, _ in CASES])
def test_the_routes_say_what_the_config_means(canary, expected):
    assert plan_routing_rules(Collector(), "r", args(canary)).routes == expected


@pytest.mark.parametrize(("canary", "expected"), CASES, ids=[str(c) for c, _ in CASES])
def test_a_realistic_request_of_each_route_gets_its_split(canary, expected):
    # The routes are read off the spec with canonical requests; a browser's request, with the
    # cookie among others and more headers, must be routed alike.
    virtual_service_spec = spec(canary)
    for route in expected:
        assert IstioRouter(virtual_service_spec).split(request_shaped_like(route["when"])) == route["split"]


@pytest.mark.parametrize(("canary", "expected"), CASES, ids=[str(c) for c, _ in CASES])
def test_routes_round_trip_through_the_verifier_contract(canary, expected):
    # What the program writes, the verifier reads back; each request the verifier then sends
    # for a route is routed by the VirtualService to exactly that route's split.
    routes = plan_routing_rules(Collector(), "r", args(canary)).routes
    virtual_service_spec = spec(canary)
    for route in parse_routes(routes, "routes"):
        for variant in route.header_variants():
            headers = {name.lower(): value for name, value in variant}
            assert IstioRouter(virtual_service_spec).split(headers) == dict(route.split)


def test_cookie_route_finds_the_cookie_anywhere_but_not_a_longer_name():
    virtual_service_spec = spec(Canary(version="v2", cookie="version=v2"))
    assert IstioRouter(virtual_service_spec).split({"cookie": "a=1; version=v2; b=2"}) == {"v2": 100}
    assert IstioRouter(virtual_service_spec).split({"cookie": "a=1; myversion=v2"}) == {"v1": 100}


def test_headers_route_needs_every_header_exactly():
    virtual_service_spec = spec(Canary(version="v2", headers={"x-canary": "always", "x-team": "qa"}))
    assert IstioRouter(virtual_service_spec).split({"x-canary": "always"}) == {"v1": 100}
    assert IstioRouter(virtual_service_spec).split({"x-canary": "Always", "x-team": "qa"}) == {"v1": 100}


def test_a_weight_zero_destination_is_left_out_and_a_lone_one_has_no_weight():
    (default,) = spec(Canary(version="v2", weight=0))["http"]
    assert default["route"] == [
        {
            "destination": {"host": "web-service", "subset": "v1"},
            "headers": {"response": {"set": {"x-canary-version": "v1"}}},
        }
    ]


def test_each_destination_names_its_version_in_a_response_header():
    virtual_service_spec = spec(Canary(version="v2", weight=50))
    assert IstioRouter(virtual_service_spec).answer_headers({}, "v1") == [("x-canary-version", "v1")]
    assert IstioRouter(virtual_service_spec).answer_headers({}, "v2") == [("x-canary-version", "v2")]


def test_version_header_can_be_turned_off():
    virtual_service_spec = spec(Canary(version="v2", weight=50), version_header=None)
    assert all("headers" not in d for route in virtual_service_spec["http"] for d in route["route"])


def test_subsets_select_the_labels_given_for_each_version():
    rule = destination_rule(args(subsets={"v1": {"version": "v1"}, "v3": {"track": "dark"}}))
    assert rule["spec"] == {
        "host": "web-service",
        "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v3", "labels": {"track": "dark"}}],
    }


def test_load_balancer_dns_becomes_the_external_dns_annotation():
    annotations = virtual_service(args(load_balancer_dns="lb.example.com"))["metadata"]["annotations"]
    assert annotations == {"external-dns.alpha.kubernetes.io/target": "lb.example.com"}
    assert "annotations" not in virtual_service(args())["metadata"]


def test_mesh_routing_binds_the_rules_to_the_mesh_gateway_and_the_service_host():
    virtual_service_spec = spec(Canary(version="v2", cookie="version=v2", weight=10), mesh=True)
    assert virtual_service_spec["gateways"] == ["web-gateway", "mesh"]
    assert virtual_service_spec["hosts"] == ["web.example.com", "web-service"]
    assert spec(None)["gateways"] == ["web-gateway"]


class Recording(Collector):
    """The collecting back end, also keeping what each object was declared to wait for."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: dict[str, list[Any]] = {}

    def object(self, name, manifest, *, depends_on=(), ignore_changes=()):  # type: ignore[no-untyped-def]
        self.waits[manifest["kind"]] = list(depends_on)
        return super().object(name, manifest, depends_on=depends_on, ignore_changes=ignore_changes)


TARGETS = {"v1": "v1-pods", "v2": "v2-pods", "v3": "v3-pods"}


@pytest.mark.parametrize(
    ("canary", "waited"),
    [
        (Canary(version="v2", cookie="version=v2", weight=10), {"v1-pods", "v2-pods"}),
        (Canary(version="v2", headers={"x-canary": "always"}), {"v1-pods", "v2-pods"}),
        # Nothing can reach it: a canary that is not ready must not hold up an unrelated update.
        (Canary(version="v2", weight=0), {"v1-pods"}),
        (Canary(version="v2", weight=100), {"v2-pods"}),
        (None, {"v1-pods"}),
    ],
)
def test_the_virtual_service_waits_for_the_rule_and_every_version_it_routes_to(canary, waited):
    backend = Recording()
    parts = plan_routing_rules(backend, "r", args(canary, route_targets=TARGETS))
    waits = backend.waits["VirtualService"]
    assert waits[0] == parts.destination_rule
    assert set(waits[1:]) == waited
    # The DestinationRule waits for nothing: subsets may exist before their pods.
    assert backend.waits["DestinationRule"] == []


def test_a_canary_no_request_can_reach_is_reported_once():
    backend = Collector()
    plan_routing_rules(backend, "r", args(Canary(version="v2")))
    assert len(backend.warnings) == 1 and "canary v2 receives no traffic" in backend.warnings[0]
    for reachable in (Canary(version="v2", headers={"x-canary": "always"}), Canary(version="v2", weight=1)):
        backend = Collector()
        plan_routing_rules(backend, "r", args(reachable))
        assert backend.warnings == []


def test_the_declared_names_come_back_as_the_parts():
    parts = plan_routing_rules(Collector(), "r", args())
    assert parts.destination_rule == Ref(name="web-destinationrule", handle=parts.destination_rule.handle)
    assert parts.outputs["virtual_service_name"] == "web-virtualservice"


# Sticky sessions and mirroring, written out as the issue states them.

STICKY = Sticky(cookie="canary-pin", max_age=3600)


def test_a_sticky_weighted_canary_pins_clients_by_a_cookie_each_answer_sets():
    virtual_service_spec = spec(Canary(version="v2", cookie="version=v2", weight=10, sticky=STICKY))
    names = [route["name"] for route in virtual_service_spec["http"]]
    assert names == ["canary-testers", "sticky-v2", "sticky-v1", "default"]
    assert IstioRouter(virtual_service_spec).split({"cookie": "a=1; canary-pin=v2"}) == {"v2": 100}
    assert IstioRouter(virtual_service_spec).split({"cookie": "canary-pin=v1; a=1"}) == {"v1": 100}
    assert IstioRouter(virtual_service_spec).split({"cookie": "canary-pin=v3"}) == {"v1": 90, "v2": 10}
    default = virtual_service_spec["http"][-1]
    for destination in default["route"]:
        version = destination["destination"]["subset"]
        assert destination["headers"]["response"]["add"] == {
            "set-cookie": f"canary-pin={version}; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"
        }
    # The pinned routes themselves and the testers' route set no cookie.
    assert all("add" not in d["headers"]["response"] for r in virtual_service_spec["http"][:-1] for d in r["route"])


def test_sticky_cookies_are_secure_over_https():
    virtual_service_spec = spec(Canary(version="v2", weight=50, sticky=STICKY), https=True)
    cookies = [d["headers"]["response"]["add"]["set-cookie"] for d in virtual_service_spec["http"][-1]["route"]]
    assert len(cookies) == 2 and all(cookie.endswith("; SameSite=Lax; Secure") for cookie in cookies)


@pytest.mark.parametrize("weight", [0, 100])
def test_at_0_or_100_percent_no_client_stays_pinned(weight):
    # A rollback must take every pinned user off the canary (testers keep their cookie route).
    virtual_service_spec = spec(Canary(version="v2", cookie="version=v2", weight=weight, sticky=STICKY))
    assert [route["name"] for route in virtual_service_spec["http"]] == ["canary-testers", "default"]
    assert all("add" not in d.get("headers", {}).get("response", {}) for d in virtual_service_spec["http"][-1]["route"])
    only = "v1" if weight == 0 else "v2"
    assert IstioRouter(virtual_service_spec).split({"cookie": f"canary-pin={'v2' if weight == 0 else 'v1'}"}) == {
        only: 100
    }


def test_the_routes_list_the_pinned_routes_as_cookie_routes():
    routes = plan_routing_rules(Collector(), "r", args(Canary(version="v2", weight=25, sticky=STICKY))).routes
    assert routes == [
        {"when": {"cookie": "canary-pin=v2"}, "split": {"v2": 100}},
        {"when": {"cookie": "canary-pin=v1"}, "split": {"v1": 100}},
        {"when": {}, "split": {"v1": 75, "v2": 25}},
    ]


def test_mirroring_shadows_a_share_of_the_default_route_to_the_canary():
    virtual_service_spec = spec(Canary(version="v2", weight=0, mirror=12.5))
    (default,) = virtual_service_spec["http"]
    assert default["mirror"] == {"host": "web-service", "subset": "v2"}
    assert default["mirrorPercentage"] == {"value": 12.5}
    # The answers still all come from stable.
    assert IstioRouter(virtual_service_spec).split({}) == {"v1": 100}


def test_no_mirror_at_0_percent_or_when_the_canary_takes_everything():
    assert "mirror" not in spec(Canary(version="v2", weight=10))["http"][-1]
    assert "mirror" not in spec(Canary(version="v2", weight=100, mirror=50))["http"][-1]


def test_a_mirrored_canary_is_not_reported_as_receiving_nothing():
    backend = Collector()
    plan_routing_rules(backend, "r", args(Canary(version="v2", mirror=5)))
    assert backend.warnings == []
