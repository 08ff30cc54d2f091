"""The team's own metrics (`rollout.metrics`), read and judged at every poll beside the mesh's.

- **ratio** (`bad`, `total`): each counter read raw for each version, every series on its own, its
  increase since the first poll counted as the mesh's counters are (resets, new series: see
  `canary.rollout.prometheus`). The canary's bad/total is compared with stable's by the sequential
  analysis' own comparison of error rates (`ratio_comparison`, the one place it is chosen), at its
  own share of the rollout's alpha: anytime-valid, the same guarantee as the 5xx rate's.
- **threshold** (`query`, `min`, `max`, `failureLimit`): one number for the canary at each poll,
  failing the step after `failureLimit` consecutive polls out of bounds, as Flagger and Argo
  Rollouts judge theirs. A bad poll short of the limit holds the step (Flagger halts advancement
  on a failed check): the weight is not raised on a number out of bounds, nor is the canary
  rolled back for one that comes back. Not alpha-bounded: how often a healthy canary trips it
  depends on the metric's own noise, which no test here knows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from canary.config.metrics import MetricSettings
from canary.rollout.analysis import CumulativeComparison
from canary.rollout.metric_queries import for_version
from canary.rollout.prometheus import (
    CounterIncreases,
    PrometheusAccess,
    PrometheusError,
    Series,
    range_query,
    series_query,
)
from canary.rollout.sequential_tests import TestResult, dispersion

Query = Callable[[str], "list[tuple[dict[str, str], float]]"]
"""An instant query: its vector's series as (labels, value); raises PrometheusError."""
History = Callable[[str], "list[float]"]
"""A range query over the minutes before the rollout, one value per analysis interval, oldest
first (none when empty); raises PrometheusError."""
HISTORY_SECONDS = 600.0


def history_query(template_filled: str, step: float) -> str:
    """The increase of a filled-in counter query over each `step` seconds: a subquery, since the
    query may be any expression of counters (a `sum by`), not only a selector `increase()` takes."""
    resolution = max(step / 10, 1.0)
    return f"sum(increase(({template_filled})[{step:g}s:{resolution:g}s]))"


@dataclass(frozen=True)
class RatioCounts:
    """One version's bad and total events since the analysis began."""

    bad: int = 0
    total: int = 0


class RatioComparison(Protocol):
    """Judges the canary's bad/total against stable's, anytime-valid, at its own alpha."""

    def observe(self, weight: int, canary: RatioCounts, stable: RatioCounts) -> TestResult: ...

    def state(self) -> dict[str, Any]:
        """Its evidence as plain data, to be kept with the release."""
        ...

    def restore(self, state: Mapping[str, Any]) -> None: ...

    def calibrate(self, stable: Sequence[tuple[int, int]]) -> None:
        """Stable's (bad, all) per interval before the rollout: its dispersion known from the start."""
        ...


class _AnalysisComparison:
    """The analysis' own comparison with stable (`CumulativeComparison`, the 5xx rate's), fed bad
    and all events: its cap per interval (a burst cannot pass for evidence), its tempering by
    stable's dispersion, and an interval in which the weight changed left out, hold for the
    metric as they hold for the 5xx rate."""

    def __init__(self, name: str, alpha: float, weight: int | None) -> None:
        self._comparison = CumulativeComparison(f"{name} against stable", alpha, weight=weight)

    def observe(self, weight: int, canary: RatioCounts, stable: RatioCounts) -> TestResult:
        return self._comparison.observe(weight, (canary.bad, canary.total), (stable.bad, stable.total))

    def state(self) -> dict[str, Any]:
        return {"alpha": self._comparison.stream.alpha, "stream": self._comparison.stream.state()}

    def restore(self, state: Mapping[str, Any]) -> None:
        self._comparison.stream.restore(state["stream"])

    def calibrate(self, stable: Sequence[tuple[int, int]]) -> None:
        self._comparison.stream.calibrate(stable)


def ratio_comparison(name: str, alpha: float, weight: int | None = None) -> RatioComparison:
    """The comparison a ratio metric is judged by: the one place it is chosen. `weight`: the
    canary's weight when counting began (None: unknown, the first interval is not compared)."""
    return _AnalysisComparison(name, alpha, weight)


def _summed(increases: dict[Series, float]) -> float:
    return sum(increases.values())


@dataclass
class _RatioMetric:
    settings: MetricSettings
    comparison: RatioComparison
    queries: dict[tuple[str, str], str]
    """(version, "bad" or "total") -> the filled-in query."""
    increases: dict[tuple[str, str], CounterIncreases] = field(default_factory=dict)
    counts: dict[str, RatioCounts] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.increases = {key: CounterIncreases() for key in self.queries}


@dataclass
class _ThresholdMetric:
    settings: MetricSettings
    query: str
    bad_polls: int = 0


@dataclass(frozen=True)
class MetricsPoll:
    entries: tuple[dict[str, Any], ...]
    """Per metric, what the report shows (see `to_json` of each kind below)."""
    tests: tuple[TestResult, ...]
    """The ratio metrics' comparisons, as the analysis' tests are reported."""
    reasons: tuple[str, ...]
    """Why a metric calls for a rollback, one line each; empty when none does."""
    holds: tuple[str, ...] = ()
    """Why a metric holds the step (a threshold out of bounds, short of its failureLimit)."""


def _not_falling(previous: RatioCounts, bad: float, total: float) -> RatioCounts:
    """Counts never fall between polls (a fall would read as a reset), and no interval gets more
    bad events than events: two counters scraped apart can be a scrape out of step."""
    new_total = max(previous.total, round(total))
    new_bad = min(max(previous.bad, round(bad)), previous.bad + (new_total - previous.total))
    return RatioCounts(bad=new_bad, total=new_total)


def _interval_percent(now: RatioCounts, before: RatioCounts) -> float | None:
    events = now.total - before.total
    return round(100 * (now.bad - before.bad) / events, 4) if events > 0 else None


class MetricsWatch:
    """Every metric of `rollout.metrics`, for one rollout of `canary` against `stable`."""

    def __init__(
        self,
        metrics: Sequence[MetricSettings],
        *,
        query: Query,
        namespace: str,
        app: str,
        stable: str,
        canary: str,
        alpha_each: float,
        weight: int | None = None,
        history: History | None = None,
        step: float = 10.0,
    ) -> None:
        """`weight`: the canary's weight at the baseline (`begin`), as the analysis is given it.
        `history`: how to read stable's counters before the rollout, per `step` seconds, on which
        each ratio metric's comparison calibrates its dispersion (None: learnt during the rollout)."""
        self._query = query
        self._history = history
        self._step = step
        self.stable, self.canary = stable, canary
        self._ratios: list[_RatioMetric] = []
        self._thresholds: list[_ThresholdMetric] = []
        self._order: list[_RatioMetric | _ThresholdMetric] = []
        for metric in metrics:
            if metric.kind == "ratio":
                assert metric.bad is not None and metric.total is not None  # the model requires them
                templates = {"bad": metric.bad, "total": metric.total}
                ratio = _RatioMetric(
                    metric,
                    ratio_comparison(metric.name, alpha_each, weight),
                    {
                        (version, part): for_version(template, namespace, app, version)
                        for version in (stable, canary)
                        for part, template in templates.items()
                    },
                )
                self._ratios.append(ratio)
                self._order.append(ratio)
            else:
                assert metric.query is not None
                threshold = _ThresholdMetric(metric, for_version(metric.query, namespace, app, canary))
                self._thresholds.append(threshold)
                self._order.append(threshold)

    @classmethod
    def reading(
        cls, prometheus: PrometheusAccess, metrics: Sequence[MetricSettings], *, step: float = 10.0, **kwargs: Any
    ) -> MetricsWatch:
        def history(promql: str) -> list[float]:
            now = time.time()
            return range_query(prometheus, promql, now - HISTORY_SECONDS + step, now, step)

        return cls(metrics, query=lambda promql: series_query(prometheus, promql), history=history, step=step, **kwargs)

    def calibrate(self) -> str:
        """Each ratio metric's comparison calibrated on stable's intervals before the rollout; what
        was found, one clause per metric ("" without history or ratio metrics)."""
        if self._history is None:
            return ""
        said = []
        for ratio in self._ratios:
            name = ratio.settings.name
            try:
                bad, total = (
                    self._history(history_query(ratio.queries[(self.stable, part)], self._step))
                    for part in ("bad", "total")
                )
            except PrometheusError as err:
                said.append(f"{name}: stable's history could not be read ({err}): its dispersion is learnt as it goes")
                continue
            if bad and len(bad) != len(total):
                said.append(f"{name}: stable's history did not line up: its dispersion is learnt as it goes")
                continue
            pairs = [(round(b), round(n)) for b, n in zip(bad or [0.0] * len(total), total, strict=True) if round(n)]
            ratio.comparison.calibrate(pairs)
            said.append(
                f"{name}: stable's bad events over {len(pairs)} intervals before the rollout vary "
                f"{dispersion(pairs):.3g} times as much as independent events would"
            )
        return "; ".join(said)

    def _read_ratios(self) -> list[dict[tuple[str, str], list[tuple[dict[str, str], float]]]]:
        # Every query is asked before any is taken in, so a failure leaves the state as it was.
        return [{key: self._query(promql) for key, promql in ratio.queries.items()} for ratio in self._ratios]

    def begin(self) -> None:
        """The baseline of every ratio metric's counters; raises PrometheusError."""
        for ratio, answers in zip(self._ratios, self._read_ratios(), strict=True):
            for key, samples in answers.items():
                ratio.increases[key].update(samples)
            ratio.counts = {self.stable: RatioCounts(), self.canary: RatioCounts()}

    def state(self) -> dict[str, Any]:
        """Each ratio metric's evidence, with what it was gathered on (its queries and alpha)."""
        return {
            ratio.settings.name: {
                "bad": ratio.settings.bad,
                "total": ratio.settings.total,
                **ratio.comparison.state(),
            }
            for ratio in self._ratios
        }

    def restore(self, kept: Mapping[str, Any]) -> None:
        """Continue the evidence `state()` kept; ValueError when a ratio metric was gathered on
        other queries or another alpha (an e-process cannot change its null or threshold midway).
        A ratio metric absent from `kept` starts anew (its alpha share is then new to the release:
        the alpha check of the analysis refuses a changed number of ratio metrics)."""
        for ratio in self._ratios:
            found = kept.get(ratio.settings.name)
            if not isinstance(found, Mapping):
                continue
            mine = {"bad": ratio.settings.bad, "total": ratio.settings.total}
            if any(found.get(key) != value for key, value in mine.items()):
                raise ValueError(
                    f"the evidence kept for this release was gathered with metric {ratio.settings.name} "
                    "reading other queries"
                )
            alpha = float(found.get("alpha", 0.0))
            if not math.isclose(alpha, ratio.comparison.state()["alpha"], rel_tol=1e-9):
                raise ValueError(
                    f"the evidence kept for this release was gathered with metric {ratio.settings.name} "
                    f"at alpha {alpha:g}"
                )
            ratio.comparison.restore(found)

    def poll(self, weight: int) -> MetricsPoll:
        """Read and judge every metric; raises PrometheusError (the poll fails closed)."""
        ratio_answers = self._read_ratios()
        threshold_answers = [self._query(threshold.query) for threshold in self._thresholds]
        entries: dict[int, dict[str, Any]] = {}
        tests: list[TestResult] = []
        reasons: list[str] = []
        holds: list[str] = []
        for ratio, answers in zip(self._ratios, ratio_answers, strict=True):
            entry, test = self._judge_ratio(ratio, answers, weight)
            entries[id(ratio)] = entry
            tests.append(test)
            if test.e_value >= test.threshold:
                canary, stable = ratio.counts[self.canary], ratio.counts[self.stable]
                reasons.append(
                    f"{test.test}: e-value {test.e_value:.3g} >= {test.threshold:.3g} (1/alpha, alpha "
                    f"{test.alpha:.2g}); canary {canary.bad}/{canary.total} at {weight}%, "
                    f"stable {stable.bad}/{stable.total}"
                )
        for threshold, samples in zip(self._thresholds, threshold_answers, strict=True):
            entry, reason = self._judge_threshold(threshold, samples)
            entries[id(threshold)] = entry
            if reason is not None:
                (reasons if entry["failed"] else holds).append(reason)
        return MetricsPoll(
            entries=tuple(entries[id(metric)] for metric in self._order),
            tests=tuple(tests),
            reasons=tuple(reasons),
            holds=tuple(holds),
        )

    def _judge_ratio(
        self, ratio: _RatioMetric, answers: dict[tuple[str, str], list[tuple[dict[str, str], float]]], weight: int
    ) -> tuple[dict[str, Any], TestResult]:
        versions = {}
        for version in (self.stable, self.canary):
            bad = _summed(ratio.increases[(version, "bad")].update(answers[(version, "bad")]))
            total = _summed(ratio.increases[(version, "total")].update(answers[(version, "total")]))
            before = ratio.counts.get(version, RatioCounts())
            now = _not_falling(before, bad, total)
            ratio.counts[version] = now
            versions[version] = {"bad": now.bad, "total": now.total, "ratio": _interval_percent(now, before)}
        test = ratio.comparison.observe(weight, ratio.counts[self.canary], ratio.counts[self.stable])
        entry = {"name": ratio.settings.name, "kind": "ratio", "versions": versions, "test": test.to_json()}
        return entry, test

    def _judge_threshold(
        self, threshold: _ThresholdMetric, samples: list[tuple[dict[str, str], float]]
    ) -> tuple[dict[str, Any], str | None]:
        """The entry the report shows, and why the metric fails the step or, short of its
        failureLimit, holds it (which of the two: the entry's `failed`); None when within bounds."""
        metric = threshold.settings
        value: float | None = None
        if len(samples) == 1 and math.isfinite(samples[0][1]):
            value = samples[0][1]
            low = metric.min is not None and value < metric.min
            high = metric.max is not None and value > metric.max
            problem = (
                f"{value:g} below min {metric.min:g}"
                if low
                else f"{value:g} above max {metric.max:g}"
                if high
                else None
            )
        elif not samples:
            problem = "no series for the canary"
        else:
            problem = f"{len(samples)} series, where one number is judged (aggregate the query: sum, max)"
        threshold.bad_polls = threshold.bad_polls + 1 if problem is not None else 0
        limit = metric.consecutive_failures
        failed = threshold.bad_polls >= limit
        entry = {
            "name": metric.name,
            "kind": "threshold",
            "value": value,
            "min": metric.min,
            "max": metric.max,
            "bad_polls": threshold.bad_polls,
            "failure_limit": limit,
            "problem": problem,
            "failed": failed,
        }
        if problem is None:
            return entry, None
        if failed:
            return entry, (
                f"{metric.name}: {problem}, {threshold.bad_polls} consecutive polls out of bounds "
                f"(failureLimit {limit})"
            )
        return entry, (
            f"{metric.name}: {problem}, {threshold.bad_polls} of {limit} consecutive polls out of bounds "
            f"(failureLimit {limit})"
        )
