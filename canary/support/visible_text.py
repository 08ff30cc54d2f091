"""Text shown to a person, made to say what it holds: every control character written out, not obeyed.

What a server answers, a CLI prints or a config holds can reach a terminal, a CI log or a page
inside an error. ESC starts a terminal sequence (clear the screen, retitle the window, hide a
line), CR rewrites the line, and a right-to-left override (U+202E) makes what follows read
backwards, so a message could show another verdict than it carries. Each is written out as
`<U+001B>` instead, so the reader sees what was sent, and that it was sent.

`say` is the one way the commands print a line for a person, so no line skips the rule.
"""

from __future__ import annotations

import re
from typing import TextIO

# C0 and C1 controls but tab and line feed, DEL, and the invisible marks that steer bidirectional
# text: LRM/RLM and ALM, the embeddings and overrides (U+202A-202E), the isolates (U+2066-2069).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with each control or bidi mark written out as `<U+XXXX>`."""
    return _UNSAFE.sub(lambda match: f"<U+{ord(match.group()):04X}>", text)


def say(text: str, *, to: TextIO | None = None, flush: bool = False) -> None:
    """Print `text` for a person (to stdout unless `to`), every control character written out."""
    print(visible(text), file=to, flush=flush)
