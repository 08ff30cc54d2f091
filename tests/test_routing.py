"""Routing rules: what each kind of request gets, checked by interpreting the VirtualService."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from canary.routing import (
    RoutingRules,
    RoutingRulesArgs,
    destination_rule_spec,
    expected_routes,
    virtual_service_spec,
)
from canary.settings import CanarySettings
from tests.mesh_model import response_header_for, split_for


def spec(canary: dict[str, Any] | None, stable: str = "v1", version_header: str | None = "x-canary-version"):
    return virtual_service_spec(
        hosts=["web.example.com"],
        gateways=["web-gateway"],
        service_host="web-service",
        stable=stable,
        canary=CanarySettings.model_validate(canary) if canary is not None else None,
        version_header=version_header,
    )


def request_shaped_like(when: dict[str, Any]) -> dict[str, str]:
    """A realistic request for a route: the cookie among others, as a browser sends it."""
    headers = {"user-agent": "Mozilla/5.0", **when.get("headers", {})}
    if "cookie" in when:
        headers["cookie"] = f"_ga=GA1.2.1700000000; {when['cookie']}; theme=dark"
    return headers


def nonzero(split: dict[str, int]) -> dict[str, int]:
    return {version: pct for version, pct in split.items() if pct}


CANARIES = [
    None,
    {"version": "v2"},
    {"version": "v2", "cookie": "version=v2"},
    {"version": "v2", "cookie": "version=v2", "weight": 10},
    {"version": "v2", "headers": {"x-canary": "always"}},
    {"version": "v2", "headers": {"x-canary": "always", "x-team": "qa"}, "weight": 50},
    {"version": "v2", "cookie": "tester=yes", "headers": {"x-canary": "always"}, "weight": 100},
]


@pytest.mark.parametrize("canary", CANARIES, ids=str)
def test_every_expected_route_is_what_the_virtual_service_does(canary):
    settings = CanarySettings.model_validate(canary) if canary else None
    virtual_service = spec(canary)
    for route in expected_routes("v1", settings):
        assert split_for(virtual_service, request_shaped_like(route["when"])) == nonzero(route["split"])


def test_plain_requests_split_by_weight():
    virtual_service = spec({"version": "v2", "cookie": "version=v2", "weight": 10})
    assert split_for(virtual_service, {}) == {"v1": 90, "v2": 10}


def test_weight_zero_gives_the_canary_no_plain_traffic():
    assert split_for(spec({"version": "v2", "cookie": "version=v2", "weight": 0}), {}) == {"v1": 100}


def test_weight_hundred_gives_the_canary_all_plain_traffic():
    assert split_for(spec({"version": "v2", "weight": 100}), {}) == {"v2": 100}


def test_cookie_route_sends_the_request_to_the_canary_wherever_the_cookie_is():
    virtual_service = spec({"version": "v2", "cookie": "version=v2"})
    assert split_for(virtual_service, {"cookie": "a=1; version=v2; b=2"}) == {"v2": 100}
    assert split_for(virtual_service, {"cookie": "a=1; myversion=v2"}) == {"v1": 100}


def test_headers_route_needs_every_header():
    virtual_service = spec({"version": "v2", "headers": {"x-canary": "always", "x-team": "qa"}})
    assert split_for(virtual_service, {"x-canary": "always", "x-team": "qa"}) == {"v2": 100}
    assert split_for(virtual_service, {"x-canary": "always"}) == {"v1": 100}
    assert split_for(virtual_service, {"x-canary": "Always", "x-team": "qa"}) == {"v1": 100}


def test_cookie_and_headers_are_alternatives():
    virtual_service = spec({"version": "v2", "cookie": "version=v2", "headers": {"x-canary": "always"}})
    assert split_for(virtual_service, {"cookie": "version=v2"}) == {"v2": 100}
    assert split_for(virtual_service, {"x-canary": "always"}) == {"v2": 100}


def test_without_a_canary_everything_goes_to_stable():
    virtual_service = spec(None)
    assert len(virtual_service["http"]) == 1
    assert split_for(virtual_service, {"cookie": "version=v2"}) == {"v1": 100}


def test_each_destination_names_its_version_in_a_response_header():
    virtual_service = spec({"version": "v2", "weight": 50})
    assert response_header_for(virtual_service, {}, "v1") == {"x-canary-version": "v1"}
    assert response_header_for(virtual_service, {}, "v2") == {"x-canary-version": "v2"}


def test_version_header_can_be_turned_off():
    virtual_service = spec({"version": "v2", "weight": 50}, version_header=None)
    assert response_header_for(virtual_service, {}, "v2") == {}


def test_dark_launched_version_has_a_subset_but_no_route():
    subsets = destination_rule_spec("web-service", ["v1", "v2", "v3"])["subsets"]
    assert [s["name"] for s in subsets] == ["v1", "v2", "v3"]
    assert subsets[2]["labels"] == {"version": "v3"}
    virtual_service = spec({"version": "v2", "cookie": "version=v2", "weight": 10})
    routed = {d["destination"]["subset"] for r in virtual_service["http"] for d in r["route"]}
    assert routed == {"v1", "v2"}


def test_expected_routes_list_cookie_then_headers_then_plain():
    canary = CanarySettings.model_validate({"version": "v2", "cookie": "c=1", "headers": {"x-a": "b"}, "weight": 5})
    assert expected_routes("v1", canary) == [
        {"when": {"cookie": "c=1"}, "split": {"v2": 100}},
        {"when": {"headers": {"x-a": "b"}}, "split": {"v2": 100}},
        {"when": {}, "split": {"v1": 95, "v2": 5}},
    ]


def _rules(recorded_canary: dict[str, Any] | None = None, route_targets=()) -> RoutingRules:
    return RoutingRules(
        "web-routing",
        RoutingRulesArgs(
            namespace="shop",
            app="web",
            api_version="networking.istio.io/v1",
            hosts=["web.example.com"],
            service_name="web-service",
            gateway_name="web-gateway",
            versions=["v1", "v2"],
            stable="v1",
            canary=CanarySettings.model_validate(recorded_canary) if recorded_canary else None,
            version_header="x-canary-version",
            load_balancer_dns="lb.example.com",
            route_targets=list(route_targets),
        ),
    )


@pulumi.runtime.test
def test_routing_rules_outputs_name_both_objects(recorded):
    rules = _rules({"version": "v2", "weight": 10})

    def check(names: list[str]) -> None:
        assert names == ["web-destinationrule", "web-virtualservice"]

    return pulumi.Output.all(rules.destination_rule_name, rules.virtual_service_name).apply(check)


@pulumi.runtime.test
def test_virtual_service_waits_for_the_destination_rule_and_the_route_targets(recorded):
    target = pulumi.CustomResource("test:index:Deployment", "v2-pods")
    rules = _rules({"version": "v2", "weight": 10}, route_targets=[target])

    def check(_: Any) -> None:
        by_name = {r.name: r for r in recorded.registrations}
        dependencies = by_name["web-routing-virtualservice"].dependencies
        assert by_name["web-routing-destinationrule"].urn in dependencies
        assert by_name["v2-pods"].urn in dependencies
        # ...and the DestinationRule does not wait for the pods: subsets may exist before them.
        assert by_name["v2-pods"].urn not in by_name["web-routing-destinationrule"].dependencies

    return rules.virtual_service_name.apply(check)


@pulumi.runtime.test
def test_load_balancer_dns_becomes_the_external_dns_annotation(recorded):
    rules = _rules()

    def check(_: Any) -> None:
        (virtual_service,) = [r for r in recorded.registrations if r.name == "web-routing-virtualservice"]
        assert virtual_service.inputs["metadata"]["annotations"] == {
            "external-dns.alpha.kubernetes.io/target": "lb.example.com"
        }

    return rules.virtual_service_name.apply(check)


def test_mesh_routing_binds_the_rules_to_the_mesh_gateway_and_the_service_host(run):
    from tests.conftest import BASELINE

    config = {**BASELINE, "routing": {"mesh": True}, "canary": {"version": "v2", "cookie": "version=v2", "weight": 10}}
    (virtual_service,) = run(config).find("VirtualService")
    assert virtual_service["spec"]["gateways"] == ["web-gateway", "mesh"]
    assert virtual_service["spec"]["hosts"] == ["web.example.com", "web-service"]
    # In-mesh callers see the same rules: the cookie route, then the weighted split.
    assert split_for(virtual_service["spec"], {"cookie": "a=1; version=v2"}) == {"v2": 100}
    assert split_for(virtual_service["spec"], {}) == {"v1": 90, "v2": 10}


def test_without_mesh_routing_only_the_gateway_is_bound(run):
    from tests.conftest import BASELINE

    (virtual_service,) = run(BASELINE).find("VirtualService")
    assert virtual_service["spec"]["gateways"] == ["web-gateway"]
    assert virtual_service["spec"]["hosts"] == ["web.example.com"]
