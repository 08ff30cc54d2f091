"""The gates a step must pass besides the health analysis (`watch`): the split is real, the
webhook agrees.

Each gate answers a `GateResult` with the figures it judged on, so a failure names the gate,
the figures and the threshold. A gate that cannot get its evidence fails (fail closed).
"""

from __future__ import annotations

import asyncio
import json
import math
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from canary.rollout.policy import Policy
from canary.rollout.url_credentials import basic_authorization, without_userinfo
from canary.rollout.watch import Sent
from canary.support.redact import redact_text, redact_url

if TYPE_CHECKING:
    from canary.router.contract import Route
    from canary.traffic.verify import RouteResult

SPLIT_ALPHA_SHARE = 5
"""Without metrics of the team's own, the split gate's share of the rollout's alpha is 1/5 (the
analysis' four tests have the rest)."""


def alpha_shares(ratio_metrics: int) -> int:
    """The equal shares the rollout's alpha is split into: the analysis' four tests, the split
    gate, and one for each ratio metric of `rollout.metrics` (a union bound over all of them)."""
    return SPLIT_ALPHA_SHARE + ratio_metrics


@dataclass(frozen=True)
class GateResult:
    gate: str
    ok: bool
    problems: tuple[str, ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)
    sent: Mapping[str, Sent] = field(default_factory=dict)
    """The gate's own requests per version that reached it (the split gate's), for the analysis
    to take back out of the mesh's counts."""

    def to_json(self) -> dict[str, Any]:
        return {"gate": self.gate, "ok": self.ok, "problems": list(self.problems), "figures": self.figures}


@dataclass(frozen=True)
class EntryPoint:
    """Where the split gate sends its requests: the stack's URL, or a load balancer's with a Host."""

    url: str | None = None
    host: str | None = None
    insecure: bool = False


def split_tests(steps: int, routes: int, versions: int) -> int:
    """How many split tests a rollout runs: one per version of every route at every step."""
    return max(steps * routes * versions, 1)


def split_alpha(policy: Policy, tests: int, shares: int = SPLIT_ALPHA_SHARE) -> float:
    """Each split test's alpha: the gate's share of the rollout's, divided over all its tests
    (Bonferroni), so that a correctly routed rollout fails the split gate with at most that."""
    return policy.limits.alpha / shares / tests


def sent_per_version(routes: Sequence[RouteResult]) -> dict[str, Sent]:
    """Requests of the split gate per version: answers that named it, 5xx included (the mesh
    names the version on an upstream's 5xx too), and a route's 5xx that named none when only one
    version serves that route. A 5xx that named no version on a split route (a gateway's own 503)
    cannot be given to either; it stays in the mesh's counts as the mesh reported it."""
    sent: dict[str, Sent] = {}

    def add(version: str, more: Sent) -> None:
        sent[version] = sent.get(version, Sent()) + more

    for result in routes:
        tally = result.tally
        for version, n in tally.counts.items():
            add(version, Sent(requests=n))
        for version, n in tally.failed_versions.items():
            add(version, Sent(requests=n, errors=n))
        nameless = tally.errors.get("http_5xx", 0) - sum(tally.failed_versions.values())
        served = [version for version, percent in result.route.split.items() if percent > 0]
        if len(served) == 1 and nameless > 0:
            add(served[0], Sent(requests=nameless, errors=nameless))
    return sent


def requests_to_see_a_missing_version(routes: Sequence[Route], tolerance: float, alpha: float) -> int:
    """Requests per route that make a version receiving none of them fail its test: the least n
    with 2 (1 - (w - tolerance)/100)^n < alpha (the test doubles its one-sided p-value) for the
    smallest weight w above the tolerance. With fewer, a canary that gets no traffic at all could
    pass a 5 % step (2 * 0.97^200 = 0.0045)."""
    needed = 0
    for route in routes:
        for percent in route.split.values():
            share = (percent - tolerance) / 100
            if 0 < share < 1:
                needed = max(needed, math.floor(math.log(alpha / 2) / math.log1p(-share)) + 1)
    return needed


def split_gate(outputs: Mapping[str, Any], target: EntryPoint, policy: Policy, alpha: float) -> GateResult:
    """`verify` against the live URL: every route's answers split as the stack's routes say, each
    version's share within `limits.split_tolerance` points of its weight, each test at `alpha`.

    With the health analysis on, errors are its to judge; without it, the answers' own error rate
    is held to the same limit here.
    """
    from canary.traffic import client
    from canary.traffic.expected import ExpectationError, from_outputs
    from canary.traffic.load import Settings, Tally
    from canary.traffic.verify import Criteria, run_verify
    from canary.traffic.versions import DEFAULT_HEADER, VersionReader

    try:
        expectation = from_outputs(dict(outputs), "the stack's outputs")
    except ExpectationError as err:
        return GateResult("split", False, (str(err),))
    url = target.url or (expectation.urls[0] if expectation.urls else None)
    if url is None:
        return GateResult("split", False, ("the stack names no URL to verify; pass --url",))
    header = expectation.version_header
    if header is None:
        return GateResult("split", False, ("the stack's version header is off (routing.versionHeader)",))
    reader = VersionReader(header=header if header != "unset" else DEFAULT_HEADER)
    routes = expectation.routes
    tallies = [Tally() for _ in routes]
    error_limit = 1.0 if policy.prometheus else policy.limits.max_error_rate / 100
    criteria = Criteria(confidence=1 - alpha, max_error_rate=error_limit, tolerance=policy.limits.split_tolerance)
    try:
        endpoint = client.Endpoint.from_url(url, host=target.host, insecure=target.insecure)
    except ValueError as err:
        return GateResult("split", False, (f"URL {redact_url(url)}: {redact_text(str(err))}",))
    tolerance = policy.limits.split_tolerance
    requests = max(policy.verify_requests, requests_to_see_a_missing_version(routes, tolerance, alpha))
    verification = asyncio.run(
        run_verify(endpoint, routes, tallies, reader, Settings(concurrency=8), requests, criteria)
    )
    problems = tuple(
        f"{result.route.label}: {problem}" for result in verification.results for problem in result.problems
    )
    if not any(tally.reached for tally in tallies):
        problems = (f"no request got an HTTP answer from {redact_url(url)}", *problems)
    figures = {
        "url": redact_url(url),
        "alpha": alpha,
        "tolerance_points": tolerance,
        "requests_per_route": requests,
        "routes": [
            {"when": dict(r.route.when), "expected": dict(r.route.split), "counts": r.counts, "requests": r.tally.total}
            for r in verification.results
        ],
    }
    sent = sent_per_version(verification.results)
    return GateResult("split", not problems, problems, figures, sent)


def webhook_gate(url: str | None, payload: Mapping[str, Any], timeout: float = 10.0) -> GateResult:
    """POST the step's figures; anything but a 2xx answer fails the step. A `user:password@` in
    `url` is sent as basic auth."""
    if not url:
        return GateResult("webhook", True, (), {"off": "no webhook (--webhook or rollout.webhook)"})
    headers = {"Content-Type": "application/json"}
    if basic := basic_authorization(url):
        headers["Authorization"] = basic
    request = urllib.request.Request(
        without_userinfo(url), data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    except (urllib.error.URLError, OSError) as err:
        reason = redact_text(str(getattr(err, "reason", err)))
        return GateResult("webhook", False, (f"webhook {redact_url(url)} is unreachable: {reason}",))
    if not 200 <= status < 300:
        return GateResult("webhook", False, (f"webhook {redact_url(url)} answered {status}",), {"status": status})
    return GateResult("webhook", True, (), {"status": status})
