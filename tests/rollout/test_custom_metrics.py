"""The team's own metrics at each poll: a ratio against stable (anytime-valid, its own alpha), a
threshold failing after failureLimit consecutive bad polls, and both in the health gate's poll."""

from __future__ import annotations

import random
from typing import Any

import pytest

from canary.config.metrics import MetricSettings
from canary.rollout.analysis import SequentialAnalysis
from canary.rollout.custom_metrics import MetricsWatch, RatioCounts
from canary.rollout.prometheus import MeshCounters
from canary.rollout.watch import HealthWatch

RATIO = MetricSettings(
    name="checkout-failures",
    kind="ratio",
    bad='checkout_failures_total{app="{{ app }}",version="{{ version }}"}',
    total='checkouts_total{app="{{ app }}",version="{{ version }}"}',
)
LAG = MetricSettings(
    name="queue-lag",
    kind="threshold",
    query='max(lag{app="{{ app }}",version="{{ version }}"})',
    max=100,
    failure_limit=3,
)


class Counters:
    """A Prometheus that holds one raw counter series per (metric, version), moved by the test."""

    def __init__(self) -> None:
        self.values: dict[str, list[tuple[dict[str, str], float]]] = {}
        self.asked: list[str] = []

    def set(self, promql: str, *values: float) -> None:
        self.values[promql] = [({"pod": f"p{i}"}, value) for i, value in enumerate(values)]

    def __call__(self, promql: str) -> list[tuple[dict[str, str], float]]:
        self.asked.append(promql)
        return self.values.get(promql, [])


def q(kind: str, version: str) -> str:
    metric = "checkout_failures_total" if kind == "bad" else "checkouts_total"
    return f'{metric}{{app="web",version="{version}"}}'


def lag(version: str = "v2") -> str:
    return f'max(lag{{app="web",version="{version}"}})'


def metrics_watch(
    prometheus: Counters, *metrics: MetricSettings, alpha_each: float = 0.002, weight: int | None = 10
) -> MetricsWatch:
    watch = MetricsWatch(
        metrics,
        query=prometheus,
        namespace="shop",
        app="web",
        stable="v1",
        canary="v2",
        alpha_each=alpha_each,
        weight=weight,
    )
    watch.begin()
    return watch


def move(prometheus: Counters, canary: tuple[float, float], stable: tuple[float, float]) -> None:
    prometheus.set(q("bad", "v2"), canary[0])
    prometheus.set(q("total", "v2"), canary[1])
    prometheus.set(q("bad", "v1"), stable[0])
    prometheus.set(q("total", "v1"), stable[1])


def test_each_version_is_read_with_its_own_filled_in_queries():
    prometheus = Counters()
    metrics_watch(prometheus, RATIO)
    assert sorted(prometheus.asked) == sorted([q("bad", "v1"), q("total", "v1"), q("bad", "v2"), q("total", "v2")])


def test_a_canary_failing_checkouts_far_more_often_than_stable_is_rolled_back_naming_the_metric():
    prometheus = Counters()
    move(prometheus, (5, 100), (50, 9000))  # the baseline: what came before is not counted
    watch = metrics_watch(prometheus, RATIO, weight=10)
    canary, stable = [5, 100], [50, 9000]
    e_values = []
    for _ in range(6):
        canary = [canary[0] + 12, canary[1] + 100]
        stable = [stable[0] + 9, stable[1] + 900]
        move(prometheus, (canary[0], canary[1]), (stable[0], stable[1]))
        judged = watch.poll(10)
        (test,) = judged.tests
        e_values.append(test.e_value)
        if judged.reasons:
            break
    # One interval cannot carry it (each is capped at (1/pi)^1.25 = 17.8 at pi = 0.1), a few do.
    assert e_values[0] < 500 and 2 <= len(e_values) <= 5 and e_values[-1] >= 500
    (entry,) = judged.entries
    assert entry["versions"]["v2"] == {"bad": 12 * len(e_values), "total": 100 * len(e_values), "ratio": 12.0}
    assert entry["versions"]["v1"] == {"bad": 9 * len(e_values), "total": 900 * len(e_values), "ratio": 1.0}
    assert test.test == "checkout-failures against stable" and test.threshold == pytest.approx(500)
    (reason,) = judged.reasons
    assert reason.startswith("checkout-failures against stable: e-value ")
    assert f"canary {12 * len(e_values)}/{100 * len(e_values)} at 10%" in reason


def test_an_interval_in_which_the_weight_changed_adds_no_evidence():
    prometheus = Counters()
    move(prometheus, (0, 0), (0, 0))
    watch = metrics_watch(prometheus, RATIO, weight=0)  # the baseline at 0 %, the poll at 10 %
    move(prometheus, (50, 100), (9, 900))
    assert watch.poll(10).tests[0].e_value == 1.0
    move(prometheus, (100, 200), (18, 1800))
    assert watch.poll(10).tests[0].e_value > 1.0


def test_the_evidence_is_kept_and_continued_and_refused_for_other_queries():
    prometheus = Counters()
    move(prometheus, (0, 0), (0, 0))
    watch = metrics_watch(prometheus, RATIO, weight=10)
    move(prometheus, (12, 100), (9, 900))
    before = watch.poll(10).tests[0].e_value
    kept = watch.state()
    again = metrics_watch(prometheus, RATIO, weight=10)
    again.restore(kept)
    move(prometheus, (12, 100), (9, 900))  # nothing new since the new baseline
    assert again.poll(10).tests[0].e_value == pytest.approx(before)
    other = MetricSettings.model_validate({**RATIO.model_dump(by_alias=True), "bad": 'x{version="{{ version }}"}'})
    with pytest.raises(ValueError, match="gathered with metric checkout-failures reading other queries"):
        metrics_watch(prometheus, other, weight=10).restore(kept)
    with pytest.raises(ValueError, match=r"at alpha 0\.002"):
        metrics_watch(prometheus, RATIO, weight=10, alpha_each=0.001).restore(kept)


def test_a_canary_as_good_as_stable_is_not_rolled_back():
    prometheus = Counters()
    move(prometheus, (0, 0), (0, 0))
    watch = metrics_watch(prometheus, RATIO)
    move(prometheus, (1, 100), (9, 900))
    judged = watch.poll(10)
    assert judged.reasons == () and judged.tests[0].e_value < 10


def test_a_counter_reset_is_an_increase_as_prometheus_reads_one():
    prometheus = Counters()
    move(prometheus, (40, 1000), (0, 0))
    watch = metrics_watch(prometheus, RATIO)
    move(prometheus, (45, 1100), (0, 900))
    watch.poll(10)
    move(prometheus, (2, 30), (0, 1800))  # the canary's pod restarted: 2 and 30 are new
    (entry,) = watch.poll(10).entries
    assert entry["versions"]["v2"] == {"bad": 7, "total": 130, "ratio": pytest.approx(100 * 2 / 30, abs=1e-3)}


def test_bad_events_never_outrun_events_between_two_scrapes():
    prometheus = Counters()
    move(prometheus, (0, 0), (0, 0))
    watch = metrics_watch(prometheus, RATIO)
    move(prometheus, (8, 5), (0, 100))  # the bad counter scraped after more failures than the total
    (entry,) = watch.poll(10).entries
    assert entry["versions"]["v2"] == {"bad": 5, "total": 5, "ratio": 100.0}


@pytest.mark.slow
def test_a_healthy_canarys_ratio_metric_is_rarely_rolled_back():
    # 400 rollouts of 60 polls, both versions failing 2 % of checkouts, the canary at 10 %, then
    # 50 %: a false rollback chance of at most alpha_each = 0.01 allows about 4; 15 would be far
    # past it (P(Binomial(400, 0.01) >= 15) < 1e-4).
    rng = random.Random(7)
    false = 0
    for _ in range(400):
        prometheus = Counters()
        move(prometheus, (0, 0), (0, 0))
        watch = metrics_watch(prometheus, RATIO, alpha_each=0.01)
        c = [0, 0]
        s = [0, 0]
        for poll in range(60):
            share = 0.1 if poll < 30 else 0.5
            for counts, n in ((c, round(200 * share)), (s, round(200 * (1 - share)))):
                counts[1] += n
                counts[0] += sum(rng.random() < 0.02 for _ in range(n))
            move(prometheus, (c[0], c[1]), (s[0], s[1]))
            if watch.poll(10 if poll < 30 else 50).reasons:
                false += 1
                break
    assert false < 15


def test_a_threshold_fails_after_failure_limit_consecutive_bad_polls_only():
    prometheus = Counters()
    watch = metrics_watch(prometheus, LAG)
    states = []
    for value in (150, 150, 20, 150, 150, 150):
        prometheus.set(lag(), value)
        judged = watch.poll(10)
        states.append((judged.entries[0]["bad_polls"], bool(judged.reasons)))
    assert states == [(1, False), (2, False), (0, False), (1, False), (2, False), (3, True)]
    assert judged.reasons == ("queue-lag: 150 above max 100, 3 consecutive polls out of bounds (failureLimit 3)",)
    assert judged.tests == ()  # not an e-value: not alpha-bounded


def test_a_threshold_out_of_bounds_short_of_failure_limit_holds_naming_the_metric_value_and_bound():
    prometheus = Counters()
    watch = metrics_watch(prometheus, LAG)
    said = []
    for value in (150, 150, 20, 150, 150, 150):
        prometheus.set(lag(), value)
        judged = watch.poll(10)
        said.append((judged.holds, judged.reasons))
    held = [
        ("queue-lag: 150 above max 100, 1 of 3 consecutive polls out of bounds (failureLimit 3)",),
        ("queue-lag: 150 above max 100, 2 of 3 consecutive polls out of bounds (failureLimit 3)",),
    ]
    assert [holds for holds, _ in said] == [*held, (), *held, ()]
    assert [bool(reasons) for _, reasons in said] == [False] * 5 + [True]  # the limit reached: no hold, a rollback


def test_a_threshold_whose_failure_limit_is_one_never_holds():
    prometheus = Counters()
    strict = MetricSettings(name="saturation", kind="threshold", query='sat{version="{{ version }}"}', max=0.9)
    watch = metrics_watch(prometheus, strict)
    prometheus.set('sat{version="v2"}', 0.95)
    judged = watch.poll(10)
    assert judged.holds == () and judged.reasons == (
        "saturation: 0.95 above max 0.9, 1 consecutive polls out of bounds (failureLimit 1)",
    )


def test_a_threshold_without_a_series_or_with_many_is_a_bad_poll():
    prometheus = Counters()
    low = MetricSettings(name="saturation", kind="threshold", query='sat{version="{{ version }}"}', min=0.2)
    watch = metrics_watch(prometheus, low)
    (entry,) = watch.poll(10).entries
    assert (entry["problem"], entry["failed"]) == ("no series for the canary", True)
    prometheus.set('sat{version="v2"}', 0.5, 0.6)
    (entry,) = watch.poll(10).entries
    assert entry["problem"].startswith("2 series, where one number is judged")
    prometheus.set('sat{version="v2"}', 0.1)
    (entry,) = watch.poll(10).entries
    assert entry["problem"] == "0.1 below min 0.2"
    prometheus.set('sat{version="v2"}', 0.3)
    (entry,) = watch.poll(10).entries
    assert (entry["value"], entry["problem"], entry["failed"]) == (0.3, None, False)


def test_a_metric_rolls_the_canary_back_while_the_mesh_is_clean():
    prometheus = Counters()
    move(prometheus, (0, 0), (0, 0))
    mesh = iter([MeshCounters(versions={})] * 10)
    metrics = MetricsWatch(
        [RATIO, LAG],
        query=prometheus,
        namespace="shop",
        app="web",
        stable="v1",
        canary="v2",
        alpha_each=0.01 / 6,
        weight=10,
    )
    analysis = SequentialAnalysis(alpha_shares=6, weight=10)
    health = HealthWatch(read=lambda: next(mesh), analysis=analysis, stable="v1", canary="v2", metrics=metrics)
    health.begin()
    prometheus.set(lag(), 5)
    for poll_number in range(1, 7):
        move(prometheus, (30 * poll_number, 100 * poll_number), (10 * poll_number, 1000 * poll_number))
        poll = health.poll(10, 10.0 * poll_number, {})
        if poll.rollback:
            break
    document: dict[str, Any] = poll.to_json()
    assert poll.rollback and poll.reasons[0].startswith("checkout-failures against stable")
    assert [test["test"] for test in document["tests"]][-1] == "checkout-failures against stable"
    assert document["tests"][-1]["threshold"] == pytest.approx(600)  # 1 / (0.01 / 6)
    assert [metric["name"] for metric in document["metrics"]] == ["checkout-failures", "queue-lag"]
    assert not any(t["e_value"] >= t["threshold"] for t in document["tests"][:4])  # the mesh's tests: clean


def test_a_thresholds_hold_is_the_polls_hold_beside_the_analysis():
    prometheus = Counters()
    move(prometheus, (0, 0), (0, 0))
    mesh = iter([MeshCounters(versions={})] * 10)
    metrics = MetricsWatch(
        [LAG], query=prometheus, namespace="shop", app="web", stable="v1", canary="v2", alpha_each=0.002, weight=10
    )
    health = HealthWatch(
        read=lambda: next(mesh), analysis=SequentialAnalysis(weight=10), stable="v1", canary="v2", metrics=metrics
    )
    health.begin()
    prometheus.set(lag(), 400)
    poll = health.poll(10, 10.0, {})
    assert (poll.hold, poll.rollback) == (True, False)
    assert poll.holds == ("queue-lag: 400 above max 100, 1 of 3 consecutive polls out of bounds (failureLimit 3)",)
    assert poll.to_json()["holds"] == list(poll.holds)
    prometheus.set(lag(), 40)
    assert health.poll(10, 20.0, {}).hold is False


def test_each_ratio_metric_calibrates_on_stables_history_before_the_rollout():
    asked: list[str] = []
    # Stable's failed checkouts per interval come in clumps: 0, 0, 40, 0, 0, 40 ... of 1000 each.
    clumped = [40.0 if i % 3 == 2 else 0.0 for i in range(30)]

    def history(promql: str) -> list[float]:
        asked.append(promql)
        return clumped if "failures" in promql else [1000.0] * 30

    watch = MetricsWatch(
        [RATIO],
        query=Counters(),
        namespace="shop",
        app="web",
        stable="v1",
        canary="v2",
        alpha_each=0.002,
        weight=10,
        history=history,
        step=10,
    )
    said = watch.calibrate()
    assert asked == [
        'sum(increase((checkout_failures_total{app="web",version="v1"})[10s:1s]))',
        'sum(increase((checkouts_total{app="web",version="v1"})[10s:1s]))',
    ]
    assert said.startswith("checkout-failures: stable's bad events over 30 intervals before the rollout vary ")
    # The same canary interval weighs less against a stable known to clump than against a steady one.
    steady = metrics_watch(Counters(), RATIO, weight=10)
    for judge in (watch, steady):
        judge._ratios[0].comparison.observe(10, RatioCounts(), RatioCounts())
    calibrated = watch._ratios[0].comparison.observe(10, RatioCounts(12, 100), RatioCounts(9, 900)).e_value
    plain = steady._ratios[0].comparison.observe(10, RatioCounts(12, 100), RatioCounts(9, 900)).e_value
    assert 1 < calibrated < plain
