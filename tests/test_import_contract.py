"""The layers import only downward: the plans know nothing of Pulumi, nothing below the commands imports them.

Read from the source (every import statement that can run, those inside functions too; not those
under `if TYPE_CHECKING:`) and followed through the project's own modules, so that a forbidden
import reached by way of a helper counts as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "canary"

# Layer -> what no module of it may import, directly or through the project's other modules.
CONTRACTS = {
    "canary.plan": (
        "pulumi",
        "pulumi_kubernetes",
        "canary.__main__",
        "canary.cli",
        "canary.rollout",
        "canary.traffic",
    ),
    "canary.config": ("canary.cli", "canary.rollout", "canary.traffic"),
    # The commands are the top floor: what they run knows nothing of flags or of how it was called.
    "canary.rollout": ("canary.cli",),
    "canary.traffic": ("canary.cli",),
}


def module_path(module: str) -> Path | None:
    """The file of one of the project's modules, or None for a module from elsewhere."""
    base = PACKAGE_DIR.parent.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_time_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node that can run: the body of `if TYPE_CHECKING:` is read by type checkers only."""
    yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _run_time_nodes(other)
            continue
        yield from _run_time_nodes(child)


def imported_by(module: str) -> Iterator[str]:
    """Every module `module`'s source imports, and the packages that importing them runs."""
    path = module_path(module)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _run_time_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            source = ".".join(filter(None, [base, node.module or ""]))
            # `from canary import mesh` imports the module canary.mesh; `from x import name` only x.
            names = [source] + [f"{source}.{a.name}" for a in node.names if module_path(f"{source}.{a.name}")]
        else:
            continue
        for name in names:
            parts = name.split(".")
            yield from (".".join(parts[:end]) for end in range(1, len(parts) + 1))


def reachable(start: str) -> dict[str, str]:
    """Each module `start` imports, directly or not, with the project module that imports it."""
    found: dict[str, str] = {}
    todo = [start]
    while todo:
        current = todo.pop()
        for name in imported_by(current):
            if name in found or name == start:
                continue
            found[name] = current
            if module_path(name) is not None:
                todo.append(name)
    return found


def layer_modules(layer: str) -> list[str]:
    folder = PACKAGE_DIR.parent.joinpath(*layer.split("."))
    return sorted(
        ".".join(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts).removesuffix(".__init__")
        for path in folder.rglob("*.py")
    )


def broken(layer: str) -> list[str]:
    forbidden = CONTRACTS[layer]
    problems = []
    for module in layer_modules(layer):
        for name, importer in reachable(module).items():
            if any(name == bad or name.startswith(bad + ".") for bad in forbidden):
                problems.append(f"{module} reaches {name} (imported by {importer})")
    return problems


@pytest.mark.parametrize("layer", sorted(CONTRACTS))
def test_a_layer_reaches_none_of_what_it_must_not_import(layer: str):
    assert layer_modules(layer), f"no modules in {layer}"
    assert broken(layer) == []


def test_the_contract_sees_an_import_inside_a_function_and_one_through_a_helper():
    # The project's own graph: the rollout engine imports no Pulumi itself; it reaches it through helpers,
    # canary.rollout.pulumi_stack (whose one import of it sits inside a method: the Automation API is
    # loaded when a rollout runs) and canary.config.runtime (inside a function too). Which of the two
    # the search meets first depends on the order of the imports, so either is the answer.
    assert "pulumi" in set(imported_by("canary.rollout.pulumi_stack"))
    reached = reachable("canary.rollout.engine")
    assert reached["canary.rollout.pulumi_stack"] == "canary.rollout.engine"
    assert "pulumi" not in set(imported_by("canary.rollout.engine"))
    assert reached["pulumi"] in {"canary.rollout.pulumi_stack", "canary.config.runtime"}


def test_an_import_for_the_type_checker_only_is_not_one_that_runs():
    # canary.plan.app_version names pulumi.Input in its annotations, under `if TYPE_CHECKING:`.
    assert "pulumi" in (PACKAGE_DIR / "plan" / "app_version.py").read_text()
    assert "pulumi" not in reachable("canary.plan.app_version")
