"""`createNamespace: false`: a release in a namespace someone else owns, which destroy leaves as it found it."""

from __future__ import annotations

import os

from tests.support.stack import kubectl, kubectl_json, live_object

# The release's own kinds, Istio's included: none may be left behind in the namespace.
RELEASE_KINDS = "deployments,services,gateways.networking.istio.io,destinationrules,virtualservices"


def test_destroy_leaves_an_existing_namespace_and_what_else_it_holds(new_workspace):
    namespace = f"e2e-owned-elsewhere-{os.getpid()}"
    kubectl("create", "namespace", namespace).check()
    try:
        kubectl("create", "configmap", "platform-settings", "-n", namespace, "--from-literal=owner=platform").check()
        workspace = new_workspace("existing")
        workspace.use_shipped("dev", namespace=namespace, createNamespace=False)
        workspace.up().check()

        # Deployed into it, without taking it over: no label of the release's, no Namespace in the stack.
        live = live_object("namespace", namespace)
        assert live is not None and "istio-injection" not in live["metadata"].get("labels", {})
        deployed = kubectl_json("get", RELEASE_KINDS, "-n", namespace)["items"]
        assert {item["kind"] for item in deployed} >= {"Deployment", "Service", "Gateway", "VirtualService"}
        resources = workspace.exported_state()["deployment"]["resources"]
        assert [r for r in resources if r["type"] == "kubernetes:core/v1:Namespace"] == []

        workspace.destroy().check()
        assert live_object("namespace", namespace) is not None
        settings = live_object("configmap", "platform-settings", namespace)
        assert settings is not None and settings["data"] == {"owner": "platform"}
        left = kubectl_json("get", RELEASE_KINDS, "-n", namespace)["items"]
        assert [f"{item['kind']}/{item['metadata']['name']}" for item in left] == []
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false")
