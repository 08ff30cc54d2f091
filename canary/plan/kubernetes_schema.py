"""Kubernetes blocks as the API spells them: checked against its schema, laid over each other as a merge patch.

The schema is Kubernetes 1.33's strict one (unknown fields are errors), cut down to the
definitions reachable from the types a release takes blocks of (`canary/schemas/kubernetes.json`,
derived from kubernetes-validate's copy; tests/support/kubernetes_schema_source.py says how). The merge
follows the same schema's patch directives: a list merges by its `x-kubernetes-patch-merge-key`
(`env`, `volumes`, `containers` by `name`; `volumeMounts` by `mountPath`; a container's `ports`
by `containerPort`, as `kubectl patch` does), every other list is replaced whole, maps merge key
by key, and a `null` in the patch removes the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import jsonschema

from canary.plan.rules import checks


@dataclass(frozen=True)
class KubernetesType:
    """Marks a block (`Annotated[Mapping[str, Any], KubernetesType(...)]`) with the Kubernetes type it holds.

    The package schema types the property by reference to the kubernetes package's own type
    (`kubernetes:core/v1:Container`), so a TypeScript or Go program type-checks it. With `fields`,
    the block takes only those fields of the type (the others are the release's), and the package
    declares a type of its own, `name`, with just them.
    """

    token: str
    """`core/v1:Container`: the type's token in the kubernetes package, without its `kubernetes:` prefix."""
    fields: tuple[str, ...] = ()
    name: str = ""
    without: tuple[str, ...] = ()
    """With `name`: every field of the type but these (the release's own), none of them required."""

    def taken_fields(self) -> tuple[str, ...]:
        if self.fields:
            return self.fields
        return tuple(field for field in definition(self.token)["properties"] if field not in self.without)


Kind = Literal["Container", "PodSpec", "DeploymentSpec", "ServicePort"]
_ROOTS: dict[Kind, str] = {
    "Container": "io.k8s.api.core.v1.Container",
    "PodSpec": "io.k8s.api.core.v1.PodSpec",
    "DeploymentSpec": "io.k8s.api.apps.v1.DeploymentSpec",
    "ServicePort": "io.k8s.api.core.v1.ServicePort",
}
Problem = tuple[str, Any, str]
"""(path below the block, offending value, reason), as `checks.problems` yields them."""


@cache
def _definitions() -> dict[str, Any]:
    text = resources.files("canary").joinpath("schemas/kubernetes.json").read_text()
    definitions: dict[str, Any] = json.loads(text)["$defs"]
    return definitions


def kubernetes_version() -> str:
    text = resources.files("canary").joinpath("schemas/kubernetes.json").read_text()
    version: str = json.loads(text)["kubernetesVersion"]
    return version


@cache
def _validator(kind: Kind) -> jsonschema.protocols.Validator:
    # The block is part of an object: a field the release fills itself (a Container's `name`)
    # is not the block's to give, so the root's own `required` is left out.
    root = {key: value for key, value in _definitions()[_ROOTS[kind]].items() if key != "required"}
    return jsonschema.Draft202012Validator({**root, "$defs": _definitions()})


def path_text(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _below(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_reason(expected: Any) -> str:
    kinds = [kind for kind in ([expected] if isinstance(expected, str) else expected) if kind != "null"]
    spelled = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer"}
    spelled.update(number="a number", boolean="true or false")
    return "must be " + " or ".join(spelled.get(kind, kind) for kind in kinds)


def _schema_problem(error: jsonschema.ValidationError) -> Problem:
    path = path_text(list(error.absolute_path))
    # The error's fields as the validator left them (the stubs type them for any failed keyword).
    instance: Any = error.instance
    expected: Any = error.validator_value
    schema: Any = error.schema
    if error.validator == "required":
        missing = [key for key in expected if key not in instance]
        return _below(path, missing[0]), instance, "required"
    if error.validator == "additionalProperties":
        known = schema.get("properties", {})
        unknown = sorted(key for key in instance if key not in known)
        return _below(path, unknown[0]), instance[unknown[0]], "unknown field"
    if error.validator == "type":
        return path, instance, _type_reason(expected)
    if error.validator == "oneOf":
        # IntOrString and Quantity are the schema's only `oneOf`s.
        kinds = [kind for option in expected for kind in _as_list(option.get("type"))]
        return path, instance, _type_reason(kinds)
    if error.validator == "enum":
        return path, instance, f"must be one of {[v for v in expected if v is not None]}"
    return path, instance, error.message


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def schema_problems(block: Any, kind: Kind) -> list[Problem]:
    """What in `block` the API server would refuse in a `kind`: the schema, then lists of named things.

    A value not known yet (a Pulumi output) is left to the API server, which checks the object
    once the value is known.
    """
    errors = (error for error in _validator(kind).iter_errors(block) if not checks.unresolved(error.instance))
    found = sorted(errors, key=lambda error: list(map(str, error.absolute_path)))
    if found:
        return [_schema_problem(error) for error in found]
    return list(_repeated_keys(block, {"$ref": f"#/$defs/{_ROOTS[kind]}"}, ""))


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = _definitions()[schema["$ref"].rpartition("/")[2]]
    return schema


# A key the API server defaults: a container port without `protocol` is a TCP one.
_KEY_DEFAULTS = {"protocol": "TCP"}


def _list_key(item: Any, keys: Sequence[str]) -> tuple[Any, ...]:
    return tuple(item.get(key, _KEY_DEFAULTS.get(key)) for key in keys) if isinstance(item, Mapping) else (item,)


def _repeated_keys(value: Any, schema: Mapping[str, Any], path: str) -> Iterator[Problem]:
    """Two items of a list the API keys by a field (`x-kubernetes-list-type: map`) with one key."""
    schema = _resolve(schema)
    if isinstance(value, Mapping):
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                yield from _repeated_keys(item, properties[key], _below(path, key))
    elif isinstance(value, list):
        keys = schema.get("x-kubernetes-list-map-keys")
        first: dict[tuple[Any, ...], int] = {}
        for index, item in enumerate(value):
            if keys and schema.get("x-kubernetes-list-type") == "map":
                key = _list_key(item, keys)
                if key in first:
                    spelled = ", ".join(f"{name} {part!r}" for name, part in zip(keys, key, strict=True))
                    yield f"{path}[{index}]", item, f"repeats {spelled} of {path}[{first[key]}]"
                first.setdefault(key, index)
            yield from _repeated_keys(item, schema.get("items", {}), f"{path}[{index}]")


def merge(base: Any, patch: Any, kind: Kind) -> Any:
    """`patch` laid over `base` as a strategic merge patch of a `kind` would be; neither is changed."""
    return _merge(base, patch, {"$ref": f"#/$defs/{_ROOTS[kind]}"})


def _merge(base: Any, patch: Any, schema: Mapping[str, Any]) -> Any:
    schema = _resolve(schema)
    if isinstance(base, Mapping) and isinstance(patch, Mapping):
        properties = schema.get("properties", {})
        # Shallow: a base's leaves may be Pulumi outputs (an image), which are not copied.
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = _merge(merged[key], value, properties.get(key, {}))
            else:
                merged[key] = _without_nulls(value)
        return merged
    merge_key = schema.get("x-kubernetes-patch-merge-key")
    strategy = str(schema.get("x-kubernetes-patch-strategy", ""))
    if isinstance(base, list) and isinstance(patch, list) and merge_key and "merge" in strategy.split(","):
        return _merge_list(base, patch, merge_key, "retainKeys" in strategy, schema.get("items", {}))
    return _without_nulls(patch)


def _merge_list(
    base: list[Any], patch: list[Any], key: str, retain_keys: bool, item_schema: Mapping[str, Any]
) -> list[Any]:
    merged = list(base)
    positions = {item.get(key): index for index, item in enumerate(merged) if isinstance(item, Mapping)}
    for item in patch:
        where = positions.get(item.get(key)) if isinstance(item, Mapping) else None
        if where is None:
            merged.append(_without_nulls(item))
            continue
        old = merged[where]
        if retain_keys:
            # A volume's source is replaced, not mixed: `emptyDir` and `configMap` in one volume
            # would be refused by the API server.
            old = {name: value for name, value in old.items() if name in item}
        merged[where] = _merge(old, item, item_schema)
    return merged


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def plain(value: Any) -> Any:
    """`value` with the Kubernetes SDK's typed Args (`ContainerArgs(...)`) spelled as plain mappings.

    An SDK Args class marks each property with the name the API spells it by (`_pulumi_name` on
    the getter), which is read here without importing the SDK: the plans know nothing of Pulumi.
    """
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    kind = type(value)
    if hasattr(kind, "_pulumi_input_type"):
        spelled = {}
        for attribute in dir(kind):
            getter = getattr(getattr(kind, attribute, None), "fget", None)
            api_name = getattr(getter, "_pulumi_name", None)
            if api_name is not None and (item := getattr(value, attribute)) is not None:
                spelled[api_name] = plain(item)
        return spelled
    return value


def definition(token: str) -> Mapping[str, Any]:
    """The schema of a kubernetes package type (`apps/v1:DeploymentSpec`), from the shipped definitions."""
    group_version, _, kind = token.partition(":")
    group, _, version = group_version.rpartition("/")
    prefix = "io.k8s.apimachinery.pkg.apis.meta" if group == "meta" else f"io.k8s.api.{group}"
    found: Mapping[str, Any] = _definitions()[f"{prefix}.{version}.{kind}"]
    return found


def token_of(reference: str) -> str:
    """`#/$defs/io.k8s.api.apps.v1.DeploymentStrategy` -> `apps/v1:DeploymentStrategy`."""
    name = reference.rpartition("/")[2]
    *group, version, kind = name.removeprefix("io.k8s.api.").removeprefix("io.k8s.apimachinery.pkg.apis.").split(".")
    return f"{'/'.join(group)}/{version}:{kind}"
