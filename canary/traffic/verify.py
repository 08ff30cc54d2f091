"""The ``verify`` run and its verdicts: send each route's requests, then judge each route.

A route holds when its answers name a version, the split of versions is consistent with the
expected one (``stats.check_split``), and no more than ``max_error_rate`` of its requests
failed. Errors are judged apart from the split because they mean something else: the split
says where the mesh sends requests, the errors say whether what it sends them to works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from canary.traffic.client import Target
from canary.traffic.expected import Route
from canary.traffic.load import Settings, Tally, run_load
from canary.traffic.stats import SplitTest, check_split
from canary.traffic.versions import VersionReader


@dataclass(frozen=True)
class Criteria:
    """What it takes for a route to hold."""

    confidence: float = 0.99
    max_error_rate: float = 0.01


@dataclass(frozen=True)
class RouteResult:
    """One route: what was sent, what came back, and whether that is what should happen."""

    route: Route
    tally: Tally
    test: SplitTest | None
    ok: bool
    problems: tuple[str, ...] = ()
    """Why the route does not hold, one line each."""

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
            "max_error_rate": self.criteria.max_error_rate,
            "routes": [result.to_json() for result in self.results],
        }


def judge(route: Route, tally: Tally, criteria: Criteria, reader: VersionReader) -> RouteResult:
    """Decide whether ``route`` holds, given what its requests got."""
    problems = []
    test = None
    if tally.answered == 0:
        problems.append(f"no answer named a version (looked for {reader.description})")
    else:
        test = check_split(route.split, tally.counts, criteria.confidence)
        if test.unexpected:
            for version, n in test.unexpected.items():
                problems.append(f"{version} answered {n} time(s) but should get none")
        elif not test.consistent:
            alpha = 1 - criteria.confidence
            problems.append(f"split differs from the expected one (p = {test.p_value:.2g} < {alpha:.2g})")
    if tally.total and tally.failed / tally.total > criteria.max_error_rate:
        worst, n = max(tally.errors.items(), key=lambda item: item[1])
        problems.append(
            f"{100 * tally.failed / tally.total:.1f}% of requests failed, most as {worst} ({n});"
            f" at most {100 * criteria.max_error_rate:g}% may"
        )
    return RouteResult(route=route, tally=tally, test=test, ok=not problems, problems=tuple(problems))


def request_shapes(target: Target, routes: Sequence[Route], user_agent: str) -> list[list[bytes]]:
    """The prebuilt request bytes of each route, one per variant."""
    common = [("User-Agent", user_agent), ("Accept", "*/*")]
    return [[target.request(common + variant) for variant in route.header_variants()] for route in routes]


async def run_verify(
    target: Target,
    routes: Sequence[Route],
    tallies: Sequence[Tally],
    reader: VersionReader,
    settings: Settings,
    requests: int,
    criteria: Criteria,
) -> Verification:
    """Send ``requests`` of each route (interleaved) and judge them; ``tallies`` fill as it goes,
    so a caller can show progress."""
    shapes = request_shapes(target, routes, "canary-verify")
    seconds = await run_load(target, shapes, tallies, reader, settings, total=requests * len(routes))
    results = tuple(judge(route, tally, criteria, reader) for route, tally in zip(routes, tallies, strict=True))
    return Verification(results=results, seconds=seconds, criteria=criteria)
