"""A URL's `user:password@`, sent as basic auth rather than as part of the host.

Python's HTTP client takes the user information of `https://user:password@host/` for part of the
host name, and fails with "Name or service not known". So it is taken out of the URL the request
goes to and sent in an `Authorization: Basic` header, as curl does. Prometheus and the webhooks
read it alike.
"""

from __future__ import annotations

import base64
import urllib.parse


def userinfo(url: str) -> str | None:
    """The `user:password` of `url`, or None: up to the last `@` before the path's first `/` (a
    password may hold a `/` only %-encoded, as RFC 3986 asks)."""
    _, separator, rest = url.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    return authority.rpartition("@")[0] if separator and "@" in authority else None


def without_userinfo(url: str) -> str:
    """`url` as the request is sent to: its user information left out."""
    found = userinfo(url)
    return url if found is None else url.replace(f"{found}@", "", 1)


def basic_authorization(url: str) -> str | None:
    """The `Authorization` header value the user information of `url` stands for, or None."""
    found = userinfo(url)
    if found is None:
        return None
    user, _, password = found.partition(":")
    credentials = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
    return "Basic " + base64.b64encode(credentials.encode()).decode()
