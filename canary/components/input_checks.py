"""The Args rules for values that are Pulumi outputs, applied once the values are known.

An Args object checks its plain values when it is built (`canary.plan.rules.checks`); a value that
comes from another resource is not known then. Before a component runs its plan, every such value
is replaced by the same output passed through its field's rule: a bad value fails the update with
the message the Args would have given, and the object that uses it is never sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import pulumi

from canary.plan import pod_blocks
from canary.plan.rules import checks

A = TypeVar("A")


def checked_args(args: A) -> A:
    """`args`, with each value not known yet checked by its field's rule once it is."""
    if not dataclasses.is_dataclass(args) or isinstance(args, type):
        return args
    rules = checks.rules_of(type(args))
    owner = type(args).__name__
    changes: dict[str, Any] = {}
    for declared in dataclasses.fields(args):
        value = getattr(args, declared.name)
        checked = _checked(value, f"{owner}.{declared.name}", rules.get(declared.name))
        if checked is not value:
            changes[declared.name] = checked
    for name in _BLOCKS:
        block = changes.get(name, getattr(args, name, None))
        if isinstance(block, Mapping) and _holds_output(block):
            changes[name] = _checked_block(block, name, owner)
    # `replace` builds the Args again: their own checks skip the values that are outputs.
    return dataclasses.replace(args, **changes) if changes else args


# The Kubernetes blocks of a Workload or a release, as the stack file spells them.
_BLOCKS = {"container": "container", "pod": "pod", "pod_metadata": "podMetadata", "deployment": "deployment"}


def _holds_output(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_holds_output(item) for item in value.values())
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return any(_holds_output(item) for item in value)
    return checks.unresolved(value)


def _checked_block(block: Mapping[str, Any], name: str, owner: str) -> Mapping[str, Any]:
    """`block`, each output in it checked with the whole block once every value in it is known."""
    whole = pulumi.Output.from_input(block)
    secret: pulumi.Output[bool] = pulumi.Output.from_input(whole.is_secret())

    def check(known_and_secret: list[Any]) -> None:
        known, is_secret = known_and_secret
        blocks = pod_blocks.PodBlocks(**{name: known})
        for path, value, reason in pod_blocks.block_problems(blocks, None):
            below = path.removeprefix(_BLOCKS[name])
            shown = SECRET if is_secret else value
            raise pulumi.RunError(str(checks.ArgsError(f"{owner}.{name}{below}", shown, reason)))

    def each(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: each(item) for key, item in value.items()}
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            return [each(item) for item in value]
        if checks.unresolved(value):
            # The value waits for the check of the block it is in.
            return pulumi.Output.all(value, pulumi.Output.all(whole, secret).apply(check)).apply(lambda pair: pair[0])
        return value

    checked: Mapping[str, Any] = each(block)
    return checked


def _checked(value: Any, field: str, rule: checks.FieldRule | None) -> Any:
    if checks.unresolved(value):
        # A rule for one value (not for a list or a mapping, whose items are checked one by one).
        return _later(value, field, rule) if callable(rule) else value
    if isinstance(value, Mapping):
        item_rule = rule.value if isinstance(rule, checks.Entries) else None
        items = {key: _checked(item, f"{field}[{key!r}]", item_rule) for key, item in value.items()}
        return items if any(items[key] is not value[key] for key in value) else value
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        item_rule = rule.item if isinstance(rule, checks.Each) else None
        elements = [_checked(item, f"{field}[{index}]", item_rule) for index, item in enumerate(value)]
        return elements if any(new is not old for new, old in zip(elements, value, strict=True)) else value
    # A nested Args object (a Workload, a GatewayTls) may hold outputs of its own.
    return checked_args(value)


def _later(value: Any, field: str, rule: checks.Rule) -> pulumi.Output[Any]:
    output = pulumi.Output.from_input(value)

    def check(known_and_secret: list[Any]) -> Any:
        known, secret = known_and_secret
        if (reason := rule(known)) is not None:
            # A secret stays out of the message; RunError: the engine reports the message alone,
            # without a Python traceback.
            raise pulumi.RunError(str(checks.ArgsError(field, SECRET if secret else known, reason)))
        return known

    # The checked value is what reaches the objects: secret if the value was.
    is_secret: pulumi.Output[bool] = pulumi.Output.from_input(output.is_secret())
    return pulumi.Output.all(output, is_secret).apply(check)


class _Secret:
    def __repr__(self) -> str:
        return "[secret]"


SECRET = _Secret()
"""Shown instead of a secret value that breaks a rule."""
