"""`routing.api: gateway-api` with the real CLI against the local API server (Gateway API CRDs installed)."""

from __future__ import annotations

import json

from tests.e2e.support.objects import assert_live_as_rendered, rendered_manifests
from tests.support.dataplane import live_split
from tests.support.routing_cases import request_shaped_like

# Two replicas per version: each gets a PodDisruptionBudget.
GATEWAY_API_KINDS = sorted(
    [
        *("Namespace", "Deployment", "Deployment", "PodDisruptionBudget", "PodDisruptionBudget"),
        *("Service", "Service", "Service", "Gateway", "HTTPRoute"),
    ]
)


def test_the_gateway_api_release_is_created_as_rendered_and_routes_as_its_routes_say(new_workspace, tmp_path):
    workspace = new_workspace("gwapi")
    # The shipped stack's release, without its TLS Secret (the listener would wait for it) and
    # with the sticky canary, so every kind of rule is on the live HTTPRoute.
    values = workspace.use_shipped(
        "gateway-api",
        namespace="e2e-gateway-api",
        gateway={"className": "istio"},
        security={},
        canary={"version": "v2", "cookie": "version=v2", "weight": 10, "sticky": {"cookie": "pin"}, "mirror": 2.5},
    )
    workspace.up().check()

    workspace.render(tmp_path / "manifests", tmp_path / "outputs.json").check()
    manifests = rendered_manifests(tmp_path / "manifests")
    assert sorted(m["kind"] for m in manifests) == GATEWAY_API_KINDS
    assert_live_as_rendered(manifests)
    outputs = workspace.outputs()
    assert outputs == json.loads((tmp_path / "outputs.json").read_text())

    # The HTTPRoute the API server holds (with its defaults written in), through istiod's Gateway
    # API controller, routes each request as `routes` says.
    for route in outputs["routes"]:
        expected = {version: float(percent) for version, percent in route["split"].items() if percent}
        assert live_split(values["namespace"], request_shaped_like(route["when"])) == expected, route

    workspace.preview("--expect-no-changes").check()
