"""The docstrings written under the Args' fields: the one description of each field.

Each ends with the field's default, as Python spells it (`Default: `Probe()`.`), or `Required.`.
The package schema (`canary.provider.schema`) and the config reference (through
`canary.config.value_types.args_doc`) read the rest of it; they state the default in their own
language, from the value itself.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import textwrap
from functools import cache
from pathlib import Path

DEFAULT_SENTENCE = re.compile(r"\s*(?:Default: `[^`]+`|Required)\.\Z")
"""The last sentence of a field's docstring: its default, or that it has none."""


@cache
def _module_tree(path: str) -> ast.Module:
    return ast.parse(Path(path).read_text(encoding="utf-8"))


@cache
def class_node(cls: type) -> ast.ClassDef:
    """The class statement, read from the source (attribute docstrings are not kept at run time).

    Each module is parsed once, for all its classes: the stack config reads these at import.
    """
    path = inspect.getsourcefile(cls)
    if path is not None and "." not in cls.__qualname__:
        for node in _module_tree(path).body:
            if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
                return node
    # A class defined inside a function (a test's), or not found at the top of its module's source.
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    found = tree.body[0]
    assert isinstance(found, ast.ClassDef)
    return found


def attribute_docs(cls: type) -> dict[str, str]:
    """The docstring written under each annotated attribute of the class body."""
    docs: dict[str, str] = {}
    body = class_node(cls).body
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def description(cls: type, name: str) -> str:
    """What field `name` of `cls` is, without the sentence that gives its default ("" without a docstring).

    One line: where a docstring breaks its lines is layout, and a reference table has no room for it.
    """
    return " ".join(DEFAULT_SENTENCE.sub("", attribute_docs(cls).get(name, "")).split())
