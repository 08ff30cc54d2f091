"""What a settings field may hold, read off its annotation: the types the Pulumi CLI checks.

`parse` reads each top-level key's raw string by this type, and `canary.config.reference`
declares it in `Pulumi.yaml`: both from the models, so there is no second table of keys to keep.
"""

from __future__ import annotations

import inspect
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

SCALARS = {bool: "boolean", int: "integer", float: "number", str: "string"}


def kinds(annotation: Any) -> list[Any]:
    """The types a key may hold, without Annotated's validators and without None (which means unset)."""
    if get_origin(annotation) is Annotated:
        return kinds(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [kind for arg in get_args(annotation) if arg is not type(None) for kind in kinds(arg)]
    return [annotation]


def is_model(kind: Any) -> bool:
    return inspect.isclass(kind) and issubclass(kind, BaseModel)


def json_type_of(kind: Any) -> str:
    if get_origin(kind) is Literal:
        (name,) = {SCALARS[type(value)] for value in get_args(kind)}
        return name
    if kind in SCALARS:
        return SCALARS[kind]
    if get_origin(kind) is list:
        return "array"
    if get_origin(kind) is dict or is_model(kind):
        return "object"
    raise TypeError(f"no config type for {kind!r}")


def json_type(annotation: Any) -> str:
    """The type as the Pulumi CLI checks it: string, integer, boolean, number, object or array."""
    (name,) = {json_type_of(kind) for kind in kinds(annotation)}
    return name
