"""The health gate: is the canary as healthy as stable, measured over the same window?

Absolute limits catch a canary that is plainly broken; the comparison with stable catches one
that is worse than what it replaces even while under the limits. Error rates are compared with a
one-sided two-proportion z-test (pooled), latency by the ratio of the p99s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from canary.policy import Limits


@dataclass(frozen=True)
class VersionFigures:
    """One version's traffic over the step, as the mesh reported it."""

    requests: float
    errors: float
    """Requests answered with a 5xx."""
    p99_ms: float | None

    @property
    def error_rate(self) -> float:
        """Percent of requests answered with a 5xx."""
        return 100 * self.errors / self.requests if self.requests > 0 else 0.0


@dataclass(frozen=True)
class Verdict:
    ok: bool
    problems: tuple[str, ...]
    figures: dict[str, Any]


def one_sided_p_value(
    canary_errors: float, canary_requests: float, stable_errors: float, stable_requests: float
) -> float:
    """P(a canary error share at least this much above stable's | both share one error rate).

    The pooled two-proportion z-test: under the null hypothesis both versions fail with the
    pooled rate p, and the difference of the shares is normal with variance p(1-p)(1/n1 + 1/n2).
    """
    if canary_requests <= 0 or stable_requests <= 0:
        raise ValueError("both versions need requests to be compared")
    pooled = (canary_errors + stable_errors) / (canary_requests + stable_requests)
    variance = pooled * (1 - pooled) * (1 / canary_requests + 1 / stable_requests)
    difference = canary_errors / canary_requests - stable_errors / stable_requests
    if variance == 0:
        # No errors at all, or nothing but errors on both sides: nothing tells them apart.
        return 1.0 if difference <= 0 else 0.0
    z = difference / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def judge_health(canary: VersionFigures, stable: VersionFigures | None, limits: Limits) -> Verdict:
    """Whether the canary passes; every problem names its figure and the threshold it broke."""
    problems = []
    figures: dict[str, Any] = {
        "canary": {
            "requests": round(canary.requests, 1),
            "error_rate": round(canary.error_rate, 3),
            "p99_ms": canary.p99_ms,
        },
        "stable": None,
    }
    if canary.error_rate > limits.max_error_rate:
        problems.append(f"canary error rate {canary.error_rate:.2f}% is above the limit {limits.max_error_rate:g}%")
    if canary.p99_ms is not None and canary.p99_ms > limits.max_p99_ms:
        problems.append(f"canary p99 {canary.p99_ms:.0f} ms is above the limit {limits.max_p99_ms:g} ms")
    if stable is not None and stable.requests > 0:
        figures["stable"] = {
            "requests": round(stable.requests, 1),
            "error_rate": round(stable.error_rate, 3),
            "p99_ms": stable.p99_ms,
        }
        p_value = one_sided_p_value(canary.errors, canary.requests, stable.errors, stable.requests)
        figures["error_rate_p_value"] = p_value
        alpha = limits.alpha
        if p_value < alpha:
            problems.append(
                f"canary error rate {canary.error_rate:.2f}% is significantly above stable's "
                f"{stable.error_rate:.2f}% (p = {p_value:.2g} < {alpha:.2g})"
            )
        if canary.p99_ms is not None and stable.p99_ms is not None and stable.p99_ms > 0:
            ratio = canary.p99_ms / stable.p99_ms
            figures["p99_ratio"] = round(ratio, 2)
            if ratio > limits.max_p99_ratio and canary.p99_ms - stable.p99_ms >= limits.min_p99_gap_ms:
                problems.append(
                    f"canary p99 {canary.p99_ms:.0f} ms is {ratio:.1f} times stable's {stable.p99_ms:.0f} ms "
                    f"(at most {limits.max_p99_ratio:g} times)"
                )
    return Verdict(ok=not problems, problems=tuple(problems), figures=figures)
