"""Anytime-valid sequential tests of a bad share, one poll interval at a time: e-processes, pure (no I/O).

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

`canary.rollout.analysis` feeds them the cumulative counts the engine reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Ratios of bad shares the comparison weighs equally: from a slight regression (1.1x, 1.25x) to
# a canary failing a thousand times as often as stable.
THETA_GRID = (1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0, 1000.0)
# Fractions of its wealth the limit test bets on each interval: small ones keep evidence through
# clean intervals, large ones act within two intervals on a canary that fails everything.
BET_FRACTIONS = (0.25, 0.5, 0.8, 0.95, 0.99)
# Each interval's likelihood ratio is capped at (1/pi)^CAP_POWER: 1 would be the fair odds of one
# incident, 1.25 the choice between bursts and power (docs/rollout.md, benchmark).
CAP_POWER = 1.25
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
