"""The Pulumi package schema of the components, generated from their Args dataclasses.

The Args are the one place where fields, types, defaults and descriptions are written (each
field's description is the docstring under it, `canary.plan.field_docs`); this module only reads
them. The schema is what `pulumi package get-schema plugin/` prints, what Pulumi YAML checks a
program against, and what `pulumi package gen-sdk` turns into TypeScript and Go SDKs.
`python -m canary.provider.schema --write` rewrites `plugin/schema.json`, `--check` exits 1 when it
differs from what the Args give.

Properties are the Args' fields in camelCase; a nested dataclass (`Workload`, `Canary`, ...) is an
object type of the package; a security profile is given by its name (`hardened`, `root`), as in the
stack file, because its other fields are the profile's definition, not a choice.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import json
import sys
import types
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, ForwardRef, Literal, Union, get_args, get_origin

import canary
from canary.plan import field_docs
from canary.plan.field_docs import attribute_docs, class_node
from canary.plan.kubernetes_schema import KubernetesType, definition, token_of
from canary.plan.security_profiles import PROFILES
from canary.support import exit_status
from canary.support.visible_text import say

PACKAGE = "canary"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "plugin" / "schema.json"
COMMAND = "python -m canary.provider.schema --write"

SERVED = ("CanaryRelease", "AppVersion", "AppService", "IstioGateway", "NamespaceSecurity")
"""The components the package serves: those whose Args are plain data. `RoutingRules` and
`GatewayApiRouting` are left out: their `route_targets` are other resources (the Deployments to wait
for), which a schema property cannot carry."""

_SCALARS: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}
_ANY = {"$ref": "pulumi.json#/Any"}


def kubernetes_reference(token: str) -> dict[str, Any]:
    """A reference to a type of the kubernetes package, at the provider version the project pins."""
    version = metadata.version("pulumi-kubernetes")
    return {"$ref": f"/kubernetes/v{version}/schema.json#/types/kubernetes:{token}"}


# Kubernetes' scalar types, which the kubernetes package spells as plain types rather than types of its own.
_KUBERNETES_SCALARS: dict[str, dict[str, Any]] = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
}


def _kubernetes_property(spec: Mapping[str, Any]) -> dict[str, Any]:
    """One field of a Kubernetes type, as the package schema spells it."""
    if "$ref" in spec:
        definition_name = spec["$ref"].rpartition("/")[2]
        if definition_name in _KUBERNETES_SCALARS:
            return dict(_KUBERNETES_SCALARS[definition_name])
        return kubernetes_reference(token_of(spec["$ref"]))
    kinds = [kind for kind in ([spec["type"]] if isinstance(spec["type"], str) else spec["type"]) if kind != "null"]
    if kinds == ["object"]:
        return {"type": "object", "additionalProperties": _kubernetes_property(spec["additionalProperties"])}
    if kinds == ["array"]:
        return {"type": "array", "items": _kubernetes_property(spec["items"])}
    (kind,) = kinds
    return {"type": kind}


def kubernetes_type_spec(marker: KubernetesType) -> dict[str, Any]:
    """A type of the package holding `marker.fields` of a Kubernetes type, each typed as Kubernetes types it."""
    kind = marker.token.partition(":")[2]
    fields = definition(marker.token)["properties"]
    taken = marker.taken_fields()
    return {
        "type": "object",
        "description": f"The fields of the Kubernetes `{kind}` a release takes; the others are the release's own.",
        "properties": {
            name: {
                **_kubernetes_property(fields[name]),
                "description": f"`{name}` of the `{kind}`, as Kubernetes spells it.",
            }
            for name in taken
        },
        "required": [],
    }


@dataclass(frozen=True)
class Component:
    """One served component: its class, its Args class and its type token."""

    name: str
    component_class: type
    args_class: type

    @property
    def token(self) -> str:
        return type_token(self.name)


def type_token(name: str) -> str:
    """`canary:index:<Name>`: the components' own type tokens, so URNs are the same from any language."""
    return f"{PACKAGE}:index:{name}"


def served_components() -> list[Component]:
    return [Component(name, getattr(canary, name), getattr(canary, f"{name}Args")) for name in SERVED]


def camel(name: str) -> str:
    """`gateway_selector` -> `gatewaySelector`: the Args' field as a property."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# --- reading the dataclasses --------------------------------------------------------------------


@cache
def type_hints(cls: type) -> dict[str, Any]:
    """The evaluated annotations the class itself declares (not its bases', such as pulumi's own).

    Modules that import pulumi only for type checking get it here. Evaluated one by one rather
    than with `get_type_hints`, which would chase the forward reference inside `pulumi.Input`.
    """
    import pulumi

    namespace = {**vars(sys.modules[cls.__module__]), "pulumi": pulumi}
    return {
        name: eval(text, namespace) if isinstance(text, str) else text
        for name, text in inspect.get_annotations(cls).items()
    }


def class_doc(cls: type) -> str:
    """The class's own docstring (a dataclass without one gets a generated signature as `__doc__`)."""
    return ast.get_docstring(class_node(cls)) or ""


def default_of(item: dataclasses.Field[Any]) -> Any:
    """The field's default value (its factory called), or MISSING."""
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return dataclasses.MISSING


def unwrap(hint: Any) -> tuple[Any, bool]:
    """(the type a property carries, whether None is allowed) for `X | None` and `pulumi.Input[X]`.

    `pulumi.Input[X]` is `X | Awaitable[X] | Output[X]`: a schema input may always be an output of
    another resource, so it is the plain `X`.
    """
    if get_origin(hint) not in (Union, types.UnionType):
        return hint, False
    members = get_args(hint)
    optional = type(None) in members
    plain = [m for m in members if m is not type(None) and not _is_awaitable_type(m)]
    if len(plain) != 1:
        raise TypeError(f"a property cannot have the type {hint}: only X, X | None and pulumi.Input[X]")
    return plain[0], optional


def _is_awaitable_type(hint: Any) -> bool:
    if isinstance(hint, ForwardRef):
        return True  # `Output[T]` inside `pulumi.Input`, left unevaluated by the typing module
    origin = get_origin(hint) or hint
    return isinstance(origin, type) and (issubclass(origin, Awaitable) or origin.__name__ == "Output")


def is_args_dataclass(hint: Any) -> bool:
    return dataclasses.is_dataclass(hint) and isinstance(hint, type) and hint is not canary.SecurityProfile


# --- the schema ---------------------------------------------------------------------------------


def property_type(hint: Any, object_types: dict[str, type]) -> dict[str, Any]:
    """The schema type of a field's (unwrapped) type; nested dataclasses are collected into `object_types`."""
    hint, _ = unwrap(hint)
    origin = get_origin(hint)
    if origin is Annotated:
        marker = next((item for item in hint.__metadata__ if isinstance(item, KubernetesType)), None)
        if marker is None:
            return property_type(get_args(hint)[0], object_types)
        if not marker.name:
            return kubernetes_reference(marker.token)
        object_types[marker.name] = marker  # type: ignore[assignment]
        return {"$ref": f"#/types/{type_token(marker.name)}"}
    if hint is Any:
        return dict(_ANY)
    if hint is canary.SecurityProfile:
        return {"type": "string"}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if origin is Literal:
        return {"type": "string"}
    if is_args_dataclass(hint):
        object_types[hint.__name__] = hint
        return {"$ref": f"#/types/{type_token(hint.__name__)}"}
    if origin is tuple:
        return {"type": "array", "items": property_type(get_args(hint)[0], object_types)}
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return {"type": "object", "additionalProperties": property_type(get_args(hint)[1], object_types)}
    if isinstance(origin, type) and issubclass(origin, Sequence):
        return {"type": "array", "items": property_type(get_args(hint)[0], object_types)}
    raise TypeError(f"no schema type for {hint}")


def plain_default(value: Any) -> Any:
    """A default as a program would write it: camelCase objects, a profile by its name."""
    if isinstance(value, canary.SecurityProfile):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {camel(f.name): plain_default(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {key: plain_default(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_default(item) for item in value]
    return value


def _choices(hint: Any) -> list[str]:
    hint, _ = unwrap(hint)
    if hint is canary.SecurityProfile:
        return list(PROFILES)
    if get_origin(hint) is Literal:
        return [str(choice) for choice in get_args(hint)]
    return []


def properties(cls: type, object_types: dict[str, type]) -> tuple[dict[str, Any], list[str]]:
    """The properties of an Args dataclass, and the names of the required ones."""
    hints = type_hints(cls)
    found: dict[str, Any] = {}
    required: list[str] = []
    for item in dataclasses.fields(cls):
        spec = property_type(hints[item.name], object_types)
        # The docstring's own last sentence gives the default as Python spells it: the schema says
        # it from the value instead, as `default` or in the words of a program in any language.
        description = field_docs.description(cls, item.name)
        if choices := _choices(hints[item.name]):
            description = _sentence(description, "One of " + ", ".join(f"`{c}`" for c in choices) + ".")
        default = default_of(item)
        if default is dataclasses.MISSING:
            required.append(camel(item.name))
        elif default is not None:
            plain = plain_default(default)
            if isinstance(plain, (str, int, float, bool)):
                spec["default"] = plain
            else:
                # The schema gives defaults to scalars only; the Args apply this one.
                description = _sentence(description, f"Default: `{json.dumps(plain)}`.")
        if description:
            spec["description"] = description
        found[camel(item.name)] = spec
    return found, required


def _sentence(text: str, more: str) -> str:
    return f"{text} {more}" if text else more


def output_properties(component_class: type) -> dict[str, Any]:
    """The component's public outputs: its `pulumi.Output[...]` class attributes, with their docstrings."""
    hints, docs = type_hints(component_class), attribute_docs(component_class)
    outputs: dict[str, Any] = {}
    for name, hint in hints.items():
        if get_origin(hint) is None or get_origin(hint).__name__ != "Output" or name not in docs:
            continue
        outputs[camel(name)] = {**property_type(get_args(hint)[0], {}), "description": docs[name]}
    return outputs


def schema() -> dict[str, Any]:
    """The package schema, as `GetSchema` serves it."""
    object_types: dict[str, type] = {}
    resources: dict[str, Any] = {}
    for component in served_components():
        inputs, required = properties(component.args_class, object_types)
        outputs = output_properties(component.component_class)
        resources[component.token] = {
            "isComponent": True,
            "description": class_doc(component.component_class),
            "inputProperties": inputs,
            "requiredInputs": required,
            "properties": outputs,
            "required": sorted(outputs),
        }
    type_specs: dict[str, Any] = {}
    done: set[str] = set()
    while pending := sorted(set(object_types) - done):
        # Nested types found while describing a type are described in the next round.
        for name in pending:
            done.add(name)
            if isinstance(object_types[name], KubernetesType):
                type_specs[type_token(name)] = kubernetes_type_spec(object_types[name])  # type: ignore[arg-type]
                continue
            props, required = properties(object_types[name], object_types)
            spec: dict[str, Any] = {"type": "object", "properties": props, "required": required}
            if description := class_doc(object_types[name]):
                spec["description"] = description
            type_specs[type_token(name)] = spec
    return {
        "name": PACKAGE,
        "displayName": "istio-canary",
        "version": canary.__version__,
        "description": class_doc_of_module(),
        "license": "Apache-2.0",
        "language": {
            "nodejs": {"packageName": "@istio-canary/canary", "dependencies": {"@pulumi/pulumi": "^3.0.0"}},
            "go": {"importBasePath": "istio-canary.local/sdk/go/canary", "generateResourceContainerTypes": True},
            "python": {"packageName": "istio_canary_sdk"},
        },
        "resources": dict(sorted(resources.items())),
        "types": dict(sorted(type_specs.items())),
    }


def class_doc_of_module() -> str:
    doc = importlib.import_module("canary").__doc__ or ""
    return doc.strip().splitlines()[0]


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m canary.provider.schema", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help=f"rewrite {SCHEMA_PATH.name}")
    mode.add_argument("--check", action="store_true", help="exit 1 when the committed schema is stale")
    mode.add_argument("--print", action="store_true", help="print the schema")
    parser.add_argument("--path", type=Path, default=SCHEMA_PATH, help="the schema file (default: plugin/schema.json)")
    options = parser.parse_args(argv)
    text = schema_text()
    if options.print:
        sys.stdout.write(text)
        return exit_status.OK
    if options.write:
        options.path.write_text(text)
        return exit_status.OK
    committed = options.path.read_text() if options.path.exists() else ""
    if committed != text:
        say(f"{options.path} out of date with the Args: run {COMMAND}", to=sys.stderr)
        return exit_status.FAILED
    return exit_status.OK


if __name__ == "__main__":
    sys.exit(main())
