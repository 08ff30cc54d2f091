"""The routes contract: what each kind of request should see, in one format for both sides.

The program states it (the stack output `routes`, read off the routing object it generates)
and the verifier reads it back (`verify --routes`, `pulumi stack output`). A route is a kind of
request and the split of versions it should reach:
``{"when": {"cookie": "version=v2"}, "split": {"v2": 100}}``; ``when`` is ``{}`` (a plain
request), ``{"cookie": "name=value"}`` or ``{"headers": {name: value}}``. Reading it checks it
whole and reports one ``RoutesError`` line naming where the problem is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canary.router import Router

TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""RFC 9110 token characters: what a header or cookie name may be made of."""
# Headers the request line and the engine own; a route may not set them.
_RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}
# Other cookies a browser sends, so the route's cookie is tried first, in the middle and
# last: a mesh rule that only finds it in one position is caught.
_OTHER_COOKIES = ("_ga=GA1.2.3", "theme=dark")


class RoutesError(Exception):
    """The routes could not be read or do not make sense; the message is one line."""


@dataclass(frozen=True)
class Route:
    """One kind of request and the versions it should reach, in percent."""

    when: Mapping[str, Any]
    split: Mapping[str, int]
    cookie: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """Short human name: ``plain``, ``cookie version=v2``, ``x-canary: always``."""
        parts = []
        if self.cookie:
            parts.append(f"cookie {self.cookie}")
        parts += [f"{name}: {value}" for name, value in self.headers]
        return ", ".join(parts) or "plain"

    def header_variants(self) -> list[list[tuple[str, str]]]:
        """The header lists to send, in turn, for requests of this route."""
        base = list(self.headers)
        if self.cookie is None:
            return [base]
        first, second = _OTHER_COOKIES
        placements = (
            [self.cookie, first, second],
            [first, self.cookie, second],
            [first, second, self.cookie],
        )
        return [[*base, ("Cookie", "; ".join(cookies))] for cookies in placements]

    def to_json(self) -> dict[str, Any]:
        return {"when": dict(self.when), "split": dict(self.split)}


def parse_routes(data: Any, source: str) -> tuple[Route, ...]:
    """Check a ``routes`` list and turn it into ``Route`` objects."""
    if not isinstance(data, list) or not data:
        raise RoutesError(f"{source}: routes must be a non-empty list, got {short_json(data)}")
    return tuple(_parse_route(item, f"{source}: routes[{i}]") for i, item in enumerate(data))


def _parse_route(item: Any, where: str) -> Route:
    if not isinstance(item, dict):
        raise RoutesError(f"{where} must be an object, got {short_json(item)}")
    unknown = set(item) - {"when", "split"}
    if unknown:
        raise RoutesError(f"{where} has unknown key {sorted(unknown)[0]!r}")
    when = item.get("when", {})
    if not isinstance(when, dict):
        raise RoutesError(f"{where}.when must be an object, got {short_json(when)}")
    unknown = set(when) - {"cookie", "headers"}
    if unknown:
        raise RoutesError(f"{where}.when has unknown key {sorted(unknown)[0]!r} (known: cookie, headers)")
    return Route(
        when=when,
        split=_parse_split(item.get("split"), f"{where}.split"),
        cookie=_parse_cookie(when["cookie"], f"{where}.when.cookie") if "cookie" in when else None,
        headers=_parse_headers(when.get("headers", {}), f"{where}.when.headers"),
    )


def _parse_split(split: Any, where: str) -> dict[str, int]:
    if not isinstance(split, dict) or not split:
        raise RoutesError(f"{where} must be a non-empty object, got {short_json(split)}")
    for version, percent in split.items():
        if not version.strip():
            raise RoutesError(f"{where} has an empty version name")
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise RoutesError(f"{where}.{version} must be an integer from 0 to 100, got {short_json(percent)}")
    total = sum(split.values())
    if total != 100:
        raise RoutesError(f"{where} must add up to 100, got {total}")
    return dict(split)


def _parse_cookie(cookie: Any, where: str) -> str:
    if not isinstance(cookie, str):
        raise RoutesError(f"{where} must be a string name=value, got {short_json(cookie)}")
    name, sep, value = cookie.partition("=")
    if not sep or not TOKEN.fullmatch(name) or any(c in value for c in ';,"\\ \r\n'):
        raise RoutesError(f"{where} must look like name=value, got {cookie!r}")
    return cookie


def _parse_headers(headers: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(headers, dict):
        raise RoutesError(f"{where} must be an object, got {short_json(headers)}")
    parsed = []
    for name, value in headers.items():
        if not TOKEN.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
            raise RoutesError(f"{where} has a header name that cannot be sent: {name!r}")
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            raise RoutesError(f"{where}.{name} must be a one-line string, got {short_json(value)}")
        parsed.append((name, value))
    return tuple(parsed)


def short_json(value: Any) -> str:
    """A value as JSON for a one-line message, cut to 60 characters."""
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def request_headers(when: Mapping[str, Any]) -> dict[str, str]:
    """The request headers (names lower-case) of a request of the kind `when`."""
    headers = {name.lower(): value for name, value in when.get("headers", {}).items()}
    if "cookie" in when:
        headers["cookie"] = when["cookie"]
    return headers


def routes_through(router: Router, whens: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The route the routing object gives each kind of request (`when`), read off the object itself."""
    return [{"when": dict(when), "split": router.split(request_headers(when))} for when in whens]
