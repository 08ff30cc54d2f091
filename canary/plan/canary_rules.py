"""The canary's rules: which requests go to which version, whichever API spells them.

`Canary` and `Sticky` say who gets the canary; `rules` turns them into an ordered list of rules.

The first rule whose match holds takes a request (no match: every request). The Istio
VirtualService and the Gateway API HTTPRoute are two spellings of the same list, so a feature is
decided once, here, and only translated there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from canary.plan.rules import checks


@dataclass(frozen=True)
class Sticky:
    """Pin each client of the weighted route to the version that first answered it, by a cookie."""

    cookie: str
    """The cookie's name; its value names the version (`<cookie>=<version>`). Required."""
    max_age: int = 86400
    """Seconds the browser keeps the cookie (1 to 31536000, a year). Default: `86400`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "cookie": checks.cookie_name,
        "max_age": checks.cookie_max_age,
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)


@dataclass(frozen=True)
class Canary:
    """Which requests the canary version receives."""

    version: str
    """The canary version: one of the release's versions, not the stable one. Required."""
    cookie: str | None = None
    """`name=value`: requests carrying this cookie, wherever it sits in the Cookie header. Default: `None`."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Requests carrying all of these headers with exactly these values (names lower-case). Default: `{}`."""
    weight: int = 0
    """Percent (0-100) of the requests that `cookie` and `headers` do not select that go to `version`. Default: `0`."""
    sticky: Sticky | None = None
    """While 0 < weight < 100, keep each client of the weighted route on one version. Default: `None`."""
    mirror: float = 0.0
    """Percent (0-100, decimals allowed) of the requests the default route serves that are also sent to `version`,
    whose answers are discarded: real load before any weight. `0` means none. Default: `0.0`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "version": checks.version_name,
        "cookie": checks.optional(checks.cookie_pair),
        # No headers means none; an empty value would match only an empty header.
        "headers": checks.Entries(key=checks.header_name, value=checks.header_value),
        "weight": checks.percent,
        "sticky": checks.optional_instance(Sticky, "Sticky"),
        "mirror": checks.mirror_percent,
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)
        if self.sticky is not None:
            cookie = self.sticky.cookie
            checks.refuse(self, "sticky.cookie", cookie, checks.sticky_like_cookie(cookie, self.cookie))


@dataclass(frozen=True)
class Match:
    """A kind of request: carrying a cookie (`name=value`, anywhere in the header), and exact headers."""

    cookie: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    name: str
    matches: tuple[Match, ...]
    """Alternatives: a request that holds any of them; none means every request."""
    split: dict[str, int]
    """Percent per version; a version with 0 is left out, and a lone version carries no weight."""
    sticky: Sticky | None = None
    """Each answer sets this cookie to the version that answered."""
    mirror: tuple[str, float] | None = None
    """(version, percent): that share of the rule's requests is also sent there, answers discarded."""


def rules(stable: str, canary: Canary | None) -> list[Rule]:
    if canary is None:
        return [Rule("default", (), {stable: 100})]
    found: list[Rule] = []
    testers = []
    if canary.cookie:
        testers.append(Match(cookie=canary.cookie))
    if canary.headers:
        testers.append(Match(headers=dict(canary.headers)))
    if testers:
        found.append(Rule("canary-testers", tuple(testers), {canary.version: 100}))
    weighted = 0 < canary.weight < 100
    sticky = canary.sticky if weighted else None
    if sticky is not None:
        # Pinned clients go back to the version that answered them first. Only while both
        # versions get plain traffic: at 0 % (a rollback) no pin to the canary may remain, and
        # at 100 % none to stable.
        for version in (canary.version, stable):
            found.append(Rule(f"sticky-{version}", (Match(cookie=f"{sticky.cookie}={version}"),), {version: 100}))
    shares = {stable: 100 - canary.weight, canary.version: canary.weight}
    mirror = (canary.version, canary.mirror) if canary.mirror > 0 and canary.weight < 100 else None
    found.append(Rule("default", (), {v: pct for v, pct in shares.items() if pct > 0}, sticky=sticky, mirror=mirror))
    return found


def request_kinds(found: list[Rule]) -> list[dict[str, Any]]:
    """The kinds of request the rules tell apart, as the routes contract's `when`: one per match,
    then a plain request."""
    kinds: list[dict[str, Any]] = []
    for rule in found:
        for match in rule.matches:
            when: dict[str, Any] = {}
            if match.cookie:
                when["cookie"] = match.cookie
            if match.headers:
                when["headers"] = dict(match.headers)
            if when not in kinds:
                kinds.append(when)
    return [*kinds, {}]


def unreachable_canary(canary: Canary | None, routed: list[str]) -> str | None:
    """A warning when the canary gets no request at all, neither routed nor mirrored; else None."""
    if canary is None or canary.version in routed or canary.mirror > 0:
        return None
    return (
        f"canary {canary.version} receives no traffic: it has no cookie, no headers, weight 0 and no mirror; "
        "give it canary.headers (or a cookie) to keep it reachable for testers"
    )


def set_cookie(sticky: Sticky, version: str, secure: bool) -> str:
    """The Set-Cookie value pinning a client to `version`."""
    value = f"{sticky.cookie}={version}; Max-Age={sticky.max_age}; Path=/; HttpOnly; SameSite=Lax"
    return value + "; Secure" if secure else value
