"""canary/cli/flags.py: the one parser and `UsageError` every command uses, and what they do."""

from __future__ import annotations

import ast
import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from canary.cli.flags import CommandParser, UsageError, parse_flags

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "canary"
TOOLKIT = PACKAGE_DIR / "cli" / "flags.py"


def _defined_classes(path: Path) -> list[ast.ClassDef]:
    return [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.ClassDef)]


def _base_names(node: ast.ClassDef) -> set[str]:
    return {base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "") for base in node.bases}


def test_no_module_but_the_toolkit_defines_a_parser_or_a_usage_error():
    found = [
        f"{path.relative_to(PACKAGE_DIR)}:{node.lineno} {node.name}"
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        if path != TOOLKIT
        for node in _defined_classes(path)
        if node.name == "UsageError" or "ArgumentParser" in _base_names(node)
    ]
    assert found == []


def test_no_command_names_an_exit_status_of_its_own():
    # An `EXIT_OK = 0` beside exit_status.OK is a second spelling that can drift from the table.
    found = [
        f"{path.name}:{node.lineno}"
        for path in sorted((PACKAGE_DIR / "cli").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and "EXIT" in target.id.upper()
    ]
    assert found == []


def test_a_bad_flag_is_a_usage_error_not_an_exit():
    parser = CommandParser(prog="canary x")
    parser.add_argument("--count", type=int)
    with pytest.raises(UsageError, match=r"argument --count: invalid int value: 'many'"):
        parse_flags(parser, ["--count", "many"])


def test_help_is_printed_and_its_exit_status_returned():
    parser = CommandParser(prog="canary x", description="does x")
    out = io.StringIO()
    with redirect_stdout(out):
        assert parse_flags(parser, ["--help"]) == 0
    assert "does x" in out.getvalue()


def test_the_flags_come_back_parsed():
    parser = CommandParser(prog="canary x")
    parser.add_argument("--count", type=int)
    flags = parse_flags(parser, ["--count", "3"])
    assert not isinstance(flags, int) and flags.count == 3
