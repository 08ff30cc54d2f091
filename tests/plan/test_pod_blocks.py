"""The `container`, `pod`, `podMetadata` and `deployment` blocks, through the stack file and the Python Args.

A block is laid over the release-wide one as a strategic merge patch, checked against the
Kubernetes schema before anything registers, and refused where it would set what the release
owns. The expected merges are written out by hand here, not computed.
"""

from __future__ import annotations

import shutil

import pulumi_kubernetes as k8s
import pytest
import yaml

from canary.cli.render import main
from canary.config import ConfigError, parse_settings
from canary.config.files import as_config_strings
from canary.plan.app_version import AppVersionArgs
from canary.plan.release import CanaryReleaseArgs
from canary.plan.rules import checks
from canary.plan.workload import Probe, Workload
from tests.support.project import BASELINE, PROJECT_DIR
from tests.support.schema_check import validate


def config(**more):
    return {**BASELINE, "canary": {}, **more}


def versions(*extra):
    return [
        {"name": "v1", "image": "registry.example.com/web:1.0", **(extra[0] if extra else {})},
        {"name": "v2", "image": "registry.example.com/web:2.0", **(extra[1] if len(extra) > 1 else {})},
    ]


def deployment(simulation, version):
    (found,) = [m for m in simulation.find("Deployment") if m["metadata"]["name"] == f"web-deployment-{version}"]
    return found


def app_container(manifest):
    return manifest["spec"]["template"]["spec"]["containers"][0]


def refusal(values) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_settings(as_config_strings(values))
    return str(raised.value)


# --- merging -----------------------------------------------------------------------------------


def test_a_version_changes_one_env_var_and_keeps_the_release_wide_others(run):
    values = config(
        container={"env": [{"name": "LEVEL", "value": "info"}, {"name": "REGION", "value": "eu"}]},
        versions=versions({}, {"container": {"env": [{"name": "LEVEL", "value": "debug"}]}}),
    )
    simulation = run(values)
    assert app_container(deployment(simulation, "v1"))["env"] == [
        {"name": "LEVEL", "value": "info"},
        {"name": "REGION", "value": "eu"},
    ]
    assert app_container(deployment(simulation, "v2"))["env"] == [
        {"name": "LEVEL", "value": "debug"},
        {"name": "REGION", "value": "eu"},
    ]


def test_volume_mounts_merge_by_mount_path_and_volumes_by_name(run):
    values = config(
        container={"volumeMounts": [{"name": "cache", "mountPath": "/cache"}]},
        pod={"volumes": [{"name": "cache", "emptyDir": {}}]},
        versions=versions(
            {
                "container": {"volumeMounts": [{"name": "cache", "mountPath": "/cache", "readOnly": True}]},
                "pod": {"volumes": [{"name": "cache", "emptyDir": {"medium": "Memory"}}]},
            }
        ),
    )
    pod = deployment(run(values), "v1")["spec"]["template"]["spec"]
    assert pod["containers"][0]["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "cache", "mountPath": "/cache", "readOnly": True},
    ]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {}}, {"name": "cache", "emptyDir": {"medium": "Memory"}}]


def test_a_volume_laid_over_another_takes_its_source_whole(run):
    values = config(
        pod={"volumes": [{"name": "conf", "emptyDir": {}}]},
        container={"volumeMounts": [{"name": "conf", "mountPath": "/etc/web"}]},
        versions=versions({"pod": {"volumes": [{"name": "conf", "configMap": {"name": "web-v1"}}]}}),
    )
    volumes = deployment(run(values), "v1")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "conf", "configMap": {"name": "web-v1"}} in volumes


def test_other_lists_are_replaced_and_maps_merge_key_by_key(run):
    values = config(
        container={"command": ["/web", "--a"]},
        pod={"nodeSelector": {"pool": "general", "zone": "a"}},
        versions=versions({"container": {"command": ["/web"]}, "pod": {"nodeSelector": {"zone": "b"}}}),
    )
    manifest = deployment(run(values), "v1")
    assert app_container(manifest)["command"] == ["/web"]
    assert manifest["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "general", "zone": "b"}


def test_a_null_in_a_version_removes_the_release_wide_key(run):
    values = config(
        pod={"nodeSelector": {"pool": "general"}, "priorityClassName": "web"},
        versions=versions({"pod": {"priorityClassName": None}}),
    )
    pod = deployment(run(values), "v1")["spec"]["template"]["spec"]
    assert "priorityClassName" not in pod
    assert pod["nodeSelector"] == {"pool": "general"}


def test_pod_metadata_and_deployment_fields_land_where_kubernetes_reads_them(run):
    values = config(
        podMetadata={"labels": {"team": "shop"}, "annotations": {"prometheus.io/scrape": "true"}},
        deployment={
            "minReadySeconds": 3,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
        },
        versions=versions({"podMetadata": {"annotations": {"prometheus.io/port": "9797"}}}),
    )
    manifest = deployment(run(values), "v1")
    template = manifest["spec"]["template"]["metadata"]
    assert template["labels"] == {"team": "shop", "app": "web", "version": "v1"}
    assert template["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": "9797"}
    # The selector stays the release's: the extra label does not narrow it.
    assert manifest["spec"]["selector"] == {"matchLabels": {"app": "web", "version": "v1"}}
    assert manifest["spec"]["minReadySeconds"] == 3
    assert manifest["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0}
    validate(manifest)


def test_a_probe_in_container_replaces_the_default_one_and_keeps_the_other(run):
    readiness = {"exec": {"command": ["check", "ready"]}, "periodSeconds": 7}
    values = config(versions=versions({"container": {"readinessProbe": readiness}}))
    app = app_container(deployment(run(values), "v1"))
    assert app["readinessProbe"] == readiness
    assert app["livenessProbe"]["httpGet"] == {"path": "/", "port": "http"}


def test_extra_ports_sit_beside_the_routed_one(run):
    values = config(container={"ports": [{"name": "grpc", "containerPort": 9999}]})
    assert app_container(deployment(run(values), "v1"))["ports"] == [
        {"name": "http", "containerPort": 80},
        {"name": "grpc", "containerPort": 9999},
    ]


def test_a_sidecar_of_the_pod_runs_under_the_security_profile(run):
    sidecar = {"name": "log-shipper", "image": "registry.example.com/shipper:1.0"}
    values = config(pod={"containers": [sidecar]})
    containers = deployment(run(values), "v1")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "log-shipper"]
    assert containers[1]["securityContext"] == containers[0]["securityContext"]


# --- refusals, stack door ----------------------------------------------------------------------


def test_an_env_var_without_a_name_is_named_by_its_path():
    message = refusal(config(versions=versions({}, {"container": {"env": [{"value": "x"}]}})))
    assert 'versions[1].container.env[0].name: required, got {"value": "x"}' in message


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (config(container={"evn": []}), "container.evn: unknown field"),
        (
            config(container={"ports": [{"containerPort": "http"}]}),
            "container.ports[0].containerPort: must be an integer",
        ),
        (
            config(pod={"volumes": [{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]}),
            "pod.volumes[1]: repeats",
        ),
        (
            config(container={"volumeMounts": [{"name": "data", "mountPath": "/d"}]}),
            "volumeMounts[0].name: names no volume",
        ),
        (config(container={"image": "x:1"}), "container.image: is the release's"),
        (config(container={"name": "other"}), "container.name: is the release's"),
        (config(pod={"containers": [{"name": "web", "image": "x:1"}]}), "pod.containers[0].name: is the app's own"),
        (config(podMetadata={"labels": {"app": "other"}}), "podMetadata.labels['app']: is the release's"),
        (config(podMetadata={"labels": {"version": "v9"}}), "podMetadata.labels['version']: is the release's"),
        (config(deployment={"selector": {"matchLabels": {}}}), "deployment.selector: is the release's"),
        (config(deployment={"template": {}}), "deployment.template: is the release's"),
        (config(deployment={"replicas": 3}), "deployment.replicas: is the release's"),
        (config(pod={"securityContext": {"runAsUser": 0}}), "pod.securityContext: is set by securityProfile"),
        (config(pod={"hostNetwork": True}), "pod.hostNetwork: is set by securityProfile"),
        (config(container={"securityContext": {}}), "container.securityContext: is set by securityProfile"),
        (
            config(container={"ports": [{"name": "admin", "containerPort": 80}]}),
            "container.ports[0]: is the routed port",
        ),
        (config(pod={"volumes": [{"name": "tmp", "configMap": {"name": "x"}}]}), "is the profile's scratch volume"),
    ],
)
def test_the_stack_door_refuses_by_path(values, expected):
    assert expected in refusal(values)


@pytest.mark.parametrize(
    ("shortcut", "field", "value"),
    [
        ("probe", "readinessProbe", {"exec": {"command": ["ok"]}}),
        ("probe", "livenessProbe", {"exec": {"command": ["ok"]}}),
        ("resources", "resources", {"limits": {"cpu": "1"}}),
        ("imagePullPolicy", "imagePullPolicy", "Always"),
    ],
)
def test_a_field_set_by_a_shortcut_and_in_container_is_refused_naming_both(shortcut, field, value):
    shortcut_values = {
        "probe": {"path": "/healthz"},
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "imagePullPolicy": "Always",
    }
    message = refusal(config(container={field: value}, versions=versions({shortcut: shortcut_values[shortcut]})))
    assert f"versions[0].container.{field}: is set by {shortcut} too" in message
    assert f"keep one of {shortcut} and container.{field}" in message


def test_render_refuses_a_bad_block_with_exit_2_and_writes_nothing(tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project)
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.podinfo.yaml").read_text())
    stack["config"]["istio-canary:container"]["env"].append({"value": "no name"})
    (project / "Pulumi.bad.yaml").write_text(yaml.safe_dump(stack))
    out = tmp_path / "out"
    assert main(["--stack", "bad", "--out", str(out), "--project-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "container.env[1].name: required" in err and "Traceback" not in err
    assert not out.exists()


# --- the Python door ---------------------------------------------------------------------------


def workload(**more):
    return Workload(version="v1", image="registry.example.com/web:1.0", **more)


def test_the_args_refuse_what_the_stack_file_refuses_with_the_same_reason():
    with pytest.raises(checks.ArgsError) as raised:
        workload(container={"env": [{"value": "x"}]})
    assert str(raised.value) == 'Workload.container.env[0].name required, got {"value": "x"}'
    with pytest.raises(checks.ArgsError, match=r"Workload\.container\.readinessProbe is set by probe too"):
        workload(probe=Probe(path="/healthz"), container={"readinessProbe": {"exec": {"command": ["ok"]}}})
    with pytest.raises(checks.ArgsError, match=r"Workload\.pod_metadata\.labels\['version'\] is the release's"):
        workload(pod_metadata={"labels": {"version": "v9"}})
    with pytest.raises(checks.ArgsError, match=r"AppVersionArgs\.workload\.container\.volumeMounts\[0\]\.name names"):
        AppVersionArgs(
            namespace="shop",
            app="web",
            workload=workload(container={"volumeMounts": [{"name": "d", "mountPath": "/d"}]}),
        )


def test_the_release_args_check_each_version_over_the_release_wide_blocks():
    with pytest.raises(checks.ArgsError, match=r"CanaryReleaseArgs\.versions\[0\]\.container\.readinessProbe is set"):
        CanaryReleaseArgs(
            namespace="shop",
            app="web",
            hosts=["web.example.com"],
            versions=[workload(probe=Probe(path="/healthz"))],
            container={"readinessProbe": {"exec": {"command": ["ok"]}}},
        )


def test_the_sdk_typed_args_are_taken_as_the_fields_they_spell():
    typed = workload(
        container=k8s.core.v1.ContainerArgs(
            name="web",
            env=[k8s.core.v1.EnvVarArgs(name="LEVEL", value="debug")],
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="cache", mount_path="/cache")],
        ),
        pod=k8s.core.v1.PodSpecArgs(containers=[], volumes=[k8s.core.v1.VolumeArgs(name="cache", empty_dir={})]),
    )
    assert typed.container == {
        "name": "web",
        "env": [{"name": "LEVEL", "value": "debug"}],
        "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
    }
    assert typed.pod == {"containers": [], "volumes": [{"name": "cache", "emptyDir": {}}]}
    AppVersionArgs(namespace="shop", app="web", workload=typed)
    with pytest.raises(checks.ArgsError, match=r"container\.name is the release's"):
        AppVersionArgs(namespace="shop", app="shop", workload=typed)


# --- values that are Pulumi outputs ------------------------------------------------------------


def _with_container(recorded, container):
    from canary.components.app_version import AppVersion

    workload = Workload(version="v1", image="registry.example.com/web:1.0", container=container)
    return AppVersion("web-v1", AppVersionArgs(namespace="shop", app="web", workload=workload))


def test_a_block_holding_an_output_is_checked_once_known_and_nothing_is_sent(recorded):
    import pulumi

    @pulumi.runtime.test
    def deploy():
        # Known only once the output is: a number where Kubernetes takes a string.
        env = [
            {"name": "LEVEL", "value": pulumi.Output.from_input("debug")},
            {"name": "N", "value": pulumi.Output.from_input(5)},
        ]
        return _with_container(recorded, {"env": env}).deployment_name

    with pytest.raises(pulumi.RunError) as raised:
        deploy()
    assert str(raised.value) == "Workload.container.env[1].value must be a string, got 5"
    assert [r.type for r in recorded.registrations if r.custom] == []


def test_a_good_output_in_a_block_reaches_the_object(recorded):
    import pulumi

    @pulumi.runtime.test
    def deploy():
        env = [{"name": "LEVEL", "value": pulumi.Output.from_input("debug")}]
        version = _with_container(recorded, {"env": env})

        def check(_):
            (deployment,) = [r for r in recorded.registrations if r.type == "kubernetes:apps/v1:Deployment"]
            (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
            assert container["env"] == [{"name": "LEVEL", "value": "debug"}]

        return version.deployment_name.apply(check)

    deploy()
