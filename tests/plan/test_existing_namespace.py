"""A release in a namespace it does not own (`createNamespace: false`), and the namespaces no release may take."""

from __future__ import annotations

import shutil

import pytest
import yaml

from canary.cli.render import main
from canary.config import parse_settings
from canary.config.files import as_config_strings
from tests.support.project import BASELINE, PROJECT_DIR

EXISTING = {**BASELINE, "namespace": "team-shop", "createNamespace": False}


def test_an_existing_namespace_is_neither_declared_nor_labelled(run):
    simulation = run(EXISTING)
    assert simulation.find("Namespace") == []
    namespaced = simulation.manifests()
    assert namespaced and {m["metadata"]["namespace"] for m in namespaced} == {"team-shop"}
    assert simulation.outputs["namespace"] == "team-shop"


def test_by_default_the_release_creates_and_labels_its_namespace(run):
    (namespace,) = run(BASELINE).find("Namespace")
    assert namespace["metadata"] == {"name": "shop", "labels": {"istio-injection": "enabled"}}


def test_in_an_existing_namespace_mtls_covers_only_the_apps_pods(run):
    (policy,) = run({**EXISTING, "security": {"mtls": True}}).find("PeerAuthentication")
    # Not `default`: that name is the namespace-wide policy, the namespace owner's to set.
    assert policy["metadata"] == {"name": "web-mtls", "namespace": "team-shop"}
    assert policy["spec"] == {"mtls": {"mode": "STRICT"}, "selector": {"matchLabels": {"app": "web"}}}


def test_in_an_existing_namespace_the_network_policy_selects_only_the_apps_pods(run):
    (policy,) = run({**EXISTING, "security": {"networkPolicy": True}}).find("NetworkPolicy")
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "web"}}


def test_default_is_allowed_when_the_release_does_not_create_it(run):
    simulation = run({**EXISTING, "namespace": "default"})
    assert simulation.find("Namespace") == []
    assert {m["metadata"]["namespace"] for m in simulation.manifests()} == {"default"}


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "kube-node-lease", "istio-system", "edge"])
@pytest.mark.parametrize("create", [True, False])
def test_the_clusters_namespaces_and_the_gateways_are_refused_either_way(namespace, create):
    config = {**BASELINE, "namespace": namespace, "createNamespace": create, "gateway": {"namespace": "edge"}}
    with pytest.raises(ValueError, match=rf"namespace: .*, got '{namespace}'"):
        parse_settings(as_config_strings(config))


def test_render_of_an_existing_namespace_writes_no_namespace_and_prints_the_image_warning(tmp_path, capsys, run):
    config = {**EXISTING, "versions": [{"name": "v1", "image": "nginx"}, BASELINE["versions"][1]]}
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path)
    (tmp_path / "Pulumi.v.yaml").write_text(
        yaml.safe_dump({"config": {f"istio-canary:{k}": v for k, v in config.items()}})
    )
    assert main(["--stack", "v", "--out", str(tmp_path / "m"), "--project-dir", str(tmp_path)]) == 0
    manifests = [yaml.safe_load(path.read_text()) for path in sorted((tmp_path / "m").glob("*.yaml"))]
    assert manifests and "Namespace" not in [m["kind"] for m in manifests]
    assert "warning: version v1: image 'nginx' has no tag or digest" in capsys.readouterr().err


def test_an_image_without_tag_or_digest_is_warned_about(run, monkeypatch):
    import pulumi

    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    config = {**BASELINE, "versions": [{"name": "v1", "image": "nginx"}, BASELINE["versions"][1]]}
    run(config)
    assert warnings == [
        "version v1: image 'nginx' has no tag or digest, so it means 'nginx:latest', "
        "whatever that is when a node pulls it; pin a tag or a digest"
    ]
    warnings.clear()
    run(BASELINE)
    assert warnings == []
