"""The value types of the stack config: what a key must hold, checked by the Args' own rules.

A type says what the stack file must hold (a string, an integer); what makes a value right is
the rule `canary.plan.rules.checks` gives the component Args, the same function for both doors.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, NoReturn

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, StrictInt, StrictStr

from canary.plan import field_docs
from canary.plan.rules import checks


class ConfigModel(BaseModel):
    """The base of every settings model."""

    # Unknown keys are errors, so a typo such as `canary.wieght` is never silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NestedKeyError(ValueError):
    """A cross-key error: raised from a validator, it names its key below the model that raised it."""

    def __init__(self, key: str, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.key, self.value, self.reason = key, value, reason


def args_default(args_class: type, name: str) -> Any:
    """The default a component's Args give a field: the models take theirs from there."""
    (declared,) = [f for f in dataclasses.fields(args_class) if f.name == name]
    if declared.default_factory is not dataclasses.MISSING:
        return declared.default_factory()
    return declared.default


def args_doc(args_class: type, name: str) -> str:
    """The description a component's Args give a field (the docstring under it, without its default).

    A key that means what the field means takes it from there; a key with rules of its own (a CLI
    flag, a refusal the Args do not make) keeps a description of its own.
    """
    if not (text := field_docs.description(args_class, name)):
        raise TypeError(f"{args_class.__name__}.{name} has no docstring to describe its key with")
    return text


def fail(reason: str) -> NoReturn:
    raise ValueError(reason)


def checked(check: checks.Rule) -> AfterValidator:
    """The Args' own rule for a value (`canary.plan.rules.checks`): one rule set for both doors."""

    def validate(value: Any) -> Any:
        reason = check(value)
        if reason is not None:
            raise ValueError(reason)
        return value

    return AfterValidator(validate)


def between(low: int, high: int) -> AfterValidator:
    def validate(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return AfterValidator(validate)


def _number(value: Any) -> Any:
    # YAML's true and "500" are not numbers, though pydantic's lax mode would take them as such.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail("must be a number")
    return value


def _positive(value: float) -> float:
    if value <= 0:
        fail("must be more than zero")
    return value


NamespaceName = Annotated[StrictStr, checked(checks.namespace_name)]
AppName = Annotated[StrictStr, checked(checks.app_name)]
VersionName = Annotated[StrictStr, checked(checks.version_name)]
HostName = Annotated[StrictStr, checked(checks.host_name)]
HeaderName = Annotated[StrictStr, checked(checks.header_name)]
HeaderValue = Annotated[StrictStr, checked(checks.header_value)]
Port = Annotated[StrictInt, checked(checks.port)]
Percent = Annotated[StrictInt, checked(checks.percent)]
Replicas = Annotated[StrictInt, checked(checks.replicas)]
ImageRef = Annotated[StrictStr, checked(checks.image_reference)]
CookiePair = Annotated[StrictStr, checked(checks.cookie_pair)]
LabelKey = Annotated[StrictStr, checked(checks.label_key)]
LabelValue = Annotated[StrictStr, checked(checks.label_value)]
SecretName = Annotated[StrictStr, checked(checks.dns_subdomain)]
CheckId = Annotated[StrictStr, checked(checks.check_id)]
ScanReason = Annotated[StrictStr, checked(checks.scan_reason)]
Quantity = Annotated[StrictStr, checked(checks.quantity)]
Number = Annotated[float, pydantic.BeforeValidator(_number)]
"""An integer or a decimal, never a boolean or a string that reads as a number."""
PositiveNumber = Annotated[Number, AfterValidator(_positive)]
