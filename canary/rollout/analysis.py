"""The rollout's judgement: anytime-valid sequential tests of the canary, pure (no I/O).

Each test is an e-process: nonnegative, starting at 1, and a supermartingale while its null
hypothesis holds. By Ville's inequality the chance that it ever reaches 1/alpha_j is at most
alpha_j however often it is looked at, so the analysis is asked at every poll of every step, and
across invocations when its state is kept (`state()`, `SequentialAnalysis.resumed`), and rolls
back a canary that meets every null with probability at most sum alpha_j (a union bound). The
derivation, the assumptions and the figures are in docs/rollout.md.

Two kinds of stream, each usable on its own (a custom ratio metric is one more stream):

`ComparisonStream(name, alpha)`: bad events out of all events per version, the canary against
stable. H0: the canary's bad share is at most stable's. `update(Interval(...), comparable=...)`
once per poll interval with that interval's counts (not cumulative); `comparable=False` when the
canary's share of the traffic may have changed inside the interval (a weight change): the
interval then adds nothing, decided before its data is seen, so the test stays valid. Per
interval, given the m bad events of both versions, the canary's x are Binomial(m, q), q =
pi theta / (pi theta + 1 - pi), pi the canary's share of the interval's events. The likelihood
ratio of each theta_k against theta = 1 is raised to 1/phi, phi stable's dispersion (how much
more its bad events vary between intervals than independent ones would: `dispersion`, calibrated
on stable's history before the rollout with `calibrate`, then on its intervals during it), and
capped at (1/pi)^CAP_POWER: an incident (a burst, a retrying client) falls on the canary with
chance pi under H0, so one interval may bet little more than those odds, and bursts cannot pass
for evidence. A mixture over `THETA_GRID`.

`LimitStream(name, alpha, limit)`: the canary's bad share against a fixed limit p0. H0: each
interval's expected bad share of the canary is at most p0 (no independence between its requests
needed). Per interval a bet on r = (x / n) / p0, whose mean is at most 1 under H0: the factor
1 - c + c r, mixed over `BET_FRACTIONS`. An interval in which both versions are at or above the
limit is a shared incident: it adds nothing and is reported as a hold (`update` returns why).

Both: `.result()` (a `TestResult`), `.state()` (plain JSON data) and `.restore(state)`.

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

# Ratios of bad shares the comparison weighs equally: from a slight regression (1.1x, 1.25x) to
# a canary failing a thousand times as often as stable.
THETA_GRID = (1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0, 1000.0)
# Fractions of its wealth the limit test bets on each interval: small ones keep evidence through
# clean intervals, large ones act within two intervals on a canary that fails everything.
BET_FRACTIONS = (0.25, 0.5, 0.8, 0.95, 0.99)
P99_QUANTILE_SHARE = 0.01
# Stable's own slow share at its edge may be up to this: the comparison is then made at stable's
# p90 to p99 (whichever its bucket edges allow), never lower.
COMPARE_AT_MOST_SHARE = 0.10
# Stable requests, counted before an interval, needed to choose the edges of the p99 comparison.
STABLE_REQUESTS_FOR_P99 = 200
# Each interval's likelihood ratio is capped at (1/pi)^CAP_POWER: 1 would be the fair odds of one
# incident, 1.5 the choice between bursts and power (docs/rollout.md, benchmark).
CAP_POWER = 1.5
# Stable's dispersion: estimated from its last intervals, once it has this many.
DISPERSION_MIN_INTERVALS = 5
DISPERSION_WINDOW = 60
# Of which a kept state holds the last (so that it fits a few stack tags).
KEPT_STABLE_INTERVALS = 30
TRIM_SHARE = 0.1
DISPERSION_BAR = 1.5
# The mean of a chi-square with one degree of freedom below its 90th percentile (2.706):
# P(chi2_3 <= 2.706) / 0.9.
TRIMMED_CHI2_MEAN = 0.6230
# exp() of more would overflow a float: an e-value is capped near 1e304, far past any threshold.
LOG_E_VALUE_CAP = 700.0
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
class Interval:
    """One stream's counts over one poll interval: bad events of all events, per version."""

    canary_bad: int
    canary_all: int
    stable_bad: int
    stable_all: int

    def __post_init__(self) -> None:
        if not (0 <= self.canary_bad <= self.canary_all and 0 <= self.stable_bad <= self.stable_all):
            raise ValueError(f"bad events must be from 0 to all events in an interval, got {self}")

    @property
    def share(self) -> float:
        """The canary's share of the interval's events."""
        total = self.canary_all + self.stable_all
        return self.canary_all / total if total else 0.0


@dataclass(frozen=True)
class TestResult:
    test: str
    e_value: float
    p_value: float
    """Always valid: min over time of 1/e."""
    threshold: float
    """1/alpha_j: the e-value at which this test rolls back."""
    alpha: float
    detail: str = ""
    """What exactly is tested, when it is not the name alone (the edges and the ratio of the p99 comparison)."""

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "test": self.test,
            "e_value": self.e_value,
            "p_value": self.p_value,
            "threshold": self.threshold,
            "alpha": self.alpha,
        }
        if self.detail:
            document["detail"] = self.detail
        return document


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


class _Mixture:
    """(1/K) sum_k prod_i factor_k,i kept in log space, one accumulator per alternative."""

    def __init__(self, size: int) -> None:
        self.logs = [0.0] * size
        self.min_p = 1.0

    def add(self, log_factors: Sequence[float]) -> None:
        self.logs = [a + b for a, b in zip(self.logs, log_factors, strict=True)]
        self.min_p = min(self.min_p, 1 / self.e_value)

    @property
    def e_value(self) -> float:
        top = max(self.logs)
        return math.exp(min(top, LOG_E_VALUE_CAP)) * sum(math.exp(x - top) for x in self.logs) / len(self.logs)

    def state(self) -> dict[str, Any]:
        return {"logs": [round(x, 9) for x in self.logs], "min_p": self.min_p}

    def restore(self, state: Mapping[str, Any]) -> None:
        logs = [float(x) for x in state["logs"]]
        if len(logs) != len(self.logs):
            raise ValueError(f"a kept analysis has {len(logs)} accumulators where {len(self.logs)} are expected")
        self.logs, self.min_p = logs, float(state["min_p"])


def comparison_log_factors(interval: Interval) -> list[float]:
    """Per theta_k: the log likelihood ratio of the canary's share of the bad events against
    theta = 1, capped at log(1/pi) (see the module docstring)."""
    share, bad = interval.share, interval.canary_bad + interval.stable_bad
    if bad == 0 or share <= 0 or share >= 1:
        return [0.0] * len(THETA_GRID)
    cap = -CAP_POWER * math.log(share)
    x = interval.canary_bad
    return [min(x * math.log(theta) - bad * math.log(share * theta + 1 - share), cap) for theta in THETA_GRID]


def limit_log_factors(p0: float, bad: int, trials: int) -> list[float]:
    """Per bet fraction c: log(1 - c + c r), r = (bad / trials) / p0."""
    if trials == 0 or p0 >= 1:  # no data, or a limit of 100 % (no limit)
        return [0.0] * len(BET_FRACTIONS)
    ratio = bad / trials / p0
    return [math.log(1 - c + c * ratio) for c in BET_FRACTIONS]


class _Stream:
    def __init__(self, name: str, alpha: float, size: int) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"{name}: alpha must be above 0 and at most 1, got {alpha}")
        self.name, self.alpha = name, alpha
        self._mixture = _Mixture(size)
        self.detail = ""

    @property
    def threshold(self) -> float:
        return 1 / self.alpha

    def result(self) -> TestResult:
        return TestResult(
            self.name, self._mixture.e_value, self._mixture.min_p, self.threshold, self.alpha, self.detail
        )

    def state(self) -> dict[str, Any]:
        return self._mixture.state()

    def restore(self, state: Mapping[str, Any]) -> None:
        self._mixture.restore(state)


def dispersion(stable: Sequence[tuple[int, int]]) -> float:
    """How much more stable's bad events vary from interval to interval than independent events
    would (1: not at all), from its (bad, all) counts of past intervals.

    Pearson's statistic per interval, (y - p s)^2 / (p s), p pooled; the top `TRIM_SHARE` of
    intervals left out (a shared outage of a few intervals is not clumping), the rest's mean
    divided by that of a trimmed chi-square with one degree of freedom; 1 unless above `DISPERSION_BAR`.
    """
    if len(stable) < DISPERSION_MIN_INTERVALS:
        return 1.0
    bad = sum(y for y, _ in stable)
    total = sum(s for _, s in stable)
    if bad == 0:
        return 1.0
    p = bad / total
    terms = sorted((y - p * s) ** 2 / (p * s) for y, s in stable if s)
    kept = terms[: max(1, math.floor(len(terms) * (1 - TRIM_SHARE)))]
    phi = sum(kept) / len(kept) / TRIMMED_CHI2_MEAN
    # Below the bar, the estimate's own noise on independent traffic: tempering would cost power for nothing.
    return phi if phi > DISPERSION_BAR else 1.0


class ComparisonStream(_Stream):
    """The canary's bad share against stable's (see the module docstring)."""

    def __init__(self, name: str, alpha: float) -> None:
        super().__init__(name, alpha, len(THETA_GRID))
        self._stable: list[tuple[int, int]] = []
        self.dispersion = 1.0

    def calibrate(self, stable: Sequence[tuple[int, int]]) -> None:
        """Stable's (bad, all) counts of intervals before the rollout, oldest first: its dispersion
        is then known from the first interval on (it need not be learnt during the rollout)."""
        self._stable = [(int(y), int(n)) for y, n in stable if n][-DISPERSION_WINDOW:]

    def update(self, interval: Interval, *, comparable: bool) -> None:
        """`comparable`: the canary's share of traffic was constant inside the interval."""
        if comparable:
            # Tempered by stable's dispersion before this interval (a quasi-likelihood): a power
            # 1/phi <= 1 of a factor keeps its mean at most 1 (Jensen), so this only ever costs power.
            self.dispersion = dispersion(self._stable)
            self._mixture.add([log / self.dispersion for log in comparison_log_factors(interval)])
        if interval.stable_all:
            self._stable = [*self._stable, (interval.stable_bad, interval.stable_all)][-DISPERSION_WINDOW:]

    def state(self) -> dict[str, Any]:
        kept = self._stable[-KEPT_STABLE_INTERVALS:]
        return {**super().state(), "stable": [list(pair) for pair in kept]}

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self._stable = [(int(y), int(s)) for y, s in state.get("stable", [])]


class LimitStream(_Stream):
    """The canary's bad share against a fixed limit, held when stable breaks it too."""

    def __init__(self, name: str, alpha: float, limit: float) -> None:
        super().__init__(name, alpha, len(BET_FRACTIONS))
        self.limit = limit

    def update(self, interval: Interval) -> str | None:
        """Add the interval; why it was held instead, or None."""
        if interval.canary_all == 0:
            return None
        canary_share = interval.canary_bad / interval.canary_all
        stable_share = interval.stable_bad / interval.stable_all if interval.stable_all else 0.0
        if canary_share >= self.limit and stable_share >= self.limit and self.limit < 1:
            # Both versions break the limit: the service is failing, not the canary. Skipping an
            # interval in which the canary's factor is at least 1 keeps the supermartingale.
            return (
                f"{self.name}: stable too at or above the limit ({100 * stable_share:.3g}% of "
                f"{interval.stable_all}, canary {100 * canary_share:.3g}% of {interval.canary_all}, "
                f"limit {100 * self.limit:g}%): a shared incident"
            )
        self._mixture.add(limit_log_factors(self.limit, interval.canary_bad, interval.canary_all))
        return None


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

    Stable's edge is one above which some, but at most `COMPARE_AT_MOST_SHARE`, of its requests
    went (its p99 edge or a lower one); the canary's is the smallest edge at least `ratio` times it
    and `gap_ms` above it. Of those pairs, the one whose ratio is nearest `ratio` (never below),
    then the one with the most stable requests above its edge (the most evidence).
    """
    if stable.requests < STABLE_REQUESTS_FOR_P99:
        return None
    edges = sorted(stable.buckets)
    best: tuple[float, float, float] | None = None
    for edge in edges:
        if edge <= 0 or above(stable, edge) > COMPARE_AT_MOST_SHARE * stable.requests:
            continue
        if above(stable, edge) == 0:
            break  # higher edges see no stable request above them either: nothing to compare with
        partner = edge_at_or_above(edges, max(ratio * edge, edge + gap_ms))
        if partner is None:
            continue
        tested = partner / edge
        if best is None or tested < best[0]:
            best = (tested, edge, partner)
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
