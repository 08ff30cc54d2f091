"""The shipped well-known workloads, held field for field against the upstream manifests they copy.

tests/data/upstream/ holds verbatim copies (each notes its repository, path and commit):
Flagger's demo app podinfo (stefanprodan/podinfo kustomize/deployment.yaml) and Bookinfo's
reviews v1-v3 (istio/istio samples/bookinfo/platform/kube/bookinfo.yaml). Every field upstream
sets must be in our render with the same value; ours may add fields (the version label, the
security profile, the default probes), never lose or change one. The single exception is the
app container's name, which the release sets to the app's name.

The comparison is written here on its own: a list of named things is matched by the key
Kubernetes merges it by, without the program's merge code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.project import shipped_stack

UPSTREAM = Path(__file__).parents[1] / "data" / "upstream"

# How Kubernetes tells the items of a list apart, by the list's field name.
LIST_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}
# What the API server fills in where a manifest leaves a field out: a port without `protocol`
# is TCP. Upstream's podinfo spells it out, ours leaves it to the server; the same object.
API_DEFAULTS = {"ports": {"protocol": "TCP"}}


def lost(upstream: Any, ours: Any, path: str = "", list_name: str = "") -> list[str]:
    """Every field of `upstream` that `ours` lacks or holds with another value, by path."""
    if isinstance(upstream, dict):
        if not isinstance(ours, dict):
            return [f"{path}: {ours!r} is not a mapping"]
        defaults = API_DEFAULTS.get(list_name, {})
        problems = []
        for key, value in upstream.items():
            if key not in ours and defaults.get(key) == value:
                continue
            if key not in ours:
                problems.append(f"{path}.{key}: missing (upstream {value!r})")
            else:
                problems.extend(lost(value, ours[key], f"{path}.{key}", key))
        return problems
    if isinstance(upstream, list) and list_name in LIST_KEYS and all(isinstance(item, dict) for item in upstream):
        key = LIST_KEYS[list_name]
        by_key = {item.get(key): item for item in ours} if isinstance(ours, list) else {}
        problems = []
        for item in upstream:
            if item[key] not in by_key:
                problems.append(f"{path}[{key}={item[key]!r}]: missing")
            else:
                problems.extend(lost(item, by_key[item[key]], f"{path}[{key}={item[key]!r}]", list_name))
        return problems
    return [] if upstream == ours else [f"{path}: ours {ours!r}, upstream {upstream!r}"]


def upstream_deployments(file_name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((UPSTREAM / file_name).read_text()) if doc]


def our_deployment(stack: str, version: str) -> dict[str, Any]:
    (deployment,) = [
        m
        for m in shipped_stack(stack).find("Deployment")
        if m["spec"]["template"]["metadata"]["labels"]["version"] == version
    ]
    return deployment


def comparable(upstream: dict[str, Any], app: str) -> dict[str, Any]:
    """Upstream's Deployment less what is not the workload's: the object's name, the container's name."""
    copied = yaml.safe_load(yaml.safe_dump(upstream))
    copied["metadata"].pop("name")
    for container in copied["spec"]["template"]["spec"]["containers"]:
        # The release names the app's container after the app (podinfo's upstream calls it podinfod).
        if container["name"] != app:
            container["name"] = app
    return copied


@pytest.mark.parametrize(
    ("stack", "file_name", "versions", "app"),
    [
        ("podinfo", "podinfo-deployment.yaml", ["v6-1-1"], "podinfo"),
        ("bookinfo-reviews", "bookinfo-reviews-deployments.yaml", ["v1", "v2", "v3"], "reviews"),
    ],
)
def test_the_shipped_stack_loses_no_field_of_the_upstream_manifest(stack, file_name, versions, app):
    upstream = upstream_deployments(file_name)
    assert len(upstream) == len(versions)
    for manifest, version in zip(upstream, versions, strict=True):
        assert lost(comparable(manifest, app), our_deployment(stack, version)) == [], (stack, version)


def test_the_comparison_notices_a_lost_env_var_a_changed_flag_and_a_missing_volume():
    upstream = comparable(upstream_deployments("podinfo-deployment.yaml")[0], "podinfo")
    ours = our_deployment("podinfo", "v6-1-1")
    container = ours["spec"]["template"]["spec"]["containers"][0]
    container["env"] = []
    container["command"] = [*container["command"][:-1], "--random-error=true"]
    ours["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = 1
    found = lost(upstream, ours)
    assert len(found) == 3, found
    assert any("env[name='PODINFO_UI_COLOR']: missing" in line for line in found)
    reviews = comparable(upstream_deployments("bookinfo-reviews-deployments.yaml")[0], "reviews")
    mine = our_deployment("bookinfo-reviews", "v1")
    mine["spec"]["template"]["spec"]["volumes"] = mine["spec"]["template"]["spec"]["volumes"][:1]
    assert [line for line in lost(reviews, mine) if "volumes" in line]
