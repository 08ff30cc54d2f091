"""The rollout's judgement: anytime-valid sequential tests of the canary, pure (no I/O).

Each test is an e-process: a nonnegative supermartingale under its null hypothesis, starting at 1.
By Ville's inequality the chance that it ever reaches 1/alpha_j is at most alpha_j, however often
it is looked at, so the analysis may be asked at every poll of every step and still rolls back a
canary that meets its null with probability at most alpha = sum of alpha_j (a union bound).
The derivation is in docs/rollout.md.

- Error rate against stable: given the m 5xx of an interval, the canary's share of them is
  Binomial(m, q), q = pi*theta / (pi*theta + 1 - pi), pi the canary's share of the interval's
  requests and theta the ratio of error rates. H0: theta <= 1. A mixture over a grid of theta > 1.
- Absolute error limit: H0: p_canary <= max_error_rate, a binomial mixture over p above it.
- Latency limit: "p99 <= L" is "P(T > L) <= 1 %": the canary's requests above the histogram
  edge at L, tested like the absolute error limit with p0 = 1 %.
- Latency against stable: the same exceedance test at the edge of max_p99_ratio times stable's
  p99 (and at least min_p99_gap_ms above it), the edge fixed once stable has enough requests.

Counts are cumulative since the analysis began; a count that falls is a counter reset, read as
Prometheus reads one (the new value is the increase since the reset).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from canary.policy import Limits

# Ratios of error rates the error-rate mixture puts equal weight on: from a slight regression to
# a canary failing a thousand times as often as stable.
THETA_GRID = (1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0, 1000.0)
# Multiples of an absolute limit p0 the limit tests weigh (capped below 1).
LIMIT_MULTIPLES = (1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0)
P99_QUANTILE_SHARE = 0.01
# Stable requests needed before its p99 edge is fixed for the latency comparison.
STABLE_REQUESTS_FOR_P99 = 500
# exp() of more would overflow a float (a canary failing every request at 1000 req/s gets there in
# one poll): an e-value is capped near 1e304, far past any threshold 1/alpha_j, and stays finite
# for the JSON report.
LOG_E_VALUE_CAP = 700.0
TESTS = ("error rate against stable", "error rate limit", "p99 limit", "p99 against stable")


@dataclass(frozen=True)
class Counts:
    """One version's cumulative counts since the analysis began."""

    requests: int = 0
    errors: int = 0
    """Requests answered with a 5xx."""
    buckets: Mapping[float, int] = field(default_factory=dict)
    """Histogram: upper edge `le` in ms -> requests that took at most that long (+Inf left out)."""


@dataclass(frozen=True)
class TestResult:
    test: str
    e_value: float
    p_value: float
    """Always valid: min over time of 1/e."""
    threshold: float
    """1/alpha_j: the e-value at which this test rolls back."""
    alpha: float

    def to_json(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "e_value": self.e_value,
            "p_value": self.p_value,
            "threshold": self.threshold,
            "alpha": self.alpha,
        }


@dataclass(frozen=True)
class Decision:
    rollback: bool
    reasons: tuple[str, ...]
    tests: tuple[TestResult, ...]

    def to_json(self) -> dict[str, Any]:
        return {"rollback": self.rollback, "reasons": list(self.reasons), "tests": [t.to_json() for t in self.tests]}


class _Mixture:
    """sum_k w_k prod_i LR_k,i kept in log space, one accumulator per alternative."""

    def __init__(self, size: int) -> None:
        self.logs = [0.0] * size
        self.min_p = 1.0

    def add(self, log_ratios: Sequence[float]) -> None:
        self.logs = [a + b for a, b in zip(self.logs, log_ratios, strict=True)]
        self.min_p = min(self.min_p, 1 / self.e_value) if self.e_value > 0 else self.min_p

    @property
    def e_value(self) -> float:
        top = max(self.logs)
        return math.exp(min(top, LOG_E_VALUE_CAP)) * sum(math.exp(x - top) for x in self.logs) / len(self.logs)


def relative_log_ratios(share: float, canary_events: int, all_events: int) -> list[float]:
    """Log likelihood ratios, theta_k against theta = 1, of `canary_events` of `all_events`.

    Conditional on all_events, the canary's are Binomial(all_events, q(theta)); the ratio
    against q(1) = share is theta^x * (1 / (share*theta + 1 - share))^m.
    """
    if all_events == 0 or share <= 0 or share >= 1:
        return [0.0] * len(THETA_GRID)
    return [canary_events * math.log(theta) - all_events * math.log(share * theta + 1 - share) for theta in THETA_GRID]


def limit_log_ratios(p0: float, events: int, trials: int) -> list[float]:
    """Log likelihood ratios, p_j against p0, of `events` in `trials` Bernoulli trials."""
    if p0 >= 1:  # a limit of 100 % is no limit
        return [0.0] * len(LIMIT_MULTIPLES)
    grid = [min(p0 * k, 1 - (1 - p0) / 1000) for k in LIMIT_MULTIPLES]
    return [
        events * math.log(p / p0) + (trials - events) * math.log((1 - p) / (1 - p0)) if trials else 0.0 for p in grid
    ]


def above(counts: Counts, edge: float) -> int:
    """Requests that took longer than `edge` (which must be one of the histogram's edges)."""
    return counts.requests - counts.buckets.get(edge, counts.requests)


def edge_at_or_above(buckets: Mapping[float, int], ms: float) -> float | None:
    """The smallest histogram edge >= ms: requests above it surely took longer than ms."""
    edges = sorted(edge for edge in buckets if edge >= ms)
    return edges[0] if edges else None


def quantile_edge(counts: Counts, share_above: float) -> float | None:
    """The smallest edge with at most `share_above` of the requests above it."""
    for edge in sorted(counts.buckets):
        if above(counts, edge) <= share_above * counts.requests:
            return edge
    return None


def _delta(new: int, old: int) -> int:
    # A cumulative count that fell was reset: Prometheus reads the new value as the increase.
    return new if new < old else new - old


class SequentialAnalysis:
    """Watches one rollout; `observe` after each poll with the cumulative counts."""

    def __init__(self, limits: Limits | None = None, *, alpha_shares: int = 5) -> None:
        """`alpha_shares`: the rollout's alpha is split in this many equal shares, one per test
        here and one for the split gate (which is not judged here)."""
        self.limits = limits or Limits()
        self.alpha_each = self.limits.alpha / alpha_shares
        self._mixtures = {
            TESTS[0]: _Mixture(len(THETA_GRID)),
            TESTS[1]: _Mixture(len(LIMIT_MULTIPLES)),
            TESTS[2]: _Mixture(len(LIMIT_MULTIPLES)),
            TESTS[3]: _Mixture(len(LIMIT_MULTIPLES)),
        }
        self._last_canary = Counts()
        self._last_stable = Counts()
        self._ratio_edge: float | None = None

    @property
    def threshold(self) -> float:
        return 1 / self.alpha_each

    def observe(self, weight: int, canary: Counts, stable: Counts) -> Decision:
        """The decision after the counts so far; `weight` is the canary's percent now (recorded
        in reasons; the tests use the requests each version really took)."""
        if not 0 <= weight <= 100:
            raise ValueError(f"weight must be from 0 to 100, got {weight}")
        c_n = _delta(canary.requests, self._last_canary.requests)
        c_x = _delta(canary.errors, self._last_canary.errors)
        s_n = _delta(stable.requests, self._last_stable.requests)
        s_y = _delta(stable.errors, self._last_stable.errors)
        if c_x > c_n or s_y > s_n:
            raise ValueError("errors cannot outnumber requests in an interval")
        share = c_n / (c_n + s_n) if c_n + s_n else 0.0
        self._mixtures[TESTS[0]].add(relative_log_ratios(share, c_x, c_x + s_y))
        self._mixtures[TESTS[1]].add(limit_log_ratios(self.limits.max_error_rate / 100, c_x, c_n))
        limit_edge = edge_at_or_above(canary.buckets, self.limits.max_p99_ms)
        if limit_edge is not None:
            slow = _delta(above(canary, limit_edge), above(self._last_canary, limit_edge))
            self._mixtures[TESTS[2]].add(limit_log_ratios(P99_QUANTILE_SHARE, min(slow, c_n), c_n))
        if self._ratio_edge is None and stable.requests >= STABLE_REQUESTS_FOR_P99:
            stable_p99 = quantile_edge(stable, P99_QUANTILE_SHARE)
            if stable_p99 is not None:
                wanted = max(stable_p99 * self.limits.max_p99_ratio, stable_p99 + self.limits.min_p99_gap_ms)
                self._ratio_edge = edge_at_or_above(stable.buckets, wanted)
        elif self._ratio_edge is not None:
            edge = self._ratio_edge
            slow = _delta(above(canary, edge), above(self._last_canary, edge))
            self._mixtures[TESTS[3]].add(limit_log_ratios(P99_QUANTILE_SHARE, min(slow, c_n), c_n))
        self._last_canary, self._last_stable = canary, stable
        return self._decide(weight, canary, stable)

    def _decide(self, weight: int, canary: Counts, stable: Counts) -> Decision:
        results = tuple(
            TestResult(name, mixture.e_value, mixture.min_p, self.threshold, self.alpha_each)
            for name, mixture in self._mixtures.items()
        )
        figures = f"canary {canary.errors}/{canary.requests} 5xx at {weight}%, stable {stable.errors}/{stable.requests}"
        reasons = tuple(
            f"{r.test}: e-value {r.e_value:.3g} >= {r.threshold:.3g} (1/alpha, alpha {r.alpha:.2g}); {figures}"
            + (f"; limit {self.limits.max_error_rate:g}%" if r.test == TESTS[1] else "")
            for r in results
            if r.e_value >= r.threshold
        )
        return Decision(rollback=bool(reasons), reasons=reasons, tests=results)
