"""The folders are the layers, and imports only go down: each layer reaches none of the layers above it.

From the bottom: support/ and router/ (leaves), plan/ (pure: no Pulumi, no stack config, no
component), config/ (the stack config) and components/ (the plans registered with Pulumi), then
provider/, traffic/ and rollout/, and cli/, the commands, which nothing below imports.

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

# What runs the commands or the Pulumi program: the top, which no layer below may reach.
TOP = ("canary.__main__", "canary.program", "canary.cli")

# The layers above the plans, from the top down.
ABOVE_THE_PLANS = (*TOP, "canary.provider", "canary.rollout", "canary.traffic", "canary.config", "canary.components")
PULUMI = ("pulumi", "pulumi_kubernetes")

# Layer -> what no module of it may import, directly or through the project's other modules.
CONTRACTS = {
    "canary.support": (*ABOVE_THE_PLANS, "canary.plan", "canary.policy", "canary.router", *PULUMI),
    "canary.router": (*ABOVE_THE_PLANS, "canary.plan", "canary.policy", *PULUMI),
    # The plans are the library's pure core: the stack config feeds them and the components
    # register them with Pulumi, never the other way round.
    "canary.plan": (*ABOVE_THE_PLANS, *PULUMI),
    "canary.config": (*TOP, "canary.provider", "canary.rollout", "canary.traffic", "canary.components"),
    # The components are what other programs import: no command, rollout or verifier comes with them.
    "canary.components": (*TOP, "canary.provider", "canary.rollout", "canary.traffic", "canary.config"),
    "canary.provider": (*TOP, "canary.rollout", "canary.traffic"),
    "canary.traffic": (*TOP, "canary.rollout"),
    "canary.rollout": TOP,
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


def all_modules() -> list[str]:
    return layer_modules("canary")


def test_every_folder_of_the_package_is_a_layer_of_the_contract():
    # A new folder gets its place in the floors, or it would be outside every rule.
    folders = sorted({module.rpartition(".")[0] for module in all_modules() if module.count(".") >= 2})
    outside = [f for f in folders if not any(f == layer or f.startswith(layer + ".") for layer in [*CONTRACTS, *TOP])]
    assert outside == []


def test_nothing_below_the_commands_imports_them():
    # cli/ is the top floor: only `python -m canary` (canary.__main__) runs it.
    below = [m for m in all_modules() if m != "canary.__main__" and not (m + ".").startswith("canary.cli.")]
    problems = [
        f"{module} reaches {name} (imported by {importer})"
        for module in below
        for name, importer in reachable(module).items()
        if name == "canary.cli" or name.startswith("canary.cli.")
    ]
    assert problems == []


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
