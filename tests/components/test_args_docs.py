"""Every field of the components' Args, and of the types they nest, has a docstring that states its default.

The docstring under a field is the one description of it: the package schema reads it. Its last
sentence is `Default: `<expression>`.` (the expression, evaluated in the Args' module, equals the
field's default) or `Required.` for a field without one, as cdk8s-plus's props carry `@default`.

Read here with the standard library alone (the source of each class and its annotations as
written), not with the schema generator's readers.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import sys
import textwrap
from typing import Any

import pytest

import canary.components as components

DEFAULT_SENTENCE = re.compile(r"(?:Default: `(?P<expression>[^`]+)`|(?P<required>Required))\.\Z")


def component_args() -> list[type]:
    """The Args class of every component in canary.components (its constructor's `args`)."""
    found = []
    for name in components.__all__:
        component = getattr(components, name)
        if isinstance(component, type) and "args" in inspect.signature(component.__init__).parameters:
            found.append(getattr(sys.modules[component.__module__], f"{name}Args"))
    return found


def nested(cls: type) -> list[type]:
    """The dataclasses named in the annotations of `cls`' fields (as written: `Canary | None`, `Workload`)."""
    namespace = vars(sys.modules[cls.__module__])
    names = set()
    for item in dataclasses.fields(cls):
        names.update(re.findall(r"[A-Za-z_]\w*", str(item.type)))
    return [namespace[name] for name in sorted(names) if dataclasses.is_dataclass(namespace.get(name))]


def args_classes() -> list[type]:
    seen: list[type] = []
    todo = component_args()
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.append(cls)
            todo.extend(nested(cls))
    return sorted(seen, key=lambda cls: cls.__name__)


def field_docstrings(cls: type) -> dict[str, str]:
    """The string written right under each annotated field of the class body."""
    (node,) = ast.parse(textwrap.dedent(inspect.getsource(cls))).body
    assert isinstance(node, ast.ClassDef)
    docs = {}
    for field_node, after in zip(node.body, node.body[1:], strict=False):
        if (
            isinstance(field_node, ast.AnnAssign)
            and isinstance(field_node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[field_node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def default_of(item: dataclasses.Field[Any]) -> Any:
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return item.default


def test_the_walk_finds_every_component_args_and_what_they_nest():
    names = {cls.__name__ for cls in args_classes()}
    assert {"CanaryReleaseArgs", "AppVersionArgs", "RoutingRulesArgs", "GatewayApiRoutingArgs"} <= names
    assert {"Workload", "Probe", "Resources", "Compute", "Autoscaling", "Canary", "Sticky", "GatewayTls"} <= names
    assert {"ServiceAccount", "SecurityProfile"} <= names


ALL_FIELDS = [
    pytest.param(cls, item, id=f"{cls.__name__}.{item.name}")
    for cls in args_classes()
    for item in dataclasses.fields(cls)
]


@pytest.mark.parametrize(("cls", "item"), ALL_FIELDS)
def test_every_field_has_a_docstring_that_states_its_default(cls: type, item: dataclasses.Field[Any]):
    doc = field_docstrings(cls).get(item.name)
    assert doc, f"{cls.__name__}.{item.name} has no docstring under it"
    stated = DEFAULT_SENTENCE.search(doc)
    assert stated is not None, f"{cls.__name__}.{item.name}: its docstring states no `Default: ...` nor `Required.`"
    default = default_of(item)
    if default is dataclasses.MISSING:
        assert stated["required"], f"{cls.__name__}.{item.name} has no default, its docstring says {stated[0]!r}"
        return
    assert stated["expression"] is not None, f"{cls.__name__}.{item.name} has a default, its docstring says Required."
    said = eval(stated["expression"], vars(sys.modules[cls.__module__]))
    assert said == default, f"{cls.__name__}.{item.name}: the docstring says {said!r}, the default is {default!r}"
