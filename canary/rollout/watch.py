"""The health analysis at each poll: the mesh's counters in, less the split gate's own requests, one
sequential analysis for the whole invocation, a `Poll` out for the report and the live view.

The split gate's requests are the rollout's own, not users': real sidecars count them like any
other, so they are taken back out, version by version (how many answers named each version, 5xx
included, and a nameless 5xx of a route that only one version serves). Prometheus sees them a scrape later than the gate
counted them, so a plain difference could fall between polls; every count handed to the analysis
is kept from falling (a fall would read as a counter reset), and no interval is given more 5xx or
histogram entries than requests: what is held back is counted at a later poll, not lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from canary.rollout.analysis import Counts, SequentialAnalysis
from canary.rollout.kept_analysis import KeptAnalysis
from canary.rollout.prometheus import MeshCounters, PrometheusError, VersionCounters
from canary.rollout.release_tags import TagStoreError
from canary.rollout.sequential_tests import dispersion

if TYPE_CHECKING:
    from canary.rollout.custom_metrics import MetricsWatch

P99 = 0.99


@dataclass(frozen=True)
class Sent:
    """What the split gate sent to one version: requests answered by it, and its 5xx among them."""

    requests: int = 0
    errors: int = 0

    def __add__(self, other: Sent) -> Sent:
        return Sent(self.requests + other.requests, self.errors + other.errors)


@dataclass(frozen=True)
class VersionPoll:
    requests: int
    errors: int
    """Cumulative since the analysis began."""
    error_rate: float | None
    """Percent, over the interval since the previous poll; None when it had no requests."""
    p99_ms: float | None
    """Over that interval, from the histogram."""

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors": self.errors, "error_rate": self.error_rate, "p99_ms": self.p99_ms}


@dataclass(frozen=True)
class Poll:
    seconds: float
    """Since the rollout's start."""
    weight: int
    versions: Mapping[str, VersionPoll]
    unattributed_errors: int
    tests: tuple[dict[str, Any], ...]
    rollback: bool
    reasons: tuple[str, ...] = ()
    metrics: tuple[dict[str, Any], ...] = ()
    """The team's own metrics (`rollout.metrics`), one entry each; their tests are in `tests`."""
    holds: tuple[str, ...] = ()
    """Why this poll was held (a shared incident, a threshold metric out of bounds short of its
    failureLimit): the step extended, the weight not raised on it."""

    @property
    def hold(self) -> bool:
        return bool(self.holds) and not self.rollback

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "weight": self.weight,
            "versions": {version: figures.to_json() for version, figures in self.versions.items()},
            "unattributed_errors": self.unattributed_errors,
            "tests": [dict(test) for test in self.tests],
            "rollback": self.rollback,
            "hold": self.hold,
            "holds": list(self.holds),
            "metrics": [dict(metric) for metric in self.metrics],
        }


def interval_quantile(buckets: Mapping[float, int], requests: int, quantile: float) -> float | None:
    """The quantile of one interval's requests, interpolated within its bucket as Prometheus'
    `histogram_quantile` does; the highest finite edge when it falls in the `+Inf` bucket."""
    if requests <= 0 or not buckets:
        return None
    rank = quantile * requests
    lower_edge, lower_count = 0.0, 0
    for edge in sorted(buckets):
        count = buckets[edge]
        if count >= rank:
            if count == lower_count:
                return edge
            return lower_edge + (edge - lower_edge) * (rank - lower_count) / (count - lower_count)
        lower_edge, lower_count = edge, count
    return max(buckets)


def _rounded(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 3)


def _not_falling(previous: Counts, raw: VersionCounters, sent: Sent) -> Counts:
    """`raw` less what the split gate sent, never below `previous`, no interval given more 5xx or
    histogram entries than requests (see the module docstring)."""
    requests = max(previous.requests, raw.requests - sent.requests)
    added = requests - previous.requests
    errors = min(max(previous.errors, raw.errors - sent.errors), previous.errors + added)
    buckets = {}
    for edge, count in raw.buckets.items():
        before = previous.buckets.get(edge, 0)
        buckets[edge] = min(max(before, count - sent.requests), before + added)
    return Counts(requests=requests, errors=errors, buckets=buckets)


@dataclass
class HealthWatch:
    """One analysis for the whole invocation, fed at every poll."""

    read: Callable[[], MeshCounters]
    """The counters since the first read (the baseline); raises PrometheusError."""
    analysis: SequentialAnalysis
    stable: str
    canary: str
    metrics: MetricsWatch | None = None
    """The team's own metrics, judged at the same polls."""
    kept: KeptAnalysis | None = None
    """Where the evidence is kept between runs (the stack's tags); None: it dies with the run."""
    resumed_note: str = ""
    """What evidence the analysis continues, when it continues some."""
    history: Callable[[], list[tuple[int, int]]] | None = None
    """Stable's (5xx, requests) per analysis interval before the rollout (raises PrometheusError)."""
    calibration: str = ""
    """What stable's history said, or why there was none."""
    _counts: dict[str, Counts] = field(default_factory=dict)

    def keep(self, weight: int, saved_at: str) -> str | None:
        """Write the evidence where the release's state lives; a warning line if it cannot be."""
        if self.kept is None:
            return None
        try:
            state = self.analysis.state()
            if self.metrics is not None:
                # The ratio metrics' e-processes are the release's too: kept and continued with it.
                state = {**state, "metrics": self.metrics.state()}
            self.kept.save(state, saved_at, weight)
        except TagStoreError as err:
            return f"the analysis' evidence could not be kept with the stack: {err}"
        return None

    def forget(self) -> str | None:
        """The release ended: its evidence is removed; a warning line if it cannot be."""
        if self.kept is None:
            return None
        try:
            self.kept.forget()
        except TagStoreError as err:
            return f"the analysis' evidence kept with the stack could not be removed: {err}"
        return None

    def begin(self) -> None:
        """Take the baseline: counts from here on are the rollout's. Then stable's history, on which
        the comparison's dispersion is calibrated; without it, it is learnt during the rollout."""
        self.read()
        if self.metrics is not None:
            self.metrics.begin()
        self._counts = {self.stable: Counts(), self.canary: Counts()}
        # The team's ratio metrics calibrate on stable's history as the 5xx comparison does.
        metrics_said = self.metrics.calibrate() if self.metrics is not None else ""
        self._calibrate_mesh()
        if metrics_said:
            self.calibration = "; ".join(filter(None, [self.calibration, metrics_said]))

    def _calibrate_mesh(self) -> None:
        if self.history is None:
            return
        try:
            intervals = self.history()
        except PrometheusError as err:
            self.calibration = (
                f"stable's history could not be read ({err}): its dispersion is learnt as the rollout goes"
            )
            return
        self.analysis.errors_vs_stable.calibrate(intervals)
        self.calibration = (
            f"stable's 5xx over {len(intervals)} intervals before the rollout vary "
            f"{dispersion(intervals):.3g} times as much as independent requests would"
        )

    def canary_requests(self) -> int:
        """The canary's requests the analysis has counted so far."""
        return self._counts[self.canary].requests if self._counts else 0

    def poll(self, weight: int, seconds: float, sent: Mapping[str, Sent]) -> Poll:
        mesh = self.read()
        versions = {}
        for version in (self.stable, self.canary):
            previous = self._counts.get(version, Counts())
            raw = mesh.versions.get(version, VersionCounters())
            now = _not_falling(previous, raw, sent.get(version, Sent()))
            interval = now.requests - previous.requests
            interval_buckets = {edge: n - previous.buckets.get(edge, 0) for edge, n in now.buckets.items()}
            versions[version] = VersionPoll(
                requests=now.requests,
                errors=now.errors,
                error_rate=round(100 * (now.errors - previous.errors) / interval, 4) if interval else None,
                p99_ms=_rounded(interval_quantile(interval_buckets, interval, P99)),
            )
            self._counts[version] = now
        decision = self.analysis.observe(
            weight=weight, canary=self._counts[self.canary], stable=self._counts[self.stable]
        )
        tests = tuple(decision.to_json()["tests"])
        reasons = decision.reasons
        entries: tuple[dict[str, Any], ...] = ()
        holds = decision.holds
        if self.metrics is not None:
            judged = self.metrics.poll(weight)
            tests += tuple(test.to_json() for test in judged.tests)
            reasons += judged.reasons
            holds += judged.holds
            entries = judged.entries
        return Poll(
            seconds=seconds,
            weight=weight,
            versions=versions,
            unattributed_errors=mesh.unattributed_errors,
            tests=tests,
            rollback=bool(reasons),
            reasons=reasons,
            holds=holds,
            metrics=entries,
        )
