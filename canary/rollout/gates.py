"""The three gates a step must pass: the split is real, the canary is healthy, the webhook agrees.

Each gate answers a `GateResult` with the figures it judged on, so a failure names the gate,
the figures and the threshold. A gate that cannot get its evidence fails (fail closed).
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from canary.rollout.health import judge_health
from canary.rollout.policy import Policy
from canary.rollout.prometheus import PrometheusError, queries, version_figures


@dataclass(frozen=True)
class GateResult:
    gate: str
    ok: bool
    problems: tuple[str, ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"gate": self.gate, "ok": self.ok, "problems": list(self.problems), "figures": self.figures}


@dataclass(frozen=True)
class Target:
    """Where the split gate sends its requests: the stack's URL, or a load balancer's with a Host."""

    url: str | None = None
    host: str | None = None
    insecure: bool = False


def split_gate(outputs: Mapping[str, Any], target: Target, policy: Policy) -> GateResult:
    """`verify` against the live URL: every route's answers split as the stack's routes say.

    With the health gate on, errors are its to judge; without it, the answers' own error rate is
    held to the same limit here.
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
    criteria = Criteria(confidence=1 - policy.limits.alpha, max_error_rate=error_limit)
    try:
        endpoint = client.Target.from_url(url, host=target.host, insecure=target.insecure)
    except ValueError as err:
        return GateResult("split", False, (f"URL {url}: {err}",))
    verification = asyncio.run(
        run_verify(endpoint, routes, tallies, reader, Settings(concurrency=8), policy.verify_requests, criteria)
    )
    problems = tuple(
        f"{result.route.label}: {problem}" for result in verification.results for problem in result.problems
    )
    if not any(tally.reached for tally in tallies):
        problems = (f"no request got an HTTP answer from {url}", *problems)
    figures = {
        "url": url,
        "routes": [
            {"when": dict(r.route.when), "expected": dict(r.route.split), "counts": r.counts, "requests": r.tally.total}
            for r in verification.results
        ],
    }
    return GateResult("split", not problems, problems, figures)


def health_gate(
    policy: Policy, namespace: str, app: str, stable: str, canary: str, window_seconds: float
) -> GateResult:
    """Prometheus' figures for canary and stable over the step, judged by `judge_health`."""
    if not policy.prometheus:
        return GateResult("health", True, (), {"off": "no Prometheus URL (--prometheus or rollout.prometheus)"})
    window = max(int(window_seconds), 1)
    try:
        figures = version_figures(policy.prometheus, namespace, app, [stable, canary], window)
    except PrometheusError as err:
        return GateResult("health", False, (f"{err}: failing closed",), {"prometheus": policy.prometheus})
    canary_figures = figures[canary]
    if canary_figures.requests <= 0:
        query = queries(namespace, app, [stable, canary], window)["requests"]
        return GateResult(
            "health",
            False,
            (f"Prometheus has no requests of canary {canary} over the last {window}s: failing closed",),
            {"prometheus": policy.prometheus, "query": query},
        )
    verdict = judge_health(canary_figures, figures[stable], policy.limits)
    return GateResult("health", verdict.ok, verdict.problems, {"window_seconds": window, **verdict.figures})


def webhook_gate(url: str | None, payload: Mapping[str, Any], timeout: float = 10.0) -> GateResult:
    """POST the step's figures; anything but a 2xx answer fails the step."""
    if not url:
        return GateResult("webhook", True, (), {"off": "no webhook (--webhook or rollout.webhook)"})
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    except (urllib.error.URLError, OSError) as err:
        return GateResult("webhook", False, (f"webhook {url} is unreachable: {getattr(err, 'reason', err)}",))
    if not 200 <= status < 300:
        return GateResult("webhook", False, (f"webhook {url} answered {status}",), {"status": status})
    return GateResult("webhook", True, (), {"status": status})
