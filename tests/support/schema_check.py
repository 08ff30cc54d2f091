"""Offline validation of every object against the schema the API server would apply.

- Core Kubernetes kinds: `kubernetes-validate`, strict (unknown fields are errors), Kubernetes 1.33.
- Istio and Gateway API kinds: the CRD's `openAPIV3Schema` for the object's apiVersion
  (tests/data/istio-*.yaml, copied verbatim from istio/api; tests/data/gateway-api-standard-crds.yaml,
  the standard channel of kubernetes-sigs/gateway-api v1.6.1, verbatim), read as the API server
  reads a structural schema: unknown fields are errors unless the schema preserves them (as
  `kubectl apply --validate=strict` does), int-or-string and nullable honoured, the schema's
  defaults applied first (the API server defaults before its CEL rules run, and the Gateway API's
  rules read defaulted fields), and the CRD's CEL rules (`x-kubernetes-validations`) evaluated
  with cel-python. Their metadata is checked as Kubernetes ObjectMeta.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.33.0"
DATA = Path(__file__).parents[1] / "data"
CRD_FILES = ("istio-networking-crds.yaml", "istio-security-crds.yaml", "gateway-api-standard-crds.yaml")
GATEWAY_API_GROUP = "gateway.networking.k8s.io"


class SchemaError(AssertionError):
    pass


def validate(manifest: dict[str, Any]) -> None:
    """Raise SchemaError naming the object and the first violation; return None when it is valid."""
    group = manifest["apiVersion"].rpartition("/")[0]
    where = f"{manifest['kind']} {manifest.get('metadata', {}).get('name')}"
    if group.endswith(".istio.io") or group == GATEWAY_API_GROUP:
        _validate_custom_resource(manifest, where)
    else:
        _validate_kubernetes(manifest, where)


def _validate_kubernetes(manifest: dict[str, Any], where: str) -> None:
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        raise SchemaError(f"{where}: {err.message} at {'.'.join(map(str, err.path))}") from None
    except kubernetes_validate.SchemaNotFoundError:
        raise SchemaError(
            f"{where}: Kubernetes {KUBERNETES_VERSION} has no {manifest['apiVersion']} {manifest['kind']}"
        ) from None


def _validate_custom_resource(manifest: dict[str, Any], where: str) -> None:
    schema = crd_schema(manifest["apiVersion"], manifest["kind"])
    body = {key: value for key, value in manifest.items() if key not in ("apiVersion", "kind", "metadata")}
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        raise SchemaError(f"{where}: {first.message} at {'.'.join(map(str, first.path)) or '(top)'}")
    for path, message in _cel_violations(schema, _with_defaults(schema, body), ""):
        raise SchemaError(f"{where}: {message} at {path or '(top)'}")
    # Custom resources carry standard ObjectMeta; check it as Kubernetes checks any object's.
    _validate_kubernetes({"apiVersion": "v1", "kind": "ConfigMap", "metadata": manifest["metadata"]}, where)


def _with_defaults(schema: dict[str, Any], value: Any) -> Any:
    """`value` with the schema's `default`s filled in where a field is absent, at every depth."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        filled = {
            key: copy.deepcopy(child["default"])
            for key, child in properties.items()
            if key not in value and "default" in child
        }
        for key, item in value.items():
            child = properties.get(key)
            if child is None and isinstance(schema.get("additionalProperties"), dict):
                child = schema["additionalProperties"]
            filled[key] = _with_defaults(child, item) if child is not None else item
        return filled
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_with_defaults(schema["items"], item) for item in value]
    return value


@cache
def _crds() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for name in CRD_FILES:
        for crd in yaml.safe_load_all((DATA / name).read_text()):
            if not crd:
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    try:
        source = _crds()[(api_version, kind)]
    except KeyError:
        raise SchemaError(f"no served CRD version {api_version} for kind {kind}") from None
    return _structural_to_json_schema(copy.deepcopy(source))


def _structural_to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_structural_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _structural_to_json_schema(value) for key, value in node.items()}
    if node.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in node:
        node["type"] = [node["type"], "null"]
    closed = "properties" in node and "additionalProperties" not in node
    if node.get("type") == "object" and closed and not node.get("x-kubernetes-preserve-unknown-fields"):
        # The API server prunes unknown fields; strict field validation rejects them instead.
        node["additionalProperties"] = False
    return node


_CEL = celpy.Environment()


@cache
def _cel_program(rule: str) -> Any:
    return _CEL.program(_CEL.compile(rule))


def _cel_violations(schema: dict[str, Any], value: Any, path: str) -> list[tuple[str, str]]:
    """Evaluate every `x-kubernetes-validations` rule whose node is present in `value`."""
    violations: list[tuple[str, str]] = []
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            continue  # transition rules compare with a previous object; a create has none
        result = _cel_program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})
        if result is not True and not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            violations.append((path, rule.get("message", rule["rule"])))
    if isinstance(value, dict):
        for key, item in value.items():
            child = schema.get("properties", {}).get(key)
            if child is None and isinstance(schema.get("additionalProperties"), dict):
                child = schema["additionalProperties"]
            if child is not None:
                violations += _cel_violations(child, item, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            violations += _cel_violations(schema["items"], item, f"{path}[{index}]")
    return violations
