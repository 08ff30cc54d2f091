"""Text from a report, made safe to put in a page: HTML-escaped, and every control character shown, not obeyed.

Escaping `<` and `&` keeps markup out, but not the characters that change how text reads: a
right-to-left override (U+202E) makes what follows it read backwards, so a reason could show as
another verdict than the report holds; ESC starts a terminal sequence, NUL is no XML at all. Each
is written out as `<U+202E>` instead, so the page says what the report holds, and that it held it.
"""

from __future__ import annotations

import html
import re

# C0 and C1 controls but tab and line feed, DEL, and the invisible marks that steer bidirectional
# text: LRM/RLM and ALM, the embeddings and overrides (U+202A-202E), the isolates (U+2066-2069).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with each control or bidi mark written out as `<U+XXXX>`."""
    return _UNSAFE.sub(lambda match: f"<U+{ord(match.group()):04X}>", text)


def escape(text: str) -> str:
    """`text` for HTML and SVG, text or attribute: control characters shown, then escaped."""
    return html.escape(visible(text))
