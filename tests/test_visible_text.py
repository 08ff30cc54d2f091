"""canary/support/visible_text.py: every line a command prints for a person shows its control characters."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

import canary.cli.rollout as rollout_cli
from canary.rollout import release_tags
from canary.support.visible_text import say
from tests.support.memory_tags import MemoryTags
from tests.support.rollout_cli import project, run

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "canary"
SINK = PACKAGE_DIR / "support" / "visible_text.py"
# ESC starts a terminal sequence, CR rewrites the line, U+202E reads what follows backwards.
HOSTILE = "\x1b[2J\rmallory\u202eok"
SHOWN = "<U+001B>[2J<U+000D>mallory<U+202E>ok"


def test_say_writes_control_characters_out_and_keeps_line_breaks_and_tabs():
    out = io.StringIO()
    say(f"a\tb\n{HOSTILE}\x00\x7f\x9b", to=out)
    assert out.getvalue() == f"a\tb\n{SHOWN}<U+0000><U+007F><U+009B>\n"


def test_no_module_prints_but_through_say():
    # A bare print() is a line that skips the rule; the rich console's print is view.py's, shown there.
    found = [
        f"{path.relative_to(PACKAGE_DIR)}:{node.lineno}"
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        if path != SINK
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
    ]
    assert found == []


class TagsOnlyStack:
    """The stack as `--status` reads it: its tags, which anyone who can change the stack writes."""

    def __init__(self, tags: MemoryTags) -> None:
        self._tags = tags

    def tags(self) -> MemoryTags:
        return self._tags


@pytest.mark.parametrize("json_flag", [(), ("--json",)])
def test_status_shows_a_hostile_lock_holder_without_obeying_it(tmp_path, capsys, monkeypatch, json_flag):
    tags = MemoryTags()
    tags.write(release_tags.LOCK, release_tags.encode({"holder": HOSTILE, "since": "2026-12-07T04:00:00Z", "run": "r"}))
    monkeypatch.setattr(rollout_cli, "automation_stack", lambda directory, stack: TagsOnlyStack(tags))
    code, out, err = run(capsys, project(tmp_path), "--status", *json_flag)
    assert (code, err) == (0, "")
    assert not any((ord(char) < 32 and char != "\n") or char == "\u202e" for char in out), repr(out)
    if json_flag:
        assert "\\u001b[2J\\rmallory\\u202eok" in out
    else:
        assert f"a rollout of stack prod is running: {SHOWN}, since 2026-12-07T04:00:00Z" in out
