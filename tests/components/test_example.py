"""The example program in examples/components uses the components directly, with no stack config
of ours: it runs under the SDK's mocks and declares the release it says it does."""

from __future__ import annotations

import runpy
from typing import Any

import pulumi
import yaml
from pulumi.runtime import config as runtime_config

from tests.support.project import PROJECT_DIR
from tests.support.simulate import Simulation, install_mocks

EXAMPLE = PROJECT_DIR / "examples" / "components"


def run_example(config: dict[str, str]) -> Simulation:
    simulation = Simulation()
    install_mocks(simulation)
    # pulumi.Config() reads the running project's keys, as Pulumi.yaml's `name` would set them.
    runtime_config.set_all_config({f"{pulumi.get_project()}:{k}": v for k, v in config.items()})

    def program() -> pulumi.Output[Any]:
        exported: dict[str, Any] = {}
        original = pulumi.export
        pulumi.export = lambda name, value: exported.__setitem__(name, value)  # type: ignore[assignment]
        try:
            runpy.run_path(str(EXAMPLE / "__main__.py"))
        finally:
            pulumi.export = original
        return pulumi.Output.all(**exported).apply(simulation.outputs.update)

    try:
        pulumi.runtime.test(program)()
    finally:
        import asyncio

        asyncio.get_event_loop().close()
        asyncio.set_event_loop(None)
    return simulation


def test_the_example_declares_its_release_wired_by_reference():
    simulation = run_example({"weight": "25"})
    kinds = sorted(m["kind"] for m in simulation.manifests())
    assert kinds == sorted(
        [
            *["Namespace", "Deployment", "Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler"],
            *["Service", "Gateway", "DestinationRule", "VirtualService"],
        ]
    )
    (hpa,) = simulation.find("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "api-deployment-v1"
    (service,) = simulation.find("Service")
    assert service["spec"]["selector"] == {"app": "api"}
    (rule,) = simulation.find("DestinationRule")
    assert rule["spec"]["subsets"] == [
        {"name": "v1", "labels": {"version": "v1"}},
        {"name": "v2", "labels": {"version": "v2"}},
    ]
    assert simulation.outputs["routes"] == [
        {"when": {"headers": {"x-canary": "always"}}, "split": {"v2": 100}},
        {"when": {}, "split": {"v1": 75, "v2": 25}},
    ]


def test_the_example_waits_for_both_versions_before_routing():
    simulation = run_example({})
    by_name = {r.name: r for r in simulation.registrations}
    waits = by_name["api-routing-virtualservice"].dependencies
    assert by_name["api-v1-deployment"].urn in waits
    assert by_name["api-v2-deployment"].urn in waits
    # Every object hangs under a component or is the program's own namespace.
    assert all(r.parent for r in simulation.registrations if r.custom and r.name != "api")


def plain_split(simulation: Simulation) -> dict[str, float]:
    (plain,) = [route["split"] for route in simulation.outputs["routes"] if route["when"] == {}]
    return plain


def test_a_weight_of_zero_sends_no_plain_request_to_the_canary():
    assert plain_split(run_example({"weight": "0"})) == {"v1": 100}


def test_an_unset_weight_and_image_are_the_defaults_pulumi_yaml_declares():
    declared = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())["config"]
    simulation = run_example({})
    weight = declared["weight"]["default"]
    assert plain_split(simulation) == {"v1": 100 - weight, "v2": weight}
    images = {d["spec"]["template"]["spec"]["containers"][0]["image"] for d in simulation.find("Deployment")}
    assert declared["image"]["default"] in images
