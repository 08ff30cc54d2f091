"""Every relative link in README.md and docs/ leads somewhere: an existing file, and an existing heading.

Sections move between the README and docs/; a link left pointing at the old place is the first
thing a reader meets that is wrong. Anchors are checked as GitHub renders them.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.support.project import PROJECT_DIR

DOCS = sorted([PROJECT_DIR / "README.md", *(PROJECT_DIR / "docs").glob("*.md")])
INDEX = PROJECT_DIR / "docs" / "README.md"

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"`[^`]*`")
# [text](target), the text possibly holding code spans; an image's ![alt](target) too.
_LINK = re.compile(r"\[(?:[^\[\]`]|`[^`]*`)*\]\(([^()\s]+)\)")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks: a `# comment` in a bash block is not a heading."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in `path`, a repeated one numbered as GitHub numbers it (`x`, `x-1`)."""
    seen: Counter[str] = Counter()
    found = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        if (heading := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)) is None:
            continue
        base = slug(heading.group(1))
        found.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


def relative_links(path: Path) -> list[str]:
    """The targets of `path`'s links that point inside the repository (no scheme, not in code)."""
    targets = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        # A code span may show link syntax without being a link; a link's text may hold one.
        for match in _LINK.finditer(line):
            if _inside_code_span(line, match.start()):
                continue
            if not _SCHEME.match(target := match.group(1)):
                targets.append(target)
    return targets


def _inside_code_span(line: str, position: int) -> bool:
    return any(span.start() < position < span.end() for span in _CODE_SPAN.finditer(line))


def broken_links(path: Path) -> list[str]:
    problems = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{target}: no file {os.path.relpath(linked, PROJECT_DIR)}")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            problems.append(f"{target}: no heading #{anchor} in {linked.name}")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(PROJECT_DIR)))
def test_every_relative_link_leads_to_a_file_and_a_heading(doc: Path) -> None:
    assert broken_links(doc) == []


def test_every_doc_is_listed_in_the_docs_index() -> None:
    listed = {(INDEX.parent / target.partition("#")[0]).resolve() for target in relative_links(INDEX)}
    in_docs = [path for path in DOCS if path.parent == INDEX.parent and path != INDEX]
    unlisted = [path.name for path in in_docs if path.resolve() not in listed]
    assert unlisted == []


def test_anchors_are_spelled_as_github_spells_them(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Progressive delivery: `canary rollout`\n\n```bash\n# not a heading\n```\n\n"
        "## A canary release, step by step\n## Notes\n## Notes\n"
    )
    assert anchors(doc) == {
        "progressive-delivery-canary-rollout",
        "a-canary-release-step-by-step",
        "notes",
        "notes-1",
    }
