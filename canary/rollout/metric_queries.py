"""`rollout.metrics` queries filled in for one version: `{{ namespace }}`, `{{ app }}`, `{{ version }}`.

What is filled in is escaped for where it lands, so that a value can only ever be a value:

- inside a regex matcher's string (`version=~"{{ version }}"`), RE2's special characters are
  escaped first (`v1.2` matches `v1.2`, not `v1x2`), then the string's own;
- inside any other quoted string (`version="{{ version }}"`), a backslash and the quote itself;
- outside a string, the value is written as a quoted string.

The names themselves are DNS labels (checked with the stack config), so today escaping changes
nothing; it is here so that it never has to be remembered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from canary.config.metrics import PLACEHOLDER

# A regex matcher's operator and the opening quote of its string, just before the placeholder.
_REGEX_MATCHER = re.compile(r"(=~|!~)\s*$")
# RE2's special characters (RE2 takes an escaped punctuation character as that character).
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def _open_quote(text: str) -> tuple[str, int] | None:
    """The quote character of the string `text` ends inside, and where it opened; None outside one."""
    quote: str | None = None
    opened = -1
    escaped = False
    for index, char in enumerate(text):
        if quote is None:
            if char in "\"'`":
                quote, opened = char, index
        elif escaped:
            escaped = False
        elif char == "\\" and quote != "`":
            escaped = True
        elif char == quote:
            quote = None
    return None if quote is None else (quote, opened)


def _string_escaped(value: str, quote: str) -> str:
    if quote == "`":  # a raw string: nothing is escaped in it, so a backtick cannot be written
        return value.replace("`", "")
    return value.replace("\\", "\\\\").replace(quote, "\\" + quote)


def fill(template: str, values: Mapping[str, str]) -> str:
    """`template` with each placeholder replaced by its value, escaped for where it lands."""
    out: list[str] = []
    last = 0
    for match in PLACEHOLDER.finditer(template):
        out.append(template[last : match.start()])
        value = values[match.group(1)]
        before = "".join(out)
        inside = _open_quote(before)
        if inside is None:
            out.append('"' + _string_escaped(value, '"') + '"')
        else:
            quote, opened = inside
            if _REGEX_MATCHER.search(before[:opened]):
                value = _RE2_SPECIAL.sub(r"\\\1", value)
            out.append(_string_escaped(value, quote))
        last = match.end()
    out.append(template[last:])
    return "".join(out)


def for_version(template: str, namespace: str, app: str, version: str) -> str:
    return fill(template, {"namespace": namespace, "app": app, "version": version})
