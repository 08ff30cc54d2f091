"""docs/development.md's map of `canary/` is the tree: every folder and module, with its docstring's first sentence.

The map is generated, so that it cannot drift from the code: after adding, moving or renaming a
module, or changing the first sentence of its docstring, run
`venv/bin/python tests/test_development_layout.py --write`.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "canary"
DOC = ROOT / "docs" / "development.md"
BEGIN = "<!-- The map of canary/ below is generated from the tree: tests/test_development_layout.py --write -->"
END = "<!-- End of the generated map. -->"
COMMAND = "venv/bin/python tests/test_development_layout.py --write"
NAME_WIDTH = 24


def summary(path: Path) -> str:
    """The first sentence of a module's docstring, on one line."""
    return first_sentence(ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "")


def first_sentence(doc: str) -> str:
    paragraph = " ".join(doc.split("\n\n", 1)[0].split())
    # A sentence ends at a full stop followed by a space; `e.g. x` or `0.5 s` do not end one.
    end = re.search(r"(?<![.\s][a-z])\.\s", paragraph + " ")
    return paragraph[: end.start() + 1] if end else paragraph


def entry(indent: int, name: str, text: str) -> str:
    label = "  " * indent + name
    return f"{label.ljust(NAME_WIDTH)} {text}".rstrip() if text else label


def folder_lines(folder: Path, indent: int) -> list[str]:
    lines = []
    modules = sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")
    for module in modules:
        lines.append(entry(indent, module.name, summary(module)))
    for sub in sorted(p for p in folder.iterdir() if (p / "__init__.py").is_file()):
        lines.append(entry(indent, sub.name + "/", summary(sub / "__init__.py")))
        lines += folder_lines(sub, indent + 1)
    return lines


def generated_map() -> str:
    lines = [entry(0, "canary/", summary(PACKAGE_DIR / "__init__.py")), *folder_lines(PACKAGE_DIR, 1)]
    return "\n".join(["```", *lines, "```"])


def documented_map(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n")


def with_map(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + generated_map() + "\n" + text[end:]


def test_the_map_of_the_package_is_the_tree() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert documented_map(text) == generated_map(), f"{DOC.name}'s map of canary/ is stale: run {COMMAND}"


def test_the_map_names_every_module_with_its_docstring() -> None:
    # The generator itself, held against the tree by another route: every file is listed once.
    listed = generated_map()
    for path in PACKAGE_DIR.rglob("*.py"):
        if path.name == "__init__.py":
            assert f" {path.parent.name}/ " in listed or listed.startswith(f"```\n{path.parent.name}/"), path
        else:
            assert re.search(rf"^\s+{re.escape(path.name)}(\s|$)", listed, re.M), path
    assert summary(PACKAGE_DIR / "policy.py") in listed


def test_a_sentence_ends_at_a_full_stop_not_inside_an_abbreviation() -> None:
    assert first_sentence("One job. The rest.") == "One job."
    assert first_sentence("Reads it, e.g. a file;\nthen stops. More.") == "Reads it, e.g. a file; then stops."
    assert first_sentence("No full stop at all\n\nA second paragraph.") == "No full stop at all"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {COMMAND}")
    DOC.write_text(with_map(DOC.read_text(encoding="utf-8")), encoding="utf-8")
