"""Pulumi.yaml declares every config key the program reads, with the program's own defaults.

The `config:` block is generated (canary/config/reference.py); these checks do not trust the
generator: they hold the block to what the Pulumi CLI accepts and to what the program does.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from canary.config import StackSettings, parse_settings
from canary.config.files import as_config_strings
from tests.support.project import BASELINE, PROJECT_DIR, SHIPPED_STACKS

PROJECT = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
DECLARED = PROJECT["config"]
KEYS = {field.alias or name for name, field in StackSettings.model_fields.items()}
REQUIRED = {field.alias or name for name, field in StackSettings.model_fields.items() if field.is_required()}
# What the Pulumi CLI accepts in a project config declaration (project file reference).
DECLARATION_FIELDS = {"type", "items", "description", "secret", "default", "value"}
TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict}


def test_project_is_named_and_runs_python_in_a_virtualenv() -> None:
    assert PROJECT["name"] == "istio-canary"
    assert PROJECT["runtime"]["name"] == "python"
    assert PROJECT["runtime"]["options"]["virtualenv"] == "venv"


def test_every_key_the_program_reads_is_declared_and_nothing_else() -> None:
    # The CLI refuses a stack that sets a project key Pulumi.yaml does not declare.
    assert set(DECLARED) == KEYS


@pytest.mark.parametrize("key", sorted(KEYS))
def test_declaration_is_one_the_cli_accepts_and_is_described(key: str) -> None:
    declaration = DECLARED[key]
    assert set(declaration) <= DECLARATION_FIELDS
    assert declaration.get("description")
    # Every key is typed, so the CLI itself refuses a value of the wrong shape.
    kind = declaration["type"]
    if kind == "array":
        assert declaration["items"]["type"] in TYPES
    else:
        assert kind in TYPES
        if "default" in declaration:
            assert type(declaration["default"]) is TYPES[kind]


def test_keys_without_a_default_are_exactly_the_required_ones() -> None:
    # The CLI makes a declared key without a default required in every stack.
    assert {key for key, declaration in DECLARED.items() if "default" not in declaration} == REQUIRED


@pytest.mark.parametrize("key", sorted(KEYS - REQUIRED))
def test_declared_default_means_what_leaving_the_key_out_means(key: str) -> None:
    without = parse_settings(as_config_strings(BASELINE | {"canary": {}}))
    with_default = parse_settings(as_config_strings(BASELINE | {"canary": {}} | {key: DECLARED[key]["default"]}))
    assert with_default == without


def tracked_stacks(folder: Path) -> list[str] | None:
    """The stacks whose files Git tracks in `folder`, when it is a checkout of its own; else None.

    Only tracked files: `pulumi stack init dev-render` (which docs/render.md suggests) writes an
    untracked Pulumi.dev-render.yaml that is the user's, not the repository's. A source archive,
    a copied folder or a folder inside another repository has no such list.
    """
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True)
    except FileNotFoundError:  # no git at all
        return None
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != folder.resolve():
        return None
    listed = subprocess.run(
        ["git", "ls-files", "Pulumi.*.yaml"], cwd=folder, capture_output=True, text=True, check=True
    ).stdout.split()
    return sorted(name.removeprefix("Pulumi.").removesuffix(".yaml") for name in listed)


def documented_stacks(readme: str) -> list[str]:
    """The stacks the README's Stacks table describes: the ones the project ships."""
    lines = readme.split("\n### Stacks\n", 1)[1].lstrip().splitlines()
    rows = itertools.takewhile(lambda line: line.startswith("|"), lines)
    names = [row.split("|")[1].strip().strip("`") for row in rows]
    return sorted(name.removeprefix("Pulumi.").removesuffix(".yaml") for name in names[2:])


def test_every_stack_file_in_the_repository_is_a_shipped_stack() -> None:
    # The README's table is there in a checkout and outside one, and a user's stack is not in it.
    assert documented_stacks((PROJECT_DIR / "README.md").read_text()) == SHIPPED_STACKS
    assert all((PROJECT_DIR / f"Pulumi.{stack}.yaml").is_file() for stack in SHIPPED_STACKS)
    # In a checkout, Git also says which stack files are the repository's: a new one must be listed.
    tracked = tracked_stacks(PROJECT_DIR)
    if tracked is not None:
        assert tracked == SHIPPED_STACKS


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stacks_give_each_key_its_declared_type(stack: str) -> None:
    # The CLI refuses a stack value whose type is not the declared one, before the program runs.
    config = yaml.safe_load((Path(PROJECT_DIR) / f"Pulumi.{stack}.yaml").read_text())["config"]
    for key, value in config.items():
        if ":" in key and not key.startswith("istio-canary:"):
            continue  # another namespace's key, a provider's say
        declaration = DECLARED[key.removeprefix("istio-canary:")]
        if declaration["type"] == "array":
            assert type(value) is list, key
            assert {type(item) for item in value} == {TYPES[declaration["items"]["type"]]}, key
        else:
            assert type(value) is TYPES[declaration["type"]], key


def test_shipped_stacks_set_only_declared_keys() -> None:
    for stack in SHIPPED_STACKS:
        stack_file = Path(PROJECT_DIR) / f"Pulumi.{stack}.yaml"
        config = yaml.safe_load(stack_file.read_text())["config"]
        project_keys = {k.split(":", 1)[1] for k in config if k.startswith("istio-canary:")}
        assert project_keys <= KEYS, stack_file.name


# What a copy of the project needs to run the test above: not the e2e tier, test data or a venv.
COPIED = ["Pulumi.yaml", "README.md", "pyproject.toml", "canary", "tests"]
NOT_COPIED = shutil.ignore_patterns("e2e", "data", "__pycache__")


@pytest.mark.parametrize("checkout", [True, False], ids=["in a git checkout", "in a copied folder"])
def test_a_users_own_stack_does_not_fail_the_stack_file_test(tmp_path: Path, checkout: bool) -> None:
    copy = tmp_path / "istio-canary"
    copy.mkdir()
    for name in COPIED:
        if (PROJECT_DIR / name).is_dir():
            shutil.copytree(PROJECT_DIR / name, copy / name, ignore=NOT_COPIED)
        else:
            shutil.copy(PROJECT_DIR / name, copy / name)
    for stack in SHIPPED_STACKS:
        shutil.copy(PROJECT_DIR / f"Pulumi.{stack}.yaml", copy)
    if checkout:
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
        for command in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "shipped"]):
            subprocess.run([*git, *command], cwd=copy, check=True, capture_output=True)
    # What `pulumi stack init dev-render` leaves, after docs/render.md's advice.
    (copy / "Pulumi.dev-render.yaml").write_text("encryptionsalt: v1:abc\n")
    test = "tests/config/test_project_config.py::test_every_stack_file_in_the_repository_is_a_shipped_stack"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", test],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
