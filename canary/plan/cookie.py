"""The Cookie-header regex that finds one `name=value` cookie wherever the browser put it.

Envoy matches header regexes with RE2 against the *whole* header value. Browsers join cookies
with "; " (RFC 6265 section 5.4), so the tutorial's `^(.*?;)?(version=v2)(;.*)?$` misses the
cookie whenever it is not the first one: after the ";" comes a space it does not allow for.
"""

from __future__ import annotations

_RE2_LITERAL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
# Optional white space: browsers send "; ", some clients send ";" or pad around "=".
_WS = "[ \\t]*"


def re2_escape(text: str) -> str:
    """Escape every character that is not a letter, digit or underscore.

    RE2 accepts a backslash before any punctuation as that literal character, so escaping all of
    them is safe and needs no list of which ones are special.
    """
    return "".join(ch if ch in _RE2_LITERAL_SAFE else "\\" + ch for ch in text)


def cookie_regex(cookie: str) -> str:
    """A full-match RE2 regex for a Cookie header that carries the cookie `name=value`.

    The cookie must be a whole cookie-pair: it starts the header or follows a ";", and it ends the
    header or is followed by a ";". So `myversion=v2`, `version=v20` and `version=v2x` never match.
    """
    name, _, value = cookie.partition("=")
    return f"^(.*;)?{_WS}{re2_escape(name)}{_WS}={_WS}{re2_escape(value)}{_WS}(;.*)?$"
