"""The components found by reference: every kind a plan declares has its Pulumi class in one table."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import canary.plan
from canary.components.by_type import COMPONENTS
from canary.plan.backend import ComponentKind


def declared_kinds() -> Iterator[ComponentKind[Any, Any]]:
    for info in pkgutil.iter_modules(canary.plan.__path__):
        module = importlib.import_module(f"canary.plan.{info.name}")
        yield from (value for value in vars(module).values() if isinstance(value, ComponentKind))


def test_every_kind_a_plan_declares_has_its_component() -> None:
    assert sorted({kind.type_token for kind in declared_kinds()}) == sorted(COMPONENTS)


def test_each_row_is_the_component_named_by_its_type_token() -> None:
    # canary:index:AppService -> AppService: the token's last part is the class's name.
    assert {token: component.__name__ for token, component in COMPONENTS.items()} == {
        token: token.rpartition(":")[2] for token in COMPONENTS
    }
