"""The rule `canary rollout` judged a step by before the sequential analysis, kept to compare with.

The old engine (`git show fac9a67:canary/rollout/engine.py` and `gates.py`) watched a step for its
whole duration, then judged it once, on Prometheus' `increase()` over the step's window: no
canary request in the window failed closed; otherwise `judge_health` below. Absolute limits catch
a canary that is plainly broken; the comparison with stable catches one that is worse than what
it replaces even while under the limits. Error rates are compared with a one-sided
two-proportion z-test (pooled), latency by the ratio of the p99s. Its defaults then: at most 1 %
5xx, confidence 0.99 (the test fails at p < 0.01).

`benchmarks/bench_analysis.py` calls `step_fails` with a step's exact counts: the rule is measured,
not `increase()`'s extrapolation (which dropped a new series' first increment and fed the tests
non-integer counts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.simulated_traffic import Traffic
from canary.policy import Limits

# The old engine's defaults (fac9a67: max_error_rate 1 %, confidence 0.99).
OLD_LIMITS = Limits(max_error_rate=1.0, alpha=0.01)


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


def step_fails(canary_requests: int, canary_errors: int, stable_requests: int, stable_errors: int) -> bool:
    """Whether the old engine rolled back after a step with these counts (errors only, no latency)."""
    if canary_requests <= 0:
        return True  # "Prometheus has no requests of canary ...: failing closed"
    canary = VersionFigures(requests=canary_requests, errors=canary_errors, p99_ms=None)
    stable = VersionFigures(requests=stable_requests, errors=stable_errors, p99_ms=None)
    return not judge_health(canary, stable, OLD_LIMITS).ok


def rollback_seconds(traffic: Traffic, step_seconds: float) -> npt.NDArray[np.float64]:
    """Per rollout, the end of the first step the old rule failed (inf: none within this traffic).

    Steps are consecutive `step_seconds` slices of the traffic, judged on their own counts."""
    per_step = round(step_seconds / traffic.bin_seconds)
    result = np.full(traffic.rollouts, np.inf)
    counts = (traffic.canary_requests, traffic.canary_errors, traffic.stable_requests, traffic.stable_errors)
    for step in range(traffic.bins // per_step):
        window = slice(step * per_step, (step + 1) * per_step)
        sums = [part[:, window].sum(axis=1).tolist() for part in counts]
        for rollout, figures in enumerate(zip(*sums, strict=True)):
            if result[rollout] == np.inf and step_fails(*figures):
                result[rollout] = (step + 1) * step_seconds
    return result
