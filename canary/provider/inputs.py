"""A component's properties, as a program in any language sends them, turned into its Args.

The properties are the Args' fields in camelCase (`canary.provider.schema` describes them). Every
value is checked by the Args themselves while they are built; this module only reshapes the data
and names a refused field by the path the program wrote (`canary.weight`, `versions[1].image`),
since that is the spelling its author knows.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, get_args, get_origin

import canary
from canary.plan.security_profiles import PROFILES
from canary.provider.schema import camel, is_args_dataclass, type_hints, unwrap


class PropertyError(ValueError):
    """A property is refused; the one-line message names its path and the value."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


def args_from_properties(args_class: type, properties: Mapping[str, Any]) -> Any:
    """The Args built from a component's properties; PropertyError names the first bad one."""
    return _build(args_class, properties, "")


def _build(cls: type, properties: Any, path: str) -> Any:
    if not isinstance(properties, Mapping):
        raise _refused(path or cls.__name__, properties, "must be an object")
    hints = type_hints(cls)
    fields = {camel(item.name): item for item in dataclasses.fields(cls) if item.init}
    for key, value in properties.items():
        if key not in fields:
            known = ", ".join(fields)
            raise _refused(_join(path, key), value, f"is not a property of {cls.__name__} (those are: {known})")
    values = {
        item.name: _value(hints[item.name], properties[key], _join(path, key))
        for key, item in fields.items()
        if key in properties and properties[key] is not None
    }
    try:
        return cls(**values)
    except canary.ArgsError as error:
        raise _renamed(error, cls, path) from None


def _value(hint: Any, value: Any, path: str) -> Any:
    hint, _ = unwrap(hint)
    if get_origin(hint) is Annotated:
        # A Kubernetes block: its fields go to the Args as they came, which check them.
        hint = get_args(hint)[0]
    origin = get_origin(hint)
    if _is_output(value):
        return value  # checked by the component once known (canary.components.input_checks)
    if hint is canary.SecurityProfile:
        if isinstance(value, str) and value in PROFILES:
            return PROFILES[value]
        raise _refused(path, value, "must be one of " + ", ".join(PROFILES))
    if is_args_dataclass(hint):
        return _build(hint, value, path)
    if hint is int and isinstance(value, float) and value.is_integer():
        # The engine's wire format has one number type: 10 arrives as 10.0.
        return int(value)
    if origin is not None and isinstance(origin, type):
        if issubclass(origin, Mapping) and isinstance(value, Mapping):
            item = get_args(hint)[1]
            return {key: _value(item, entry, f"{path}[{key!r}]") for key, entry in value.items()}
        if issubclass(origin, (Sequence, tuple)) and isinstance(value, Sequence) and not isinstance(value, str):
            item = get_args(hint)[0]
            items = [_value(item, entry, f"{path}[{index}]") for index, entry in enumerate(value)]
            return tuple(items) if origin is tuple else items
    # Anything else goes to the Args as it came: their rules say what is wrong with it.
    return value


def _is_output(value: Any) -> bool:
    return callable(getattr(value, "apply", None)) and not isinstance(value, (str, bytes, Mapping))


_OWNER = re.compile(r"^(?P<owner>\w+)\.(?P<rest>.*)$")
_NAME = re.compile(r"[A-Za-z_]\w*")


def _renamed(error: canary.ArgsError, cls: type, path: str) -> PropertyError:
    """The Args' message, its `Class.field` replaced by the property path in camelCase."""
    match = _OWNER.match(error.field)
    rest = match["rest"] if match and match["owner"] == cls.__name__ else error.field
    # Only the identifiers: keys inside brackets (`headers['X-Canary']`) are the program's own.
    parts = re.split(r"(\[[^\]]*\])", rest)
    renamed = "".join(part if part.startswith("[") else _NAME.sub(lambda m: camel(m[0]), part) for part in parts)
    full = _join(path, renamed)
    return PropertyError(full or cls.__name__, full + str(error)[len(error.field) :])


def _refused(path: str, value: Any, reason: str) -> PropertyError:
    return PropertyError(path, str(canary.ArgsError(path, value, reason)))


def _join(path: str, key: str) -> str:
    if not path:
        return key
    return path + key if key.startswith("[") else f"{path}.{key}"
