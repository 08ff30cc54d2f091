"""Workloads: probes, resources, security profiles, disruption budgets, autoscaling, scan skips."""

from __future__ import annotations

from tests.support.project import BASELINE


def deployments(simulation):
    return {m["metadata"]["name"]: m for m in simulation.find("Deployment")}


def container(deployment):
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def with_versions(*versions, **more):
    return {**BASELINE, "versions": list(versions), "canary": {}, **more}


V1 = {"name": "v1", "image": "registry.example.com/web:1.0"}


def test_default_probes_get_the_root_path_on_the_app_port(run):
    app = container(deployments(run(BASELINE))["web-deployment-v1"])
    assert app["readinessProbe"]["httpGet"] == {"path": "/", "port": "http"}
    assert app["livenessProbe"]["httpGet"] == {"path": "/", "port": "http"}
    assert app["ports"] == [{"name": "http", "containerPort": 80}]


def test_tcp_probe_connects_to_the_app_port(run):
    app = container(deployments(run(with_versions({**V1, "probe": {"type": "tcp"}})))["web-deployment-v1"])
    assert app["readinessProbe"]["tcpSocket"] == {"port": "http"}
    assert "httpGet" not in app["livenessProbe"]


def test_liveness_waits_longer_than_readiness(run):
    app = container(deployments(run(BASELINE))["web-deployment-v1"])
    assert app["livenessProbe"]["initialDelaySeconds"] > app["readinessProbe"].get("initialDelaySeconds", 0)


def test_default_resources_request_and_limit_cpu_and_memory(run):
    app = container(deployments(run(BASELINE))["web-deployment-v1"])
    assert app["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }


def test_hardened_profile_locks_the_container_down(run):
    deployment = deployments(run(BASELINE))["web-deployment-v1"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container(deployment)["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001
    assert context["capabilities"] == {"drop": ["ALL"]}
    # A read-only root still gets a writable /tmp.
    assert container(deployment)["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {}}]


def test_run_as_user_is_configurable_for_the_hardened_profile(run):
    context = container(deployments(run(with_versions({**V1, "runAsUser": 20000})))["web-deployment-v1"])
    assert context["securityContext"]["runAsUser"] == 20000


def test_root_profile_adds_back_only_what_root_start_up_needs(run):
    deployment = deployments(run(with_versions({**V1, "securityProfile": "root"})))["web-deployment-v1"]
    context = container(deployment)["securityContext"]
    assert "runAsNonRoot" not in context and "runAsUser" not in context
    assert context["readOnlyRootFilesystem"] is False
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID"]}
    assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_root_profile_states_each_check_it_cannot_meet_on_the_deployment(run):
    deployment = deployments(run(with_versions({**V1, "securityProfile": "root"})))["web-deployment-v1"]
    skipped = {
        value.split("=", 1)[0]: value.split("=", 1)[1]
        for key, value in deployment["metadata"]["annotations"].items()
        if key.startswith("checkov.io/")
    }
    assert set(skipped) == {"CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_25", "CKV_K8S_40"}
    assert all(reason.startswith("securityProfile root:") for reason in skipped.values())


def test_scan_exceptions_from_config_join_the_profile_ones(run):
    version = {**V1, "securityProfile": "root", "scanExceptions": {"CKV_K8S_43": "published by tag only"}}
    annotations = deployments(run(with_versions(version)))["web-deployment-v1"]["metadata"]["annotations"]
    skips = {key: value for key, value in annotations.items() if key.startswith("checkov.io/")}
    assert "CKV_K8S_43=published by tag only" in skips.values()
    assert sorted(skips) == [f"checkov.io/skip{i}" for i in range(1, 6)]


def test_hardened_version_without_exceptions_carries_no_scanner_annotations(run):
    annotations = deployments(run(BASELINE))["web-deployment-v1"]["metadata"]["annotations"]
    assert not any(key.startswith("checkov.io/") for key in annotations)


def test_single_replica_versions_get_no_disruption_budget(run):
    assert run(BASELINE).find("PodDisruptionBudget") == []


def test_versions_with_several_replicas_get_a_disruption_budget(run):
    simulation = run(with_versions({**V1, "replicas": 3}, {"name": "v2", "image": "web:2", "replicas": 1}))
    (budget,) = simulation.find("PodDisruptionBudget")
    assert budget["metadata"]["name"] == "web-v1"
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web", "version": "v1"}}}


def test_autoscaled_version_leaves_replicas_to_the_autoscaler(run):
    simulation = run(with_versions({**V1, "autoscaling": {"min": 2, "max": 6, "cpu": 70}}))
    # Created at the autoscaler's minimum; after that the count is the autoscaler's.
    assert deployments(simulation)["web-deployment-v1"]["spec"]["replicas"] == 2
    (deployment,) = [r for r in simulation.registrations if r.name == "canary-v1-deployment"]
    assert deployment.ignore_changes == ("spec.replicas",)
    (autoscaler,) = simulation.find("HorizontalPodAutoscaler")
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web-deployment-v1",
    }
    assert (autoscaler["spec"]["minReplicas"], autoscaler["spec"]["maxReplicas"]) == (2, 6)
    assert autoscaler["spec"]["metrics"][0]["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 70},
    }
    # Two pods at least: a disruption budget too.
    assert len(simulation.find("PodDisruptionBudget")) == 1


def test_autoscaler_waits_for_its_deployment(run):
    simulation = run(with_versions({**V1, "autoscaling": {"min": 1, "max": 3}}))
    names = {r.name: r for r in simulation.registrations}
    assert names["canary-v1-deployment"].urn in names["canary-v1-hpa"].dependencies


def test_a_fixed_replica_count_is_never_ignored_and_conflicts_are_taken_back(run):
    simulation = run(with_versions({**V1, "replicas": 3}))
    (deployment,) = [r for r in simulation.registrations if r.name == "canary-v1-deployment"]
    assert deployment.ignore_changes == ()
    assert deployment.inputs["spec"]["replicas"] == 3
    assert deployment.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"


def test_the_deployment_carries_the_pod_labels_for_selection(run):
    deployment = deployments(run(BASELINE))["web-deployment-v1"]
    assert deployment["metadata"]["labels"] == {"app": "web", "version": "v1"}


def test_hardened_profile_runs_under_the_apps_own_group_too(run):
    deployment = deployments(run(with_versions({**V1, "runAsUser": 20000})))["web-deployment-v1"]
    pod = deployment["spec"]["template"]["spec"]
    assert container(deployment)["securityContext"]["runAsGroup"] == 20000
    # Mounted volumes (the /tmp emptyDir) are group-owned by it, so the app can write there.
    assert pod["securityContext"]["fsGroup"] == 20000
