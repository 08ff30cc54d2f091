"""What the routing is supposed to do: the routes, read from a stack or a file, checked.

A route is a request shape (plain, a cookie, headers) and the split of versions it should
reach, exactly as the stack's ``routes`` output states it:
``{"when": {"cookie": "version=v2"}, "split": {"v2": 100}}``. Bad input is reported as one
``ExpectationError`` line naming where the problem is.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""RFC 9110 token characters: what a header or cookie name may be made of."""
# Headers the request line and the engine own; a route may not set them.
_RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}
# Other cookies a browser sends, so the route's cookie is tried first, in the middle and
# last: a mesh rule that only finds it in one position is caught.
_OTHER_COOKIES = ("_ga=GA1.2.3", "theme=dark")

UNSET = "unset"
"""``Expectation.version_header`` when the source does not say (a plain routes list)."""


class ExpectationError(Exception):
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


@dataclass(frozen=True)
class Expectation:
    """The routes to check and what else the source says about the deployment."""

    routes: tuple[Route, ...]
    urls: tuple[str, ...] = ()
    version_header: str | None = UNSET
    """The header naming the version; None when the stack turned it off; UNSET if not said."""
    source: str = ""


def parse_routes(data: Any, source: str) -> tuple[Route, ...]:
    """Check a ``routes`` list and turn it into ``Route`` objects."""
    if not isinstance(data, list) or not data:
        raise ExpectationError(f"{source}: routes must be a non-empty list, got {_short(data)}")
    return tuple(_parse_route(item, f"{source}: routes[{i}]") for i, item in enumerate(data))


def _parse_route(item: Any, where: str) -> Route:
    if not isinstance(item, dict):
        raise ExpectationError(f"{where} must be an object, got {_short(item)}")
    unknown = set(item) - {"when", "split"}
    if unknown:
        raise ExpectationError(f"{where} has unknown key {sorted(unknown)[0]!r}")
    when = item.get("when", {})
    if not isinstance(when, dict):
        raise ExpectationError(f"{where}.when must be an object, got {_short(when)}")
    unknown = set(when) - {"cookie", "headers"}
    if unknown:
        raise ExpectationError(f"{where}.when has unknown key {sorted(unknown)[0]!r} (known: cookie, headers)")
    return Route(
        when=when,
        split=_parse_split(item.get("split"), f"{where}.split"),
        cookie=_parse_cookie(when["cookie"], f"{where}.when.cookie") if "cookie" in when else None,
        headers=_parse_headers(when.get("headers", {}), f"{where}.when.headers"),
    )


def _parse_split(split: Any, where: str) -> dict[str, int]:
    if not isinstance(split, dict) or not split:
        raise ExpectationError(f"{where} must be a non-empty object, got {_short(split)}")
    for version, percent in split.items():
        if not version.strip():
            raise ExpectationError(f"{where} has an empty version name")
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise ExpectationError(f"{where}.{version} must be an integer from 0 to 100, got {_short(percent)}")
    total = sum(split.values())
    if total != 100:
        raise ExpectationError(f"{where} must add up to 100, got {total}")
    return dict(split)


def _parse_cookie(cookie: Any, where: str) -> str:
    if not isinstance(cookie, str):
        raise ExpectationError(f"{where} must be a string name=value, got {_short(cookie)}")
    name, sep, value = cookie.partition("=")
    if not sep or not TOKEN.fullmatch(name) or any(c in value for c in ';,"\\ \r\n'):
        raise ExpectationError(f"{where} must look like name=value, got {cookie!r}")
    return cookie


def _parse_headers(headers: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(headers, dict):
        raise ExpectationError(f"{where} must be an object, got {_short(headers)}")
    parsed = []
    for name, value in headers.items():
        if not TOKEN.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
            raise ExpectationError(f"{where} has a header name that cannot be sent: {name!r}")
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            raise ExpectationError(f"{where}.{name} must be a one-line string, got {_short(value)}")
        parsed.append((name, value))
    return tuple(parsed)


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def from_outputs(outputs: Any, source: str) -> Expectation:
    """An ``Expectation`` from a routes list or a whole ``pulumi stack output --json`` object."""
    if isinstance(outputs, list):
        return Expectation(routes=parse_routes(outputs, source), source=source)
    if not isinstance(outputs, dict) or "routes" not in outputs:
        raise ExpectationError(
            f"{source}: expected a routes list or stack outputs with a 'routes' key, got {_short(outputs)}"
        )
    urls = outputs.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise ExpectationError(f"{source}: urls must be a list of strings, got {_short(urls)}")
    header = outputs.get("versionHeader", UNSET)
    if header is False or header is None or header == "":
        header = None
    elif header != UNSET and not (isinstance(header, str) and TOKEN.fullmatch(header)):
        raise ExpectationError(f"{source}: versionHeader must be a header name, got {_short(header)}")
    return Expectation(
        routes=parse_routes(outputs["routes"], source),
        urls=tuple(urls),
        version_header=header,
        source=source,
    )


def load_file(path: str) -> Expectation:
    """Read ``--routes FILE``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ExpectationError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExpectationError(f"{path} is not JSON: {exc}") from None
    return from_outputs(data, path)


Runner = Callable[..., subprocess.CompletedProcess[str]]


def load_stack(name: str, run: Runner = subprocess.run) -> Expectation:
    """Read the outputs of stack ``name`` with ``pulumi stack output --json``."""
    if shutil.which("pulumi") is None:
        raise ExpectationError("the Pulumi CLI (pulumi) is not on PATH: install it, or pass --routes FILE")
    command = ["pulumi", "stack", "output", "--json", "--stack", name]
    try:
        done = run(command, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        raise ExpectationError(f"`{' '.join(command)}` took over 120 s") from None
    except OSError as exc:
        raise ExpectationError(f"cannot run pulumi: {exc}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise ExpectationError(f"pulumi stack output --stack {name} failed: {reason}")
    try:
        outputs = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise ExpectationError(f"pulumi stack output --stack {name} is not JSON: {exc}") from None
    return from_outputs(outputs, f"stack {name}")
