"""`pulumi up`, `preview` and `destroy` with the real CLI against a real API server."""

from __future__ import annotations

import json

import pytest

from tests.e2e.support.objects import assert_live_as_rendered, live, rendered_manifests
from tests.support.project import SHIPPED_STACKS
from tests.support.stack import PROJECT_DIR, kubectl, kubectl_json, live_object

SEED = PROJECT_DIR / "tests" / "data" / "seed"
TUTORIAL_KINDS = sorted(
    ["Namespace", "Deployment", "Deployment", "Service", "Gateway", "DestinationRule", "VirtualService"]
)


def test_dev_creates_the_tutorial_objects_exactly_as_rendered(new_workspace, tmp_path):
    workspace = new_workspace("dev")
    workspace.use_shipped("dev")
    workspace.up().check()

    workspace.render(tmp_path / "manifests", tmp_path / "outputs.json").check()
    manifests = rendered_manifests(tmp_path / "manifests")
    assert sorted(m["kind"] for m in manifests) == TUTORIAL_KINDS
    assert_live_as_rendered(manifests)

    for deployment in (m for m in manifests if m["kind"] == "Deployment"):
        status = live(deployment)["status"]
        assert status.get("readyReplicas") == deployment["spec"]["replicas"], deployment["metadata"]["name"]

    assert workspace.outputs() == json.loads((tmp_path / "outputs.json").read_text())


def test_outputs_of_a_stack_without_canary_or_header_match_the_render(new_workspace, tmp_path):
    # Outputs that are None vanish under the real engine; the program must export none.
    workspace = new_workspace("plain")
    workspace.use_shipped("dev", namespace="e2e-plain", canary={}, routing={"versionHeader": False})
    workspace.up().check()
    workspace.render(tmp_path / "m", tmp_path / "outputs.json").check()
    assert workspace.outputs() == json.loads((tmp_path / "outputs.json").read_text())
    cookie = workspace.pulumi("stack", "output", "cookie").check()
    assert cookie.stdout.strip() == ""
    assert workspace.pulumi("stack", "output", "versionHeader").check().stdout.strip() == ""


# podinfo's lifecycle, a weight step and a secret included, is tests/e2e/test_workloads.py's.
@pytest.mark.parametrize("stack", [stack for stack in SHIPPED_STACKS if stack != "podinfo"])
def test_a_fresh_deployment_has_no_drift_and_destroy_leaves_nothing(new_workspace, stack):
    workspace = new_workspace(stack)
    values = workspace.use_shipped(stack)
    workspace.up().check()
    namespace = values["namespace"]
    assert live_object("namespace", namespace) is not None

    workspace.preview("--expect-no-changes").check()

    workspace.destroy().check()
    # Pods, ReplicaSets and the rest that controllers made from the release's objects are gone too:
    # a namespace is removed only once everything in it is. (Listing the app's objects across all
    # namespaces would find other modules' releases of the same app, running beside this one.)
    assert live_object("namespace", namespace) is None


# In the tutorial's own namespace, as the dev stack's tests above: beside them, never at once.
def test_adopting_the_tutorials_kubectl_objects_works_as_the_readme_says(new_workspace):
    kubectl("apply", "-f", str(SEED)).check()
    workspace = new_workspace("adopt")
    workspace.use_shipped("dev")  # the tutorial's namespace and names
    # docs/deploying.md's procedure: one update that takes the fields kubectl owns, then plain updates.
    workspace.up(env={"PULUMI_K8S_ENABLE_PATCH_FORCE": "true", "PULUMI_K8S_UPSERT_EXISTING_OBJECTS": "true"}).check()
    rule = kubectl_json(
        "get", "virtualservice.v1alpha3.networking.istio.io", "nginx-virtualservice", "-n", "canary-deployment"
    )
    assert rule["spec"]["http"][0]["match"][0]["headers"]["cookie"]["regex"].startswith("^(.*;)?[ \\t]*version")
    workspace.preview("--expect-no-changes").check()
    workspace.up().check()
