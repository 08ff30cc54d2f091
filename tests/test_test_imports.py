"""Tests share code through tests/support/ (and tests/e2e/support/) and fixtures, never by importing a test.

A test module imported by another runs its module-level code twice under two names, ties two
files' fates together, and hides what is shared; a conftest.py is pytest's, reached by fixture
name. And the unit tier reaches nothing under tests/e2e/, which the e2e tier alone needs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support.project import PROJECT_DIR

TESTS = PROJECT_DIR / "tests"
# Programs in other languages' SDKs and test data, not test code of this suite.
NOT_TEST_CODE = {TESTS / "data", TESTS / "e2e" / "sdk_programs"}


def suite_files() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if not any(folder in path.parents for folder in NOT_TEST_CODE))


def imported_modules(path: Path) -> Iterator[str]:
    """Every module the file imports by absolute name, `from tests.x import test_y` as `tests.x.test_y`."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def is_test_or_conftest(module: str) -> bool:
    """A module of this suite that is a test file or a conftest.py, by the file it names."""
    if not module.startswith("tests."):
        return False
    file = PROJECT_DIR.joinpath(*module.split(".")).with_suffix(".py")
    return file.is_file() and (file.name.startswith("test_") or file.name == "conftest.py")


def test_no_file_of_the_suite_imports_a_test_module_or_a_conftest():
    offenders = [
        f"{path.relative_to(PROJECT_DIR)} imports {module}"
        for path in suite_files()
        for module in imported_modules(path)
        if is_test_or_conftest(module)
    ]
    assert offenders == [], "move what is shared to tests/support/ or a fixture:\n" + "\n".join(offenders)


def test_the_unit_tier_imports_nothing_of_the_e2e_tier():
    e2e = TESTS / "e2e"
    offenders = [
        f"{path.relative_to(PROJECT_DIR)} imports {module}"
        for path in suite_files()
        if e2e not in path.parents
        for module in imported_modules(path)
        if module == "tests.e2e" or module.startswith("tests.e2e.")
    ]
    assert offenders == [], "move what both tiers use to tests/support/:\n" + "\n".join(offenders)


def test_the_check_sees_a_test_module_imported_either_way(tmp_path):
    # The two spellings a test module is imported by, judged on a file of their own.
    planted = tmp_path / "planted.py"
    planted.write_text("from tests.test_test_imports import suite_files\nfrom tests import test_test_imports\n")
    assert [m for m in imported_modules(planted) if is_test_or_conftest(m)] == [
        "tests.test_test_imports",
        "tests.test_test_imports",
    ]
