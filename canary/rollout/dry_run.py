"""What `canary rollout --dry-run` shows: the plan of a rollout, as data and as lines, changing nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canary.config import StackSettings
from canary.config import steps as steps_module
from canary.config.metrics import MetricSettings
from canary.config.prometheus_auth import PrometheusAuthSettings
from canary.config.to_args import RELEASE_NAME, release_args
from canary.plan.backend import Collector
from canary.plan.release import plan_canary_release
from canary.policy import Policy
from canary.rollout.gates import requests_to_see_a_missing_version, split_alpha, split_tests
from canary.router.contract import Route, parse_routes
from canary.support.redact import redact_url
from canary.support.visible_text import say


def routes_at(settings: StackSettings, weight: int) -> tuple[Route, ...]:
    """The routes the stack's outputs will hold with the canary at `weight`: what the split gate
    verifies after that step's update, planned as `render` plans them."""
    assert settings.canary is not None
    at_weight = settings.model_copy(update={"canary": settings.canary.model_copy(update={"weight": weight})})
    release = plan_canary_release(Collector(), RELEASE_NAME, release_args(at_weight))
    return parse_routes(release.outputs["routes"], f"the routes at {weight}%")


def split_requests(settings: StackSettings, policy: Policy) -> dict[int, int]:
    """Requests per route the split gate will send at each step left, as the real run sizes them
    (`--requests` is the floor; a low weight needs more to see a canary that gets none)."""
    steps = policy.remaining(settings.weight)
    if settings.canary is None or not steps:
        return {}
    routes = {weight: routes_at(settings, weight) for weight in steps}
    tests = split_tests(len(steps), len(routes[steps[0]]), len(settings.versions))
    alpha = split_alpha(policy, tests)
    tolerance = policy.limits.split_tolerance
    return {
        weight: max(policy.verify_requests, requests_to_see_a_missing_version(found, tolerance, alpha))
        for weight, found in routes.items()
    }


def plan_document(stack: str, settings: StackSettings, policy: Policy, promote: bool, retire: bool) -> dict[str, Any]:
    """What a rollout would do, as data: the dry run prints it."""
    canary = settings.canary
    limits = policy.limits
    requests = split_requests(settings, policy)
    return {
        "stack": stack,
        "canary": canary.version if canary else None,
        "stable": settings.stable_version,
        "weight": settings.weight,
        "steps": list(policy.remaining(settings.weight)) if canary else [],
        "sequence": steps_module.describe(steps_module.Steps(policy.steps, policy.pauses), settings.weight)
        if canary
        else [],
        "step_seconds": policy.step_seconds,
        "gates": {
            "split": {
                "requests_per_route": {str(weight): n for weight, n in requests.items()},
                "tolerance_points": limits.split_tolerance,
            },
            "health": {
                "prometheus": redact_url(policy.prometheus),
                "prometheus_auth": auth_summary(settings.rollout.prometheus_auth),
                "metrics": [metric_summary(metric) for metric in settings.rollout.metrics],
                "max_error_rate": limits.max_error_rate,
                "max_p99_ms": limits.max_p99_ms,
                "max_p99_ratio": limits.max_p99_ratio,
                "alpha": limits.alpha,
                "analysis_seconds": policy.analysis_seconds,
                "min_requests": policy.min_requests,
                "hold_seconds": policy.hold_seconds,
            }
            if policy.prometheus
            else None,
            "webhook": redact_url(policy.webhook) if policy.webhook else None,
            "confirm": redact_url(policy.confirm) if policy.confirm else None,
        },
        "notify": len(policy.notify),
        "then": (["promote"] if promote or retire else []) + (["retire " + settings.stable_version] if retire else []),
    }


def auth_summary(auth: PrometheusAuthSettings) -> str:
    """Where the credentials come from, never what they are."""
    parts = []
    if auth.bearer_token_env:
        parts.append(f"bearer token from ${auth.bearer_token_env}")
    if auth.bearer_token_file:
        parts.append(f"bearer token from {auth.bearer_token_file}")
    if auth.basic_auth is not None:
        basic = auth.basic_auth
        where = f"${basic.password_env}" if basic.password_env else f"secret {basic.password_secret}"
        parts.append(f"basic auth as {basic.username}, password from {where}")
    if auth.headers:
        parts.append("headers " + ", ".join(sorted(auth.headers)))
    if auth.ca_file:
        parts.append(f"CA bundle {auth.ca_file}")
    return "; ".join(parts) or "none"


def metric_summary(metric: MetricSettings) -> dict[str, Any]:
    """One of `rollout.metrics` as the plan shows it."""
    if metric.kind == "ratio":
        rule = f"canary's ({metric.bad}) / ({metric.total}) not above stable's, anytime-valid"
    else:
        bounds = " and ".join(
            text
            for text in (
                f"at least {metric.min:g}" if metric.min is not None else "",
                f"at most {metric.max:g}" if metric.max is not None else "",
            )
            if text
        )
        rule = (
            f"{metric.query} {bounds}; fails after {metric.consecutive_failures} consecutive bad polls "
            "(not alpha-bounded)"
        )
    return {"name": metric.name, "kind": metric.kind, "rule": rule}


def requests_per_step(per_step: Mapping[str, int]) -> str:
    """`318 requests per route at 5%, 200 at 10%, 25%`: each number once, for the steps in a row that share it."""
    parts: list[str] = []
    previous = None
    for weight, n in per_step.items():
        if n == previous:
            parts.append(f"{weight}%")
        else:
            parts.append(f"{n} at {weight}%" if parts else f"{n} requests per route at {weight}%")
        previous = n
    return ", ".join(parts) or "no step left"


def print_plan(document: dict[str, Any]) -> None:
    lines = [
        f"stack {document['stack']}: canary {document['canary']} at {document['weight']}%, stable {document['stable']}"
    ]
    lines.append(f"steps: {', '.join(document['sequence']) or 'none left'}, each watched {document['step_seconds']:g}s")
    gates = document["gates"]
    split = gates["split"]
    lines.append(
        f"gate split: verify, {requests_per_step(split['requests_per_route'])}, "
        f"within {split['tolerance_points']:g} points"
    )
    health = gates["health"]
    if health:
        lines.append(
            f"gate health: {health['prometheus']}, polled every {health['analysis_seconds']:g}s: canary 5xx at most "
            f"{health['max_error_rate']:g}% and not above stable's; p99 at most {health['max_p99_ms']:g} ms and "
            f"{health['max_p99_ratio']:g} times stable's; false-rollback chance {health['alpha']:g} for the whole "
            f"release; at least {health['min_requests']} canary requests per step; a step held (thin evidence, "
            "both versions failing alike, a threshold metric out of bounds) at most "
            f"{health['hold_seconds']:g}s longer, then the rollout stops, held"
        )
        lines.append(f"  Prometheus auth: {health['prometheus_auth']}")
        for metric in health["metrics"]:
            lines.append(f"  metric {metric['name']} ({metric['kind']}): {metric['rule']}")
    else:
        lines.append("gate health: off (no --prometheus or rollout.prometheus)")
    lines.append(f"gate webhook: {gates['webhook'] or 'off'}")
    lines.append(f"confirm: {gates['confirm'] + ' (holds until 2xx)' if gates['confirm'] else 'off'}")
    if document["notify"]:
        lines.append(f"notify: every event to {document['notify']} Apprise URL(s)")
    lines.append("then: " + (", ".join(document["then"]) or "stop at the last step"))
    lines.append(
        "on a failed gate: canary.weight 0 in one update (cookie and header testers keep the canary); "
        "held past the hold limit: the weight stays, exit 3"
    )
    say("\n".join(lines))
