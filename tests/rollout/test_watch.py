"""Between the mesh's counters and the analysis: the split gate's requests taken out, counts that
never fall, each interval's error rate and p99, and one analysis judging the whole invocation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from canary.rollout.analysis import Counts, Decision, SequentialAnalysis
from canary.rollout.prometheus import MeshCounters, PrometheusError, VersionCounters
from canary.rollout.sequential_tests import dispersion
from canary.rollout.watch import HealthWatch, Sent, interval_quantile


class RecordingAnalysis:
    """Stands in for the analysis where the test is about what it is given, not what it decides."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, Counts, Counts]] = []

    def observe(self, weight: int, canary: Counts, stable: Counts) -> Decision:
        self.seen.append((weight, canary, stable))
        return Decision(rollback=False, reasons=(), tests=())


def reads(*counters: Mapping[str, VersionCounters], unattributed: int = 0) -> Iterator[MeshCounters]:
    """The baseline (nothing yet), then each read in turn."""
    yield MeshCounters(versions={})
    for versions in counters:
        yield MeshCounters(versions=versions, unattributed_errors=unattributed)


def watch(analysis: object, script: Iterator[MeshCounters]) -> HealthWatch:
    health = HealthWatch(read=lambda: next(script), analysis=analysis, stable="v1", canary="v2")  # type: ignore[arg-type]
    health.begin()
    return health


def test_the_split_gates_requests_are_taken_out_of_each_version():
    analysis = RecordingAnalysis()
    health = watch(
        analysis,
        reads({"v1": VersionCounters(2000, 2), "v2": VersionCounters(500, 10, {5.0: 480, 10.0: 500})}),
    )
    health.poll(10, 12.0, {"v1": Sent(90), "v2": Sent(110, 10)})
    _, canary, stable = analysis.seen[0]
    assert (canary.requests, canary.errors, canary.buckets) == (390, 0, {5.0: 370, 10.0: 390})
    assert (stable.requests, stable.errors) == (1910, 2)


def test_counts_never_fall_when_prometheus_has_not_yet_seen_the_split_gates_requests():
    analysis = RecordingAnalysis()
    health = watch(
        analysis,
        reads(
            {"v2": VersionCounters(300, 0)},  # the gate's 200 not scraped yet: 300 users' requests
            {"v2": VersionCounters(350, 0)},  # 350 - 200 = 150 would fall below 300: held at 300
            {"v2": VersionCounters(700, 0)},
        ),
    )
    sent = {"v2": Sent(200)}
    health.poll(10, 10.0, {})
    health.poll(10, 20.0, sent)
    health.poll(10, 30.0, sent)
    assert [canary.requests for _, canary, _ in analysis.seen] == [300, 300, 500]


def test_no_interval_gets_more_5xx_or_histogram_entries_than_requests():
    # The histogram is read a moment after the requests: it may be ahead of them. What exceeds an
    # interval's requests is held back for the next poll, not lost.
    analysis = RecordingAnalysis()
    health = watch(
        analysis,
        reads(
            {"v2": VersionCounters(100, 5, {10.0: 100})},
            {"v2": VersionCounters(110, 20, {10.0: 130})},
            {"v2": VersionCounters(200, 20, {10.0: 200})},
        ),
    )
    for seconds in (10.0, 20.0, 30.0):
        health.poll(10, seconds, {})
    assert [(c.requests, c.errors, c.buckets[10.0]) for _, c, _ in analysis.seen] == [
        (100, 5, 100),
        (110, 15, 110),
        (200, 20, 200),
    ]


def test_a_poll_reports_each_intervals_error_rate_and_p99_and_the_unattributed_5xx():
    health = watch(
        RecordingAnalysis(),
        reads(
            {"v1": VersionCounters(1000, 1, {5.0: 900, 10.0: 1000}), "v2": VersionCounters(0, 0)},
            {"v1": VersionCounters(1200, 5, {5.0: 1000, 10.0: 1200}), "v2": VersionCounters(0, 0)},
            unattributed=3,
        ),
    )
    first = health.poll(10, 10.0, {})
    second = health.poll(10, 20.0, {})
    assert first.versions["v1"].error_rate == pytest.approx(0.1)
    # 990th of 1000: in the 5-10 ms bucket, 90 of its 100 along: 5 + 5 * 0.9.
    assert first.versions["v1"].p99_ms == pytest.approx(9.5)
    # The second interval: 200 requests, 4 of them 5xx; 100 at most 5 ms, all at most 10 ms.
    assert second.versions["v1"].error_rate == pytest.approx(2.0)
    assert second.versions["v1"].p99_ms == pytest.approx(5 + 5 * (198 - 100) / 100)
    assert second.versions["v2"].error_rate is None and second.versions["v2"].p99_ms is None
    assert second.unattributed_errors == 3
    assert second.to_json()["versions"]["v1"] == {"requests": 1200, "errors": 5, "error_rate": 2.0, "p99_ms": 9.9}


def test_interval_quantile_in_the_open_top_bucket_is_the_highest_edge():
    assert interval_quantile({5.0: 10, 10.0: 50}, 100, 0.99) == 10.0
    assert interval_quantile({}, 100, 0.99) is None and interval_quantile({5.0: 0}, 0, 0.99) is None


def _steady(polls: int, canary_rate: float) -> Iterator[MeshCounters]:
    """Ten seconds a poll at 100 req/s, 10 % to the canary; stable fails 0.1 %."""
    yield MeshCounters(versions={})
    for i in range(1, polls + 1):
        canary = 100 * i
        yield MeshCounters(
            versions={
                "v1": VersionCounters(900 * i, round(0.9 * i)),
                "v2": VersionCounters(canary, round(canary * canary_rate)),
            }
        )


def test_with_the_real_analysis_a_canary_failing_5_percent_is_rolled_back_and_says_why():
    health = watch(SequentialAnalysis(), _steady(12, 0.05))
    polls = [health.poll(10, 10.0 * i, {}) for i in range(1, 13)]
    rolled = [poll for poll in polls if poll.rollback]
    assert rolled, [poll.tests for poll in polls]
    assert any("error rate" in reason for reason in rolled[0].reasons)
    assert {test["test"] for test in rolled[0].tests} >= {"error rate against stable", "error rate limit"}


def test_with_the_real_analysis_a_canary_like_stable_is_not_rolled_back():
    health = watch(SequentialAnalysis(), _steady(12, 0.001))
    assert not any(health.poll(10, 10.0 * i, {}).rollback for i in range(1, 13))


def test_the_baseline_then_stables_history_calibrates_the_comparison():
    analysis = SequentialAnalysis(weight=10)
    health = HealthWatch(
        read=lambda: MeshCounters(versions={}),
        analysis=analysis,
        stable="v1",
        canary="v2",
        history=lambda: [(20, 1000)] + [(0, 1000)] * 9,
    )
    health.begin()
    assert (
        health.calibration
        == "stable's 5xx over 10 intervals before the rollout vary 3.21 times as much as independent requests would"
    )
    assert dispersion(analysis.errors_vs_stable.state()["stable"]) == pytest.approx(2 / 0.6230)


def test_without_stables_history_the_rollout_goes_on_and_says_so():
    def unreachable() -> list[tuple[int, int]]:
        raise PrometheusError("Prometheus at http://127.0.0.1:9 is unreachable: refused")

    health = HealthWatch(
        read=lambda: MeshCounters(versions={}),
        analysis=SequentialAnalysis(),
        stable="v1",
        canary="v2",
        history=unreachable,
    )
    health.begin()
    assert health.calibration.startswith(
        "stable's history could not be read (Prometheus at http://127.0.0.1:9 is unreachable"
    )
