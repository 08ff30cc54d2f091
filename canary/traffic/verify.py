"""The ``verify`` run and its verdicts: send each route's requests, then judge each route.

A route holds when its answers name a version, the split of versions is consistent with the
expected one (``stats.check_split``), and no more than ``max_error_rate`` of its requests
failed. With a sticky cookie, the weighted plain route must also keep its clients on one version
(``canary.traffic.sticky``). Errors are judged apart from the split because they mean something else: the split
says where the mesh sends requests, the errors say whether what it sends them to works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from canary.traffic.client import Endpoint
from canary.traffic.expected import Route
from canary.traffic.load import Inspector, Settings, Tally, run_load
from canary.traffic.stats import SplitTest, check_split, check_split_within
from canary.traffic.sticky import CookieTally, StickyResult, clients_needed, run_clients
from canary.traffic.versions import VersionReader


@dataclass(frozen=True)
class Criteria:
    """What it takes for a route to hold."""

    confidence: float = 0.99
    max_error_rate: float = 0.01
    tolerance: float | None = None
    """Points by which a version's share may differ from its weight (``check_split_within``);
    None tests the split itself (``check_split``), as ``canary verify`` does."""


@dataclass(frozen=True)
class Stickiness:
    """The sticky cookie to check on the weighted plain route, and how many clients keep it."""

    cookie: str
    clients: int = 100
    requests_each: int = 5


@dataclass(frozen=True)
class RouteResult:
    """One route: what was sent, what came back, and whether that is what should happen."""

    route: Route
    tally: Tally
    test: SplitTest | None
    ok: bool
    problems: tuple[str, ...] = ()
    """Why the route does not hold, one line each."""
    sticky: StickyResult | None = None
    """The sticky checks, on the weighted plain route when the stack has a sticky cookie."""

    @property
    def counts(self) -> dict[str, int]:
        """Answers per version: expected versions first (0 when none came), then the rest."""
        counts = {version: self.tally.counts.get(version, 0) for version in self.route.split}
        for version, n in sorted(self.tally.counts.items()):
            counts.setdefault(version, n)
        return counts

    @property
    def split(self) -> dict[str, float]:
        """Share of the answers per version, in percent."""
        answered = self.tally.answered
        return {v: round(100 * n / answered, 2) if answered else 0.0 for v, n in self.counts.items()}

    @property
    def latency_ms(self) -> dict[str, float | None]:
        samples = self.tally.latencies
        if not len(samples):
            return {"p50": None, "p90": None, "p99": None}
        p50, p90, p99 = np.percentile(np.asarray(samples) * 1000, [50, 90, 99])
        return {"p50": round(p50, 2), "p90": round(p90, 2), "p99": round(p99, 2)}

    def to_json(self) -> dict[str, Any]:
        return {
            "when": dict(self.route.when),
            "expected": dict(self.route.split),
            "requests": self.tally.total,
            "counts": self.counts,
            "split": self.split,
            "ok": self.ok,
            "p_value": self.test.p_value if self.test else None,
            "method": self.test.method if self.test else None,
            "needed": self.test.needed if self.test else None,
            "errors": dict(sorted(self.tally.errors.items())),
            "latency_ms": self.latency_ms,
            "problems": list(self.problems),
            "sticky": self.sticky.to_json() if self.sticky else None,
        }


@dataclass(frozen=True)
class Verification:
    """The whole run."""

    results: tuple[RouteResult, ...]
    seconds: float
    criteria: Criteria = field(default_factory=Criteria)

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def rps(self) -> float:
        sent = sum(result.tally.total for result in self.results)
        return sent / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rps": round(self.rps, 1),
            "seconds": round(self.seconds, 3),
            "confidence": self.criteria.confidence,
            # In percent, as `--max-error-rate` takes it (and `canary rollout` reports it).
            "max_error_rate": round(100 * self.criteria.max_error_rate, 6),
            "routes": [result.to_json() for result in self.results],
        }


def judge(
    route: Route, tally: Tally, criteria: Criteria, reader: VersionReader, sticky: StickyResult | None = None
) -> RouteResult:
    """Decide whether ``route`` holds, given what its requests got (and its sticky checks)."""
    problems = []
    test = None
    if tally.answered == 0:
        problems.append(f"no answer named a version (looked for {reader.description})")
    else:
        alpha = 1 - criteria.confidence
        if criteria.tolerance is None:
            test = check_split(route.split, tally.counts, criteria.confidence)
        else:
            test = check_split_within(route.split, tally.counts, criteria.tolerance, alpha)
        if test.unexpected:
            for version, n in test.unexpected.items():
                problems.append(f"{version} answered {n} time(s) but should get none")
        elif not test.consistent and criteria.tolerance is not None:
            shares = ", ".join(f"{v} {100 * n / tally.answered:.1f}%" for v, n in sorted(tally.counts.items()))
            problems.append(
                f"split differs from the expected one by more than {criteria.tolerance:g} points: {shares} of "
                f"{tally.answered} (p = {test.p_value:.2g} < {alpha:.2g})"
            )
        elif not test.consistent:
            problems.append(f"split differs from the expected one (p = {test.p_value:.2g} < {alpha:.2g})")
    if tally.total and tally.failed / tally.total > criteria.max_error_rate:
        worst, n = max(tally.errors.items(), key=lambda item: item[1])
        problems.append(
            f"{100 * tally.failed / tally.total:.1f}% of requests failed, most as {worst} ({n});"
            f" at most {100 * criteria.max_error_rate:g}% may"
        )
    if sticky is not None:
        problems += sticky.problems
    return RouteResult(route=route, tally=tally, test=test, ok=not problems, problems=tuple(problems), sticky=sticky)


def request_bytes(target: Endpoint, routes: Sequence[Route], user_agent: str) -> list[list[bytes]]:
    """The prebuilt request bytes of each route, one per variant."""
    common = [("User-Agent", user_agent), ("Accept", "*/*")]
    return [[target.request(common + variant) for variant in route.header_variants()] for route in routes]


def weighted_route(routes: Sequence[Route]) -> int | None:
    """The index of the plain route that splits between versions: the one a sticky cookie pins."""
    for index, route in enumerate(routes):
        plain = route.cookie is None and not route.headers
        if plain and sum(1 for percent in route.split.values() if percent > 0) > 1:
            return index
    return None


async def run_verify(
    target: Endpoint,
    routes: Sequence[Route],
    tallies: Sequence[Tally],
    reader: VersionReader,
    settings: Settings,
    requests: int,
    criteria: Criteria,
    stickiness: Stickiness | None = None,
) -> Verification:
    """Send ``requests`` of each route (interleaved) and judge them; ``tallies`` fill as it goes,
    so a caller can show progress. With ``stickiness``, the weighted plain route's answers must set
    the cookie, and clients keeping it must stay on one version (checked after the main run, so
    its pace and figures are those of a run without)."""
    route_requests = request_bytes(target, routes, "canary-verify")
    weighted = weighted_route(routes) if stickiness is not None else None
    cookies = CookieTally(stickiness.cookie) if stickiness is not None and weighted is not None else None
    inspectors: list[Inspector | None] = [cookies if index == weighted else None for index in range(len(routes))]
    seconds = await run_load(target, route_requests, tallies, reader, settings, requests * len(routes), inspectors)
    sticky = None
    if stickiness is not None and weighted is not None and cookies is not None:
        outcome = await run_clients(
            target, reader, settings, stickiness.cookie, stickiness.clients, stickiness.requests_each
        )
        needed = clients_needed(
            routes[weighted].split, stickiness.requests_each, stickiness.clients, criteria.confidence
        )
        sticky = StickyResult(cookies=cookies, clients=outcome, clients_needed=needed)
    results = tuple(
        judge(route, tally, criteria, reader, sticky if index == weighted else None)
        for index, (route, tally) in enumerate(zip(routes, tallies, strict=True))
    )
    return Verification(results=results, seconds=seconds, criteria=criteria)
