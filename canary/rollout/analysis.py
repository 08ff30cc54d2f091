"""The rollout's judgement: anytime-valid sequential tests of the canary, pure (no I/O).

The tests are the e-processes of `canary.rollout.sequential_tests` (whose docstring sums up their
derivation), fed here one poll interval at a time from cumulative counts.

`CumulativeComparison(name, alpha, weight=...)`: a `ComparisonStream` fed cumulative counts, as
the engine reads counters: `.observe(weight, canary=(bad, all), stable=(bad, all)) -> TestResult`,
with the deltas, counter resets and the weight-change rule done as for the 5xx. A custom ratio
metric is one of these at its own share of alpha (`SequentialAnalysis(alpha_shares=5 + k)` for
k such metrics, each at `Limits.alpha / (5 + k)`).
`SequentialAnalysis` runs four of them on Istio's counters: the 5xx and the p99 (the slow share
above a histogram edge), each against stable and against a limit.

Counts are cumulative since the analysis began; a count that falls is a counter reset, read as
Prometheus reads one (the new value is the increase since the reset).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from canary.policy import Limits
from canary.rollout.sequential_tests import ComparisonStream, Interval, LimitStream, TestResult

P99_QUANTILE_SHARE = 0.01
# Stable's own slow share at its edge may be up to this: the comparison is then made at stable's
# p90 to p99 (whichever its bucket edges allow), never lower.
COMPARE_AT_MOST_SHARE = 0.10
# Stable requests, counted before an interval, needed to choose the edges of the p99 comparison.
STABLE_REQUESTS_FOR_P99 = 200
ERRORS_VS_STABLE = "error rate against stable"
ERROR_LIMIT = "error rate limit"
P99_LIMIT = "p99 limit"
P99_VS_STABLE = "p99 against stable"
TESTS = (ERRORS_VS_STABLE, ERROR_LIMIT, P99_LIMIT, P99_VS_STABLE)
# How many of the rollout's alpha shares each test takes: four in all. The comparison of 5xx with
# stable takes two, for the power a 2x canary at 100 req/s needs (docs/rollout.md, benchmark); the
# p99 tests, which have evidence to spare, half each.
SHARES = {ERRORS_VS_STABLE: 2.0, ERROR_LIMIT: 1.0, P99_LIMIT: 0.5, P99_VS_STABLE: 0.5}


@dataclass(frozen=True)
class Counts:
    """One version's cumulative counts since the analysis began."""

    requests: int = 0
    errors: int = 0
    """Requests answered with a 5xx."""
    buckets: Mapping[float, int] = field(default_factory=dict)
    """Histogram: upper edge `le` in ms -> requests that took at most that long (+Inf left out)."""


@dataclass(frozen=True)
class Decision:
    rollback: bool
    reasons: tuple[str, ...]
    tests: tuple[TestResult, ...]
    holds: tuple[str, ...] = ()
    """Why this interval was held (a shared incident): nothing against the canary, the step extended."""

    @property
    def hold(self) -> bool:
        return bool(self.holds) and not self.rollback

    def to_json(self) -> dict[str, Any]:
        return {
            "rollback": self.rollback,
            "hold": self.hold,
            "reasons": list(self.reasons),
            "holds": list(self.holds),
            "tests": [t.to_json() for t in self.tests],
        }


class CumulativeComparison:
    """A comparison with stable fed cumulative (bad, all) counts per version (module docstring)."""

    def __init__(self, name: str, alpha: float, *, weight: int | None = None) -> None:
        self.stream = ComparisonStream(name, alpha)
        self._last = (0, 0, 0, 0)
        self._weight = weight

    def observe(self, weight: int, canary: tuple[int, int], stable: tuple[int, int]) -> TestResult:
        now = (canary[0], canary[1], stable[0], stable[1])
        c_bad, c_all, s_bad, s_all = (_delta(new, old) for new, old in zip(now, self._last, strict=True))
        interval = Interval(min(c_bad, c_all), c_all, min(s_bad, s_all), s_all)
        self.stream.update(interval, comparable=self._weight == weight)
        self._last, self._weight = now, weight
        return self.stream.result()


def above(counts: Counts, edge: float) -> int:
    """Requests that took longer than `edge` (which must be one of the histogram's edges)."""
    return counts.requests - counts.buckets.get(edge, counts.requests)


def edge_at_or_above(edges: Sequence[float], ms: float) -> float | None:
    """The smallest histogram edge >= ms: requests above it surely took longer than ms."""
    return min((edge for edge in edges if edge >= ms), default=None)


def comparison_edges(stable: Counts, ratio: float, gap_ms: float) -> tuple[float, float] | None:
    """(stable's edge, the canary's edge) for the p99 comparison, from stable's counts so far.

    Stable's edge is one above which at most `COMPARE_AT_MOST_SHARE` of its requests went (its
    p99 edge or a lower one, or the lowest edge above all of them); the canary's is the smallest
    edge at least `ratio` times it and `gap_ms` above it. Of those pairs, the one whose ratio is
    nearest `ratio` (never below), then the one with the most stable requests above its edge.
    """
    if stable.requests < STABLE_REQUESTS_FOR_P99:
        return None
    edges = sorted(stable.buckets)
    best: tuple[float, float, float] | None = None
    for edge in edges:
        if edge <= 0 or above(stable, edge) > COMPARE_AT_MOST_SHARE * stable.requests:
            continue
        partner = edge_at_or_above(edges, max(ratio * edge, edge + gap_ms))
        if partner is not None and (best is None or partner / edge < best[0]):
            best = (partner / edge, edge, partner)
        if above(stable, edge) == 0:
            # Stable's slowest request is under this edge (its p100): a higher one says no more.
            break
    return None if best is None else (best[1], best[2])


def _delta(new: int, old: int) -> int:
    # A cumulative count that fell was reset: Prometheus reads the new value as the increase.
    return new if new < old else new - old


def _slow(now: Counts, before: Counts, edge: float, requests: int) -> int:
    return min(_delta(above(now, edge), above(before, edge)), requests)


class SequentialAnalysis:
    """Watches one release; `observe` after each poll with the cumulative counts."""

    def __init__(self, limits: Limits | None = None, *, alpha_shares: int = 5, weight: int | None = None) -> None:
        """`alpha_shares`: the rollout's alpha is cut in this many equal shares; the four tests here
        take four of them (`SHARES`), the split gate one, any other stream the rest. `weight`: the
        canary's weight when counting began (None: unknown, so the first interval is not compared)."""
        if alpha_shares < sum(SHARES.values()):
            raise ValueError(f"alpha_shares must be at least {sum(SHARES.values()):g} (the tests here take that many)")
        self.limits = limits or Limits()
        self.alpha_each = self.limits.alpha / alpha_shares
        a = self.alpha_each
        self.errors_vs_stable = ComparisonStream(ERRORS_VS_STABLE, SHARES[ERRORS_VS_STABLE] * a)
        self.error_limit = LimitStream(ERROR_LIMIT, SHARES[ERROR_LIMIT] * a, self.limits.max_error_rate / 100)
        self.p99_limit = LimitStream(P99_LIMIT, SHARES[P99_LIMIT] * a, P99_QUANTILE_SHARE)
        self.p99_vs_stable = ComparisonStream(P99_VS_STABLE, SHARES[P99_VS_STABLE] * a)
        self._last_canary = Counts()
        self._last_stable = Counts()
        self._weight = weight

    @property
    def streams(self) -> tuple[ComparisonStream | LimitStream, ...]:
        return (self.errors_vs_stable, self.error_limit, self.p99_limit, self.p99_vs_stable)

    @property
    def threshold(self) -> float:
        return 1 / self.alpha_each

    def _limits(self) -> dict[str, float]:
        limits = self.limits
        return {
            "max_error_rate": limits.max_error_rate,
            "max_p99_ms": limits.max_p99_ms,
            "max_p99_ratio": limits.max_p99_ratio,
            "min_p99_gap_ms": limits.min_p99_gap_ms,
        }

    def state(self) -> dict[str, Any]:
        """The evidence so far, as plain data: what `resumed` continues from."""
        return {
            "alpha_each": self.alpha_each,
            "limits": self._limits(),
            "tests": {s.name: s.state() for s in self.streams},
        }

    @classmethod
    def resumed(
        cls, state: Mapping[str, Any], limits: Limits | None = None, *, alpha_shares: int = 5
    ) -> SequentialAnalysis:
        """An analysis that continues the evidence in `state`, counting anew from a fresh baseline.

        What happened between the last poll kept and the new baseline is not seen: leaving it out
        is decided without looking at it, so the e-processes stay valid. The first interval is not
        compared (the weight may have changed in it). Refused (ValueError) when alpha or a limit
        differs: an e-process cannot change its threshold or its null hypothesis midway.
        """
        analysis = cls(limits, alpha_shares=alpha_shares)
        kept_alpha = float(state["alpha_each"])
        if not math.isclose(kept_alpha, analysis.alpha_each, rel_tol=1e-9):
            raise ValueError(
                f"the evidence kept for this release was gathered with alpha {kept_alpha * alpha_shares:g}, "
                f"this run has {analysis.alpha_each * alpha_shares:g}"
            )
        for name, value in analysis._limits().items():
            kept = state.get("limits", {}).get(name)
            if kept is not None and not math.isclose(float(kept), value, rel_tol=1e-9):
                raise ValueError(
                    f"the evidence kept for this release was gathered with {name} {kept:g}, this run has {value:g}"
                )
        for stream in analysis.streams:
            stream.restore(state["tests"][stream.name])
        return analysis

    def observe(self, weight: int, canary: Counts, stable: Counts) -> Decision:
        """The decision after the counts so far; `weight` is the canary's percent in force at the
        end of the interval (a change since the last call makes the interval not comparable)."""
        if not 0 <= weight <= 100:
            raise ValueError(f"weight must be from 0 to 100, got {weight}")
        before_c, before_s = self._last_canary, self._last_stable
        c_n = _delta(canary.requests, before_c.requests)
        s_n = _delta(stable.requests, before_s.requests)
        c_x = _delta(canary.errors, before_c.errors)
        s_y = _delta(stable.errors, before_s.errors)
        if c_x > c_n or s_y > s_n:
            raise ValueError("errors cannot outnumber requests in an interval")
        comparable = self._weight == weight
        self._weight = weight
        holds = []
        errors = Interval(c_x, c_n, s_y, s_n)
        self.errors_vs_stable.update(errors, comparable=comparable)
        if (held := self.error_limit.update(errors)) is not None:
            holds.append(held)
        # A histogram seen for the first time holds every earlier request: its first interval is
        # not judged (counting starts at its first reading).
        if before_c.buckets and before_s.buckets:
            limit_edge = edge_at_or_above(sorted(canary.buckets), self.limits.max_p99_ms)
            if limit_edge is not None:
                slow = Interval(
                    _slow(canary, before_c, limit_edge, c_n),
                    c_n,
                    _slow(stable, before_s, limit_edge, s_n) if limit_edge in stable.buckets else 0,
                    s_n if limit_edge in stable.buckets else 0,
                )
                self.p99_limit.detail = f"above {limit_edge:g} ms at most {100 * P99_QUANTILE_SHARE:g}%"
                if (held := self.p99_limit.update(slow)) is not None:
                    holds.append(held)
            # The edges come from stable's counts before this interval: chosen before its data.
            edges = comparison_edges(before_s, self.limits.max_p99_ratio, self.limits.min_p99_gap_ms)
            if edges is not None and edges[1] in canary.buckets and edges[1] in before_c.buckets:
                stable_edge, canary_edge = edges
                self.p99_vs_stable.update(
                    Interval(
                        _slow(canary, before_c, canary_edge, c_n),
                        c_n,
                        _slow(stable, before_s, stable_edge, s_n),
                        s_n,
                    ),
                    comparable=comparable,
                )
                level = 100 * (1 - above(before_s, stable_edge) / before_s.requests)
                self.p99_vs_stable.detail = (
                    f"canary above {canary_edge:g} ms against stable above {stable_edge:g} ms "
                    f"(stable's p{level:.3g}): ratio tested {canary_edge / stable_edge:.3g}"
                )
        self._last_canary, self._last_stable = canary, stable
        return self._decide(weight, canary, stable, tuple(holds))

    def results(self) -> tuple[TestResult, ...]:
        """Each test's evidence so far."""
        return tuple(stream.result() for stream in self.streams)

    def _decide(self, weight: int, canary: Counts, stable: Counts, holds: tuple[str, ...]) -> Decision:
        results = self.results()
        figures = f"canary {canary.errors}/{canary.requests} 5xx at {weight}%, stable {stable.errors}/{stable.requests}"
        reasons = tuple(
            f"{r.test}: e-value {r.e_value:.3g} >= {r.threshold:.3g} (1/alpha, alpha {r.alpha:.2g}); {figures}"
            + (f"; limit {self.limits.max_error_rate:g}%" if r.test == ERROR_LIMIT else "")
            + (f"; {r.detail}" if r.detail else "")
            for r in results
            if r.e_value >= r.threshold
        )
        return Decision(rollback=bool(reasons), reasons=reasons, tests=results, holds=holds)
