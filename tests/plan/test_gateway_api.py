"""`routing.api: gateway-api`: the release as a Gateway API Gateway, per-version Services and an HTTPRoute.

Every expectation is written out by hand from the Gateway API's documented fields and the
config's meaning; nothing here computes it with the code under test.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canary.plan.backend import Collector
from canary.plan.canary_rules import Canary
from canary.plan.cookie import cookie_regex
from canary.plan.gateway_api import GatewayApiRoutingArgs, plan_gateway_api_routing
from canary.plan.release import CanaryReleaseArgs
from canary.plan.workload import Workload
from tests.support.project import BASELINE

# The tutorial's release (the dev stack), through the Gateway API.
TUTORIAL: dict[str, Any] = {
    "namespace": "canary-deployment",
    "app": "nginx",
    "hosts": ["nginx-app.example.com"],
    "versions": [{"name": "v1", "image": "reyanshkharga/nginx:v1"}, {"name": "v2", "image": "reyanshkharga/nginx:v2"}],
    "stable": "v1",
    "canary": {"version": "v2", "cookie": "version=v2"},
    "loadBalancerDns": "lb-1.elb.example.com",
    "routing": {"api": "gateway-api"},
}


def config(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASELINE)
    values["routing"] = {"api": "gateway-api"}
    values.update(changes)
    return values


def one(simulation: Any, kind: str, name: str) -> dict[str, Any]:
    [found] = [m for m in simulation.find(kind) if m["metadata"]["name"] == name]
    return found


def version_header(version: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "ResponseHeaderModifier",
            "responseHeaderModifier": {"set": [{"name": "x-canary-version", "value": version}]},
        }
    ]


def test_the_tutorials_release_as_an_http_route(run):
    simulation = run(TUTORIAL)
    assert one(simulation, "HTTPRoute", "nginx-httproute") == {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "nginx-httproute", "namespace": "canary-deployment"},
        "spec": {
            "parentRefs": [{"name": "nginx-gateway"}],
            "hostnames": ["nginx-app.example.com"],
            "rules": [
                {
                    "name": "canary-testers",
                    "matches": [
                        {
                            "headers": [
                                {
                                    "type": "RegularExpression",
                                    "name": "cookie",
                                    "value": "^(.*;)?[ \\t]*version[ \\t]*=[ \\t]*v2[ \\t]*(;.*)?$",
                                }
                            ]
                        }
                    ],
                    "backendRefs": [{"name": "nginx-v2", "port": 80, "filters": version_header("v2")}],
                },
                {
                    "name": "default",
                    "backendRefs": [{"name": "nginx-v1", "port": 80, "filters": version_header("v1")}],
                },
            ],
        },
    }


def test_the_tutorials_gateway_carries_the_class_the_listener_and_the_dns_target(run):
    assert one(run(TUTORIAL), "Gateway", "nginx-gateway") == {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {
            "name": "nginx-gateway",
            "namespace": "canary-deployment",
            "annotations": {"external-dns.alpha.kubernetes.io/target": "lb-1.elb.example.com"},
        },
        "spec": {"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
    }


def test_no_istio_routing_object_is_left(run):
    kinds = sorted(m["kind"] for m in run(TUTORIAL).manifests())
    assert kinds == ["Deployment", "Deployment", "Gateway", "HTTPRoute", "Namespace", "Service", "Service", "Service"]
    assert {m["apiVersion"] for m in run(TUTORIAL).find("Gateway")} == {"gateway.networking.k8s.io/v1"}


def test_the_gateway_class_comes_from_the_config(run):
    gateway = one(run(config(gateway={"className": "eg"})), "Gateway", "web-gateway")
    assert gateway["spec"]["gatewayClassName"] == "eg"


def test_each_version_gets_a_service_selecting_its_pods_on_the_app_port(run):
    simulation = run(config(port=8080))
    for version in ("v1", "v2"):
        assert one(simulation, "Service", f"web-{version}") == {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"web-{version}", "namespace": "shop"},
            "spec": {
                "type": "ClusterIP",
                "selector": {"app": "web", "version": version},
                "ports": [{"name": "http", "port": 8080, "targetPort": 8080}],
            },
        }
    # The app's own Service stays, for in-cluster callers.
    assert one(simulation, "Service", "web-service")["spec"]["selector"] == {"app": "web"}


def test_the_version_services_select_what_the_deployments_label_their_pods(run):
    simulation = run(config())
    for deployment in simulation.find("Deployment"):
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        version = pod_labels["version"]
        selector = one(simulation, "Service", f"web-{version}")["spec"]["selector"]
        assert selector.items() <= pod_labels.items()


def default_rule(simulation: Any) -> dict[str, Any]:
    rules = one(simulation, "HTTPRoute", "web-httproute")["spec"]["rules"]
    return next(rule for rule in rules if rule["name"] == "default")  # type: ignore[no-any-return]


def weights(simulation: Any) -> list[tuple[str, int | None]]:
    return [(ref["name"], ref.get("weight")) for ref in default_rule(simulation)["backendRefs"]]


def test_the_default_rule_weighs_the_version_services_by_percent(run):
    assert weights(run(config(canary={"version": "v2", "weight": 10}))) == [("web-v1", 90), ("web-v2", 10)]


@pytest.mark.parametrize(("weight", "expected"), [(0, [("web-v1", None)]), (100, [("web-v2", None)])])
def test_a_lone_backend_carries_no_weight_and_a_zero_share_no_backend(run, weight, expected):
    assert weights(run(config(canary={"version": "v2", "weight": weight}))) == expected


def test_cookie_and_header_testers_are_two_alternative_matches(run):
    canary = {"version": "v2", "cookie": "version=v2", "headers": {"x-canary": "always", "x-team": "qa"}}
    rules = one(run(config(canary=canary)), "HTTPRoute", "web-httproute")["spec"]["rules"]
    assert rules[0]["name"] == "canary-testers"
    assert rules[0]["matches"] == [
        {"headers": [{"type": "RegularExpression", "name": "cookie", "value": cookie_regex("version=v2")}]},
        # Both headers in one match: the Gateway API ANDs them.
        {
            "headers": [
                {"type": "Exact", "name": "x-canary", "value": "always"},
                {"type": "Exact", "name": "x-team", "value": "qa"},
            ]
        },
    ]


def test_tls_adds_an_https_listener_and_a_redirect_from_the_http_one(run):
    simulation = run(config(gateway={"tls": {"credentialName": "web-cert"}}))
    assert one(simulation, "Gateway", "web-gateway")["spec"]["listeners"] == [
        {"name": "http", "port": 80, "protocol": "HTTP"},
        {
            "name": "https",
            "port": 443,
            "protocol": "HTTPS",
            "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "web-cert"}]},
        },
    ]
    assert one(simulation, "HTTPRoute", "web-httproute")["spec"]["parentRefs"] == [
        {"name": "web-gateway", "sectionName": "https"}
    ]
    assert one(simulation, "HTTPRoute", "web-https-redirect")["spec"] == {
        "parentRefs": [{"name": "web-gateway", "sectionName": "http"}],
        "hostnames": ["web.example.com"],
        "rules": [
            {
                "name": "https-redirect",
                "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}],
            }
        ],
    }


def test_tls_without_redirect_serves_the_app_on_both_listeners(run):
    simulation = run(config(gateway={"tls": {"credentialName": "web-cert", "httpsRedirect": False}}))
    assert [route["metadata"]["name"] for route in simulation.find("HTTPRoute")] == ["web-httproute"]
    assert one(simulation, "HTTPRoute", "web-httproute")["spec"]["parentRefs"] == [{"name": "web-gateway"}]
    assert len(one(simulation, "Gateway", "web-gateway")["spec"]["listeners"]) == 2


def test_sticky_cookies_are_added_per_backend_and_secure_over_https(run):
    canary = {"version": "v2", "weight": 20, "sticky": {"cookie": "pin", "maxAge": 600}}
    simulation = run(config(canary=canary, gateway={"tls": {"credentialName": "web-cert"}}))
    rules = one(simulation, "HTTPRoute", "web-httproute")["spec"]["rules"]
    assert [rule["name"] for rule in rules] == ["sticky-v2", "sticky-v1", "default"]
    assert rules[0]["matches"] == [
        {"headers": [{"type": "RegularExpression", "name": "cookie", "value": cookie_regex("pin=v2")}]}
    ]
    assert [ref["filters"] for ref in rules[2]["backendRefs"]] == [
        [
            {
                "type": "ResponseHeaderModifier",
                "responseHeaderModifier": {
                    "set": [{"name": "x-canary-version", "value": version}],
                    "add": [
                        {
                            "name": "set-cookie",
                            "value": f"pin={version}; Max-Age=600; Path=/; HttpOnly; SameSite=Lax; Secure",
                        }
                    ],
                },
            }
        ]
        for version in ("v1", "v2")
    ]


def test_without_a_version_header_or_sticky_cookie_a_backend_has_no_filter(run):
    rule = default_rule(run(config(routing={"api": "gateway-api", "versionHeader": False})))
    assert rule["backendRefs"] == [{"name": "web-v1", "port": 80}]


@pytest.mark.parametrize(
    ("mirror", "expected"),
    [
        (20, {"percent": 20}),
        # `percent` is a whole number: a share with decimals goes in the fraction (7.5 % = 3/40).
        (7.5, {"fraction": {"numerator": 3, "denominator": 40}}),
    ],
)
def test_mirroring_is_a_request_mirror_filter_on_the_default_rule(run, mirror, expected):
    rule = default_rule(run(config(canary={"version": "v2", "weight": 10, "mirror": mirror})))
    assert rule["filters"] == [
        {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "web-v2", "port": 80}, **expected}}
    ]


# (config's canary, the routes a user reads it to mean), the same as the Istio path's in
# tests/plan/test_routing.py: which API spells the rules must not change what a request sees.
ROUTES = [
    (
        {"version": "v2", "cookie": "version=v2"},
        [{"when": {"cookie": "version=v2"}, "split": {"v2": 100}}, {"when": {}, "split": {"v1": 100}}],
    ),
    (
        {"version": "v2", "headers": {"x-canary": "always"}, "weight": 25},
        [
            {"when": {"headers": {"x-canary": "always"}}, "split": {"v2": 100}},
            {"when": {}, "split": {"v1": 75, "v2": 25}},
        ],
    ),
    (
        {"version": "v2", "cookie": "version=v2", "weight": 30, "sticky": {"cookie": "pin"}},
        [
            {"when": {"cookie": "version=v2"}, "split": {"v2": 100}},
            {"when": {"cookie": "pin=v2"}, "split": {"v2": 100}},
            {"when": {"cookie": "pin=v1"}, "split": {"v1": 100}},
            {"when": {}, "split": {"v1": 70, "v2": 30}},
        ],
    ),
    ({"version": "v2", "weight": 100}, [{"when": {}, "split": {"v2": 100}}]),
]


@pytest.mark.parametrize(("canary", "expected"), ROUTES)
def test_the_routes_output_read_off_the_http_route_says_what_the_config_means(run, canary, expected):
    assert run(config(canary=canary)).outputs["routes"] == expected


@pytest.mark.parametrize(("canary", "expected"), ROUTES)
def test_the_routes_output_is_the_istio_paths(run, canary, expected):
    istio = {**config(canary=canary), "routing": {"api": "istio"}}
    assert run(istio).outputs["routes"] == run(config(canary=canary)).outputs["routes"] == expected


def registrations(simulation: Any) -> dict[str, Any]:
    return {r.name: r for r in simulation.registrations}


def test_the_http_route_waits_for_the_services_it_names_and_routed_deployments_but_not_a_dark_one(run):
    versions = [*BASELINE["versions"], {"name": "v3", "image": "registry.example.com/web:3.0"}]
    names = registrations(run(config(versions=versions, canary={"version": "v2", "weight": 10})))
    dependencies = names["canary-routing-httproute"].dependencies
    assert names["canary-v1-deployment"].urn in dependencies
    assert names["canary-v2-deployment"].urn in dependencies
    assert names["canary-v3-deployment"].urn not in dependencies
    # The backendRefs take the Services by reference: the order comes from the data, and the dark
    # version's Service, which no backendRef names, is not waited for either.
    assert names["canary-routing-v1"].urn in dependencies
    assert names["canary-routing-v2"].urn in dependencies
    assert names["canary-routing-v3"].urn not in dependencies


def test_the_components_outputs_name_the_objects(run):
    simulation = run(config())
    [component] = [r for r in simulation.registrations if r.type == "canary:index:GatewayApiRouting"]
    outputs = simulation.registered_outputs[component.urn]
    assert outputs["gateway_name"] == "web-gateway"
    assert outputs["http_route_name"] == "web-httproute"
    assert outputs["service_names"] == {"v1": "web-v1", "v2": "web-v2"}


def plan_args(**changes: Any) -> GatewayApiRoutingArgs:
    fields: dict[str, Any] = {
        "namespace": "shop",
        "app": "web",
        "hosts": ["web.example.com"],
        "selectors": {"v1": {"version": "v1"}, "v2": {"version": "v2"}},
        "stable": "v1",
    }
    return GatewayApiRoutingArgs(**{**fields, **changes})


def test_a_canary_no_request_can_reach_is_reported_and_gets_no_rule():
    collector = Collector()
    parts = plan_gateway_api_routing(collector, "r", plan_args(canary=Canary(version="v2")))
    assert collector.warnings == [
        "canary v2 receives no traffic: it has no cookie, no headers, weight 0 and no mirror; "
        "give it canary.headers (or a cookie) to keep it reachable for testers"
    ]
    assert parts.routes == [{"when": {}, "split": {"v1": 100}}]
    [route] = [m for m in collector.manifests if m["kind"] == "HTTPRoute"]
    assert route["spec"]["rules"] == [
        {"name": "default", "backendRefs": [{"name": "web-v1", "port": 80, "filters": version_header("v1")}]}
    ]


def test_a_version_service_name_that_would_not_fit_is_refused_before_anything_is_declared():
    long_version = "v" + "1" * 60
    # Refused by the Args themselves: a plan never starts, so no object is declared half-way.
    pods = {"app": "web"}
    with pytest.raises(
        ValueError, match=r"GatewayApiRoutingArgs.selectors\['v1{60}'\] with the gateway-api routing its Service"
    ):
        plan_args(selectors={long_version: pods}, stable=long_version)
    with pytest.raises(ValueError, match="its Service 'web-service' must be a name"):
        plan_args(selectors={"service": pods}, stable="service")


@pytest.mark.parametrize("version", ["v" + "1" * 60, "service"])
def test_a_release_whose_version_service_could_not_exist_is_refused_before_anything_is_declared(version):
    workloads = [Workload(version="v1", image="nginx"), Workload(version=version, image="nginx")]
    release = {"namespace": "shop", "app": "web", "hosts": ["web.example.com"], "versions": workloads}
    expected = rf"CanaryReleaseArgs.versions\[1\].version with the gateway-api routing its Service 'web-{version}"
    with pytest.raises(ValueError, match=expected):
        CanaryReleaseArgs(**release, routing_api="gateway-api")
    # Istio routing gives versions no Service of their own: the same versions are fine there.
    assert CanaryReleaseArgs(**release).routing_api == "istio"
