"""What only the real engine and API server show: each of these failed before its fix."""

from __future__ import annotations

import subprocess
import time

from tests.support.stack import kubectl_json, live_object


def changes_besides_same(workspace) -> dict[str, int]:
    return {op: n for op, n in workspace.last_update()["resourceChanges"].items() if op != "same"}


def test_bad_config_changes_neither_the_cluster_nor_the_state(new_workspace):
    workspace = new_workspace("bad")
    config = workspace.use_shipped("dev", namespace="e2e-bad")
    workspace.up().check()
    before_cluster = kubectl_json("get", "all,virtualservices,destinationrules,gateways", "-n", "e2e-bad")
    before_state = workspace.exported_state()["deployment"]["resources"]

    config["canary"] = {**config["canary"], "weight": 150}
    workspace.write_config(config)
    result = workspace.up()
    assert result.returncode != 0
    assert "canary.weight: must be from 0 to 100, got 150" in result.output
    assert "Traceback" not in result.output

    after_cluster = kubectl_json("get", "all,virtualservices,destinationrules,gateways", "-n", "e2e-bad")
    versions = lambda listing: {i["metadata"]["uid"]: i["metadata"]["resourceVersion"] for i in listing["items"]}  # noqa: E731
    assert versions(after_cluster) == versions(before_cluster)
    assert workspace.exported_state()["deployment"]["resources"] == before_state


def test_a_secret_config_value_is_refused_and_changes_nothing(new_workspace):
    workspace = new_workspace("secret")
    workspace.use_shipped("dev", namespace="e2e-secret")
    workspace.pulumi("config", "set", "--secret", "--path", "canary.headers.x-canary", "always").check()
    result = workspace.up()
    assert result.returncode != 0
    assert "canary: stored as a secret" in result.output
    assert live_object("namespace", "e2e-secret") is None


def test_switching_the_istio_api_version_updates_the_objects_in_place(new_workspace):
    workspace = new_workspace("apiversion")
    config = workspace.use_shipped("dev", namespace="e2e-apiversion", security={"mtls": True})
    workspace.up().check()
    uids = {
        kind: live_object(f"{kind}.networking.istio.io", f"nginx-{kind}", "e2e-apiversion")["metadata"]["uid"]
        for kind in ("gateway", "destinationrule", "virtualservice")
    }
    config["istioApiVersion"] = "networking.istio.io/v1"
    workspace.write_config(config)
    workspace.up().check()
    changes = changes_besides_same(workspace)
    assert set(changes) <= {"update"}, changes
    for kind, uid in uids.items():
        assert live_object(f"{kind}.networking.istio.io", f"nginx-{kind}", "e2e-apiversion")["metadata"]["uid"] == uid
    workspace.preview("--expect-no-changes").check()


def test_renaming_the_app_keeps_the_namespace(new_workspace):
    workspace = new_workspace("rename")
    config = workspace.use_shipped("dev", namespace="e2e-rename")
    workspace.up().check()
    uid = live_object("namespace", "e2e-rename")["metadata"]["uid"]
    config["app"] = "web"
    workspace.write_config(config)
    workspace.up().check()
    namespace = live_object("namespace", "e2e-rename")
    # A namespace being deleted still answers with its uid: it must not be terminating either.
    assert namespace["metadata"]["uid"] == uid
    assert "deletionTimestamp" not in namespace["metadata"]
    assert namespace["status"]["phase"] == "Active"
    workspace.preview("--expect-no-changes").check()
    assert [d["metadata"]["name"] for d in kubectl_json("get", "deployments", "-n", "e2e-rename")["items"]] == [
        "web-deployment-v1",
        "web-deployment-v2",
    ]


def replica_counts_during(workspace, namespace: str, deployment: str) -> list[int]:
    """Every spec.replicas the Deployment shows while `pulumi up` runs."""
    watch = subprocess.Popen(
        [
            "kubectl",
            "get",
            "deployment",
            deployment,
            "-n",
            namespace,
            "--watch",
            "-o",
            'jsonpath={.spec.replicas}{"\\n"}',
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        result = workspace.up()
        time.sleep(2)
    finally:
        watch.terminate()
    seen = [int(line) for line in watch.communicate(timeout=30)[0].split() if line.strip()]
    result.check()
    return seen


def test_moving_a_version_between_replicas_and_autoscaling_never_drops_to_one_pod(new_workspace):
    workspace = new_workspace("hpa")
    config = workspace.use_shipped("dev", namespace="e2e-hpa")
    config["versions"][0] = {**config["versions"][0], "replicas": 3}
    workspace.write_config(config)
    workspace.up().check()

    config["versions"][0] = {k: v for k, v in config["versions"][0].items() if k != "replicas"}
    config["versions"][0]["autoscaling"] = {"min": 3, "max": 6}
    workspace.write_config(config)
    seen = replica_counts_during(workspace, "e2e-hpa", "nginx-deployment-v1")
    assert seen and min(seen) >= 3, seen

    config["versions"][0] = {k: v for k, v in config["versions"][0].items() if k != "autoscaling"}
    config["versions"][0]["replicas"] = 4
    workspace.write_config(config)
    seen = replica_counts_during(workspace, "e2e-hpa", "nginx-deployment-v1")
    assert seen and min(seen) >= 3, seen
    assert kubectl_json("get", "deployment", "nginx-deployment-v1", "-n", "e2e-hpa")["spec"]["replicas"] == 4


def test_every_version_at_zero_replicas_does_not_hang_the_update(new_workspace):
    workspace = new_workspace("zero")
    config = workspace.use_shipped("dev", namespace="e2e-zero")
    config["versions"] = [{**version, "replicas": 0} for version in config["versions"]]
    workspace.write_config(config)
    started = time.monotonic()
    workspace.up().check()
    # Minutes would mean the provider waited for pods that can never come.
    assert time.monotonic() - started < 120


def test_an_unprefixed_key_reaches_the_program_as_the_cli_reads_it(new_workspace):
    # The CLI reads a key without a namespace as the project's own key.
    workspace = new_workspace("prefix")
    workspace.use_shipped("dev", namespace="e2e-prefix")
    text = workspace.stack_file.read_text().replace("istio-canary:loadBalancerDns:", "loadBalancerDns:")
    workspace.stack_file.write_text(text)
    workspace.up().check()
    rule = kubectl_json(
        "get", "virtualservice.v1alpha3.networking.istio.io", "nginx-virtualservice", "-n", "e2e-prefix"
    )
    assert "external-dns.alpha.kubernetes.io/target" in rule["metadata"].get("annotations", {})
