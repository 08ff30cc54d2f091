"""The README's canary release, one `pulumi up` per step, checked on what the cluster holds."""

from __future__ import annotations

import json
from typing import Any

from tests.support.dataplane import live_split
from tests.support.routing_cases import request_shaped_like
from tests.support.stack import Workspace, kubectl_json

VS_TYPE = "VirtualService"


def planned_steps(workspace: Workspace) -> list[tuple[str, str]]:
    """(operation, resource type) of every step the engine plans that is not `same`."""
    preview = json.loads(workspace.preview("--json").check().stdout)
    return sorted(
        (step["op"], step["urn"].split("::")[2].rsplit("$", 1)[-1])
        for step in preview.get("steps", [])
        if step["op"] != "same"
    )


def assert_routes_hold_in_the_cluster(workspace: Workspace, namespace: str) -> None:
    """Each route of `routes` is where Istio would send such a request by the live objects."""
    outputs = workspace.outputs()
    for route in outputs["routes"]:
        expected = {version: float(percent) for version, percent in route["split"].items() if percent}
        assert live_split(namespace, request_shaped_like(route["when"])) == expected, route


def step(workspace: Workspace, namespace: str, config: dict[str, Any]) -> None:
    """One traffic step: only the VirtualService changes, in place, and it routes as `routes` says."""
    workspace.write_config(config)
    assert planned_steps(workspace) == [("update", f"kubernetes:networking.istio.io/v1alpha3:{VS_TYPE}")]
    workspace.up().check()
    changes = workspace.last_update()["resourceChanges"]
    assert {op: n for op, n in changes.items() if op != "same"} == {"update": 1}
    assert_routes_hold_in_the_cluster(workspace, namespace)


def test_the_readme_walk_changes_only_the_virtual_service_at_each_traffic_step(new_workspace):
    workspace = new_workspace("walk")
    namespace = "e2e-walk"
    config = workspace.use_shipped("dev", namespace=namespace, canary={})
    # 1. Dark launch: v2 deployed, no traffic.
    workspace.up().check()
    assert_routes_hold_in_the_cluster(workspace, namespace)

    # 2. Cookie testers.
    config["canary"] = {"version": "v2", "cookie": "version=v2"}
    step(workspace, namespace, config)
    # 3. 10 %, 4. 50 %.
    for weight in (10, 50):
        config["canary"] = {**config["canary"], "weight": weight}
        step(workspace, namespace, config)
    # 5. Promote.
    config["stable"], config["canary"] = "v2", {}
    step(workspace, namespace, config)

    # 6. Retire v1 in a second update: its Deployment and subset go, v2 keeps every request.
    config["versions"] = [v for v in config["versions"] if v["name"] != "v1"]
    workspace.write_config(config)
    workspace.up().check()
    deployments = kubectl_json("get", "deployments", "-n", namespace)["items"]
    assert [d["metadata"]["name"] for d in deployments] == ["nginx-deployment-v2"]
    rule = kubectl_json("get", "destinationrule.v1alpha3.networking.istio.io", "nginx-destinationrule", "-n", namespace)
    assert [subset["name"] for subset in rule["spec"]["subsets"]] == ["v2"]
    assert_routes_hold_in_the_cluster(workspace, namespace)
