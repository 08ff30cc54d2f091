"""Text from a report, made safe to put in a page: HTML-escaped, and every control character shown, not obeyed.

Escaping `<` and `&` keeps markup out, but not the characters that change how text reads: a
right-to-left override (U+202E) makes what follows it read backwards, so a reason could show as
another verdict than the report holds; ESC starts a terminal sequence, NUL is no XML at all. Each
is written out as `<U+202E>` instead (`canary.support.visible_text`, as on the terminal), so the
page says what the report holds, and that it held it.
"""

from __future__ import annotations

import html

from canary.support.visible_text import visible


def escape(text: str) -> str:
    """`text` for HTML and SVG, text or attribute: control characters shown, then escaped."""
    return html.escape(visible(text))
