"""The component program docs/components.md shows is the tested one, examples/components/__main__.py.

The doc shows the program without its imports and comments; every line it does show must be the
example's, in the example's order, so that a change to the example cannot leave the doc behind.
"""

from __future__ import annotations

import re

from tests.support.project import PROJECT_DIR

DOC = PROJECT_DIR / "docs" / "components.md"
EXAMPLE = PROJECT_DIR / "examples" / "components" / "__main__.py"


def shown_program() -> list[str]:
    """The lines of the doc's one Python block that builds the components."""
    blocks = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)
    (program,) = [block for block in blocks if "AppVersion(" in block]
    return [line for line in program.splitlines() if line.strip()]


def missing_from_example(shown: list[str], example: list[str]) -> list[str]:
    """The shown lines that are not the example's next ones, in order (empty when it is an excerpt)."""
    missing, position = [], 0
    for line in shown:
        try:
            position = example.index(line, position) + 1
        except ValueError:
            missing.append(line)  # the next shown line is still looked for after the last match
    return missing


def test_the_docs_component_program_is_an_excerpt_of_the_tested_example() -> None:
    shown = shown_program()
    assert len(shown) > 20  # the whole program, not a stray line
    assert missing_from_example(shown, EXAMPLE.read_text(encoding="utf-8").splitlines()) == []


def test_an_edited_or_reordered_line_is_reported() -> None:
    example = ["a = 1", "b = 2", "c = 3"]
    assert missing_from_example(["a = 1", "c = 3"], example) == []
    assert missing_from_example(["a = 1", "b = 20"], example) == ["b = 20"]
    assert missing_from_example(["c = 3", "a = 1"], example) == ["a = 1"]
