"""A real service on the release: Flagger's podinfo, with a secret env var, through the real CLI.

One lifecycle: `up` with a `secretEnv` value set by `pulumi config set --secret`, no drift, a
weight step that updates the VirtualService alone, `destroy`. The secret reaches the cluster's
Secret and is nowhere in plain text: not in the state export, the outputs or the CLI's output.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from canary.plan.rules.quantities import parse_quantity
from tests.e2e.support.objects import live, missing_or_different, rendered_manifests
from tests.e2e.support.preview import VIRTUAL_SERVICE, planned_steps
from tests.support.stack import kubectl_json, live_object

TOKEN = "e2e-token-7c1d0a5b"


def canonical(manifest: dict[str, Any]) -> dict[str, Any]:
    """`manifest` with its containers' resource quantities as numbers: the API server stores
    podinfo's `cpu: 2000m` in its canonical form `2`, the same quantity."""
    if manifest["kind"] != "Deployment":
        return manifest
    for container in manifest["spec"]["template"]["spec"]["containers"]:
        for kind in ("requests", "limits"):
            amounts = container.get("resources", {}).get(kind, {})
            for name, amount in amounts.items():
                amounts[name] = parse_quantity(amount)
    return manifest


def test_podinfo_goes_up_holds_its_secret_steps_its_weight_and_goes(new_workspace, tmp_path):
    workspace = new_workspace("podinfo")
    values = workspace.use_shipped("podinfo", namespace="e2e-podinfo")
    namespace, app = values["namespace"], values["app"]
    workspace.pulumi("config", "set", "--secret", "--path", "istio-canary:secretEnv.API_TOKEN", TOKEN).check()
    assert TOKEN not in workspace.stack_file.read_text()

    up = workspace.up()
    up.check()
    assert TOKEN not in up.output

    # Everything but the Secret as render writes it (render cannot decrypt; it says so).
    rendered = workspace.render(tmp_path / "manifests")
    rendered.check()
    assert "secretEnv: the Secret podinfo-env (API_TOKEN) is not written" in rendered.output
    manifests = rendered_manifests(tmp_path / "manifests")
    assert "Secret" not in {m["kind"] for m in manifests}
    for manifest in manifests:
        held = live(manifest)
        assert held is not None, manifest["metadata"]["name"]
        assert missing_or_different(canonical(held), canonical(manifest)) == [], manifest["metadata"]["name"]

    secret = live_object("secret", "podinfo-env", namespace)
    assert secret is not None
    assert base64.b64decode(secret["data"]["API_TOKEN"]).decode() == TOKEN
    for deployment in (m for m in manifests if m["kind"] == "Deployment"):
        pod = live_object("deployment", deployment["metadata"]["name"], namespace)["spec"]["template"]["spec"]
        env = {entry["name"]: entry for entry in pod["containers"][0]["env"]}
        assert env["API_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "podinfo-env", "key": "API_TOKEN"}
        assert {p["containerPort"] for p in pod["containers"][0]["ports"]} == {9898, 9797, 9999}

    exported = json.dumps(workspace.exported_state())
    assert TOKEN not in exported
    assert '"secret"' in exported or "ciphertext" in exported
    assert TOKEN not in json.dumps(workspace.outputs())

    workspace.preview("--expect-no-changes").check()

    # A traffic step is one in-place update of the VirtualService, nothing else.
    workspace.pulumi("config", "set", "--path", "istio-canary:canary.weight", "20").check()
    assert planned_steps(workspace) == [("update", VIRTUAL_SERVICE)]
    step = workspace.up()
    step.check()
    assert TOKEN not in step.output
    changes = workspace.last_update()["resourceChanges"]
    assert {op: n for op, n in changes.items() if op != "same"} == {"update": 1}

    workspace.destroy().check()
    assert live_object("namespace", namespace) is None
    leftovers = kubectl_json("get", "all", "-A", "-l", f"app={app}")["items"]
    assert [item["metadata"]["name"] for item in leftovers] == []
