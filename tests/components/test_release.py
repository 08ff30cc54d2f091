"""The composed release: structure (parents, dependencies, registered outputs) and stack outputs."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pytest

from canary.components.release import CanaryRelease
from canary.config import parse_settings
from canary.config.files import as_config_strings
from canary.config.to_args import release_args
from tests.support.simulate import Simulation, simulate

COMPONENT_TYPES = {
    "canary:index:CanaryRelease",
    "canary:index:AppVersion",
    "canary:index:AppService",
    "canary:index:IstioGateway",
    "canary:index:RoutingRules",
}


def by_name(simulation):
    return {r.name: r for r in simulation.registrations}


def test_every_kubernetes_object_is_the_child_of_a_component(run, baseline):
    simulation = run(baseline)
    types = {r.urn: r.type for r in simulation.registrations}
    objects = [r for r in simulation.registrations if r.custom]
    assert objects
    assert all(types.get(r.parent) in COMPONENT_TYPES for r in objects), [(r.name, r.parent) for r in objects]


def test_components_hang_under_the_release(run, baseline):
    simulation = run(baseline)
    release = by_name(simulation)["canary"]
    assert release.type == "canary:index:CanaryRelease"
    children = [r for r in simulation.registrations if not r.custom and r is not release]
    assert {r.type for r in children} == COMPONENT_TYPES - {"canary:index:CanaryRelease"}
    assert all(r.parent == release.urn for r in children)


def test_the_component_urns_are_the_ones_deployed_stacks_hold(run, baseline):
    # A URN is a resource's identity in the state: a changed type token or parent chain replaces
    # the resource (and, for the release, everything under it) instead of updating it in place.
    simulation = run(baseline)
    components = sorted(r.urn.split("::", 2)[2] for r in simulation.registrations if not r.custom)
    assert components == [
        "canary:index:CanaryRelease$canary:index:AppService::canary-service",
        "canary:index:CanaryRelease$canary:index:AppVersion::canary-v1",
        "canary:index:CanaryRelease$canary:index:AppVersion::canary-v2",
        "canary:index:CanaryRelease$canary:index:IstioGateway::canary-gateway",
        "canary:index:CanaryRelease$canary:index:RoutingRules::canary-routing",
        # The mocks keep the root stack's type in the release's URN; the engine leaves it out.
        "pulumi:pulumi:Stack$canary:index:CanaryRelease::canary",
    ]


def test_every_component_registers_its_outputs(run, baseline):
    simulation = run(baseline)
    registered = {r.name: simulation.registered_outputs.get(r.urn) for r in simulation.registrations if not r.custom}
    # The baseline: cookie version=v2 to the canary, weight 0 (the wire format turns ints into floats).
    routes = [{"when": {"cookie": "version=v2"}, "split": {"v2": 100.0}}, {"when": {}, "split": {"v1": 100.0}}]
    assert registered == {
        "canary": {"namespace": "shop", "urls": ["http://web.example.com/"], "routes": routes},
        "canary-v1": {"deployment_name": "web-deployment-v1"},
        "canary-v2": {"deployment_name": "web-deployment-v2"},
        "canary-service": {"name": "web-service"},
        "canary-gateway": {"name": "web-gateway"},
        "canary-routing": {
            "destination_rule_name": "web-destinationrule",
            "virtual_service_name": "web-virtualservice",
            "routes": routes,
        },
    }


def test_virtual_service_waits_for_the_routed_deployments_but_not_a_dark_one(run, baseline):
    baseline["versions"].append({"name": "v3", "image": "registry.example.com/web:3.0"})
    simulation = run(baseline)
    names = by_name(simulation)
    dependencies = names["canary-routing-virtualservice"].dependencies
    assert names["canary-v1-deployment"].urn in dependencies
    assert names["canary-v2-deployment"].urn in dependencies
    assert names["canary-v3-deployment"].urn not in dependencies
    assert names["canary-routing-destinationrule"].urn in dependencies


def test_virtual_service_follows_a_new_stable_version(run, baseline):
    simulation = run({**baseline, "stable": "v2", "canary": {"version": "v1", "weight": 10}})
    names = by_name(simulation)
    dependencies = names["canary-routing-virtualservice"].dependencies
    assert {names["canary-v1-deployment"].urn, names["canary-v2-deployment"].urn} <= set(dependencies)


def test_every_namespaced_object_waits_for_the_namespace(run, baseline):
    simulation = run(baseline)
    namespace = by_name(simulation)["canary-namespace"]
    namespaced = [r for r in simulation.registrations if r.custom and r is not namespace]
    assert all(namespace.urn in r.dependencies for r in namespaced)
    assert all(r.inputs["metadata"]["namespace"] == "shop" for r in namespaced)
    assert namespace.inputs["metadata"]["labels"] == {"istio-injection": "enabled"}


def test_stack_outputs_say_what_is_deployed_and_how_traffic_should_split(run, baseline):
    baseline["canary"] = {"version": "v2", "cookie": "version=v2", "headers": {"x-canary": "always"}, "weight": 10}
    baseline["hosts"] = ["web.example.com", "*.web.example.com"]
    outputs = run(baseline).outputs
    assert outputs == {
        "namespace": "shop",
        "urls": ["http://web.example.com/"],
        "stableVersion": "v1",
        "canaryVersion": "v2",
        "weight": 10,
        "cookie": "version=v2",
        "canaryHeaders": {"x-canary": "always"},
        "versionHeader": "x-canary-version",
        "stickyCookie": "",
        "routes": [
            {"when": {"cookie": "version=v2"}, "split": {"v2": 100}},
            {"when": {"headers": {"x-canary": "always"}}, "split": {"v2": 100}},
            {"when": {}, "split": {"v1": 90, "v2": 10}},
        ],
    }


def test_a_sticky_canary_names_its_cookie_and_the_pinned_routes(run, baseline):
    baseline["canary"] = {"version": "v2", "weight": 20, "sticky": {"cookie": "canary-pin"}}
    outputs = run(baseline).outputs
    assert outputs["stickyCookie"] == "canary-pin"
    assert outputs["routes"] == [
        {"when": {"cookie": "canary-pin=v2"}, "split": {"v2": 100}},
        {"when": {"cookie": "canary-pin=v1"}, "split": {"v1": 100}},
        {"when": {}, "split": {"v1": 80, "v2": 20}},
    ]


def test_urls_use_https_when_the_gateway_terminates_tls(run, baseline):
    baseline["gateway"] = {"tls": {"credentialName": "web-cert"}}
    assert run(baseline).outputs["urls"] == ["https://web.example.com/"]


def test_without_a_canary_the_outputs_say_so(run, baseline):
    del baseline["canary"]
    outputs = run(baseline).outputs
    assert (outputs["canaryVersion"], outputs["weight"], outputs["cookie"], outputs["canaryHeaders"]) == ("", 0, "", {})
    assert outputs["stickyCookie"] == ""
    assert outputs["routes"] == [{"when": {}, "split": {"v1": 100}}]


def test_no_output_is_ever_none(run, baseline):
    # The engine drops None outputs: `pulumi stack output cookie` would fail on a real stack.
    del baseline["canary"]
    baseline["routing"] = {"versionHeader": False}
    outputs = run(baseline).outputs
    assert [key for key, value in outputs.items() if value is None] == []
    assert outputs["versionHeader"] == ""


@pulumi.runtime.test
def test_two_releases_in_one_stack_do_not_collide(recorded, baseline):
    args = release_args(parse_settings(as_config_strings(baseline)))
    first = CanaryRelease("shop-a", args)
    second = CanaryRelease("shop-b", dataclasses.replace(args, namespace="shop-b"))

    def check(_: Any) -> None:
        names = [r.name for r in recorded.registrations]
        assert len(names) == len(set(names))
        assert {n for n in names if n.startswith("shop-a")} and {n for n in names if n.startswith("shop-b")}

    return pulumi.Output.all(first.namespace, second.namespace).apply(check)


@pulumi.runtime.test
def test_a_provider_given_to_the_program_reaches_every_object(recorded, baseline):
    import pulumi_kubernetes as k8s
    from pulumi.runtime import config as runtime_config

    from canary.program import release_from_config

    runtime_config.set_all_config({f"istio-canary:{k}": v for k, v in as_config_strings(baseline).items()})
    render = k8s.Provider("render", render_yaml_to_directory="rendered")
    outputs = release_from_config(pulumi.ResourceOptions(providers={"kubernetes": render}))

    def check(_: Any) -> None:
        objects = [r for r in recorded.registrations if r.custom and r.type.startswith("kubernetes:")]
        assert objects
        assert all(r.provider.startswith("urn:") and "::render::" in r.provider for r in objects), {
            r.name: r.provider for r in objects
        }

    return pulumi.Output.all(*outputs.values()).apply(check)


def test_a_secret_config_key_is_refused_before_anything_is_registered(baseline):
    # Header values end up in the VirtualService and the outputs in plain text: a secret would leak.
    simulation = Simulation()
    with pytest.raises(pulumi.RunError) as err:
        simulate(as_config_strings(baseline), secret_keys=["canary"], into=simulation)
    assert "canary: stored as a secret" in str(err.value)
    assert "--secret" in str(err.value)
    assert simulation.registrations == []


def test_a_canary_that_can_receive_no_traffic_is_reported(run, baseline, monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    baseline["canary"] = {"version": "v2"}
    run(baseline)
    assert len(warnings) == 1 and "canary v2 receives no traffic" in warnings[0]
    warnings.clear()
    baseline["canary"] = {"version": "v2", "headers": {"x-canary": "always"}}
    run(baseline)
    assert warnings == []


def test_a_secret_rollout_key_is_read_by_the_program(baseline):
    # Only `canary rollout` reads `rollout`; the program validates it and puts it nowhere.
    config = {**baseline, "rollout": {"webhook": "https://hooks.example.com/services/T0/B0/s3cret"}}
    simulation = Simulation()
    simulate(as_config_strings(config), secret_keys=["rollout"], into=simulation)
    assert simulation.manifests() and simulation.outputs
    assert "s3cret" not in json.dumps(simulation.manifests()) + json.dumps(simulation.outputs, default=str)
