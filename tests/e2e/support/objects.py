"""Compare rendered manifests with what the API server holds, and read the live routing rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.stack import kubectl_json, live_object


def resource_ref(manifest: dict[str, Any]) -> str:
    """`kind.version.group`, as kubectl takes it, so the object is read at the rendered apiVersion."""
    group, _, version = manifest["apiVersion"].rpartition("/")
    kind = manifest["kind"].lower()
    return f"{kind}.{version}.{group}" if group else kind


def rendered_manifests(folder: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))]


def live(manifest: dict[str, Any]) -> dict[str, Any] | None:
    metadata = manifest["metadata"]
    return live_object(resource_ref(manifest), metadata["name"], metadata.get("namespace"))


def assert_live_as_rendered(manifests: list[dict[str, Any]]) -> None:
    """Every rendered object is in the cluster, with every field it declares as rendered."""
    for manifest in manifests:
        held = live(manifest)
        assert held is not None, f"{manifest['kind']} {manifest['metadata']['name']} is not in the cluster"
        assert missing_or_different(held, manifest) == [], manifest["kind"]


def missing_or_different(live_value: Any, expected: Any, path: str = "") -> list[str]:
    """Every field of `expected` that `live_value` lacks or holds with another value.

    Fields the server adds (status, uid, defaults, the provider's managed-by label) are extra,
    not differences.
    """
    if isinstance(expected, dict):
        if not isinstance(live_value, dict):
            return [f"{path or '.'}: expected a mapping, live has {live_value!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            where = f"{path}.{key}"
            if key not in live_value:
                problems.append(f"{where}: missing from the live object")
            else:
                problems.extend(missing_or_different(live_value[key], value, where))
        return problems
    if isinstance(expected, list):
        if not isinstance(live_value, list) or len(live_value) != len(expected):
            return [f"{path}: expected {expected!r}, live has {live_value!r}"]
        return [p for i, item in enumerate(expected) for p in missing_or_different(live_value[i], item, f"{path}[{i}]")]
    return [] if live_value == expected else [f"{path}: expected {expected!r}, live has {live_value!r}"]


def live_virtual_service(namespace: str, name: str, api_version: str = "v1") -> dict[str, Any]:
    return kubectl_json("get", f"virtualservice.{api_version}.networking.istio.io", name, "-n", namespace)
