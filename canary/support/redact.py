"""URLs as they may be shown: in a log line, a plan, a JSON or HTML report, an error, a message.

A URL can carry a credential in two places: its user information (`https://user:password@host`)
and its query string (`?token=...`, `?apiKey=...`, as many webhooks and hosted Prometheus
endpoints take it). Both are replaced by `***` wherever a URL is shown; scheme, host, port and path
stay, so the reader still knows which server was meant. One function, used everywhere: a second
one would drift and leak in the place it forgot.
"""

from __future__ import annotations

import re

HIDDEN = "***"

# A URL inside free text (an error message, a reason): a scheme, `://`, then anything up to a
# space, a quote or a closing bracket.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>)\]]+")


def redact_url(url: str) -> str:
    """`url` with its user:password and its query string (and fragment) replaced by `***`.

    `https://bob:s3cret@prom.example.com/api?token=abc` -> `https://***@prom.example.com/api?***`.
    Read by hand rather than by `urllib.parse`: a password may hold a `/` (which ends the host
    for the parser, and would leave the rest of the password in the "path"), so everything up to
    the last `@` before the query is taken for user information. A path holding an `@` is then
    hidden too: showing too little is the safe mistake.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    end = min([len(rest)] + [i for i in (rest.find("?"), rest.find("#")) if i >= 0])
    head, tail = rest[:end], rest[end:]
    if "@" in head:
        head = f"{HIDDEN}@{head.rpartition('@')[2]}"
    if tail:
        tail = tail[0] + HIDDEN
    return f"{scheme}{separator}{head}{tail}"


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted (`redact_url`): for messages that quote a URL."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
