"""The sequential analysis: worked figures, evidence carried across steps, and false alarms."""

from __future__ import annotations

import json
import math
import random

import pytest

from canary.policy import Limits
from canary.rollout.analysis import (
    Counts,
    CumulativeComparison,
    Decision,
    SequentialAnalysis,
    comparison_edges,
)
from canary.rollout.sequential_tests import TestResult as Result
from canary.rollout.sequential_tests import dispersion


def at(weight: int, limits: Limits | None = None) -> SequentialAnalysis:
    """An analysis whose counting began with the canary already at `weight`."""
    return SequentialAnalysis(limits, weight=weight)


def test_one_canary_error_against_no_stable_error_gives_the_hand_computed_e_value() -> None:
    # share 0.1, m = 1, x = 1: E = mean_k theta_k / (0.1 theta_k + 0.9) over the ten-point grid,
    # worked out by hand (1.1 / 1.01, 1.25 / 1.025, ... , 1000 / 100.9) to 4.36674.
    decision = at(10).observe(weight=10, canary=Counts(requests=100, errors=1), stable=Counts(requests=900, errors=0))
    (relative,) = [t for t in decision.tests if t.test == "error rate against stable"]
    assert relative.e_value == pytest.approx(4.36674, abs=1e-4)
    assert relative.p_value == pytest.approx(1 / 4.36674, abs=1e-4)


def test_a_burst_of_canary_errors_in_one_interval_counts_at_most_one_over_the_share_to_the_1_25() -> None:
    # x = m = 2 at share 0.1: theta^2 / (0.1 theta + 0.9)^2 is 1.18616, 1.48721, 2.04082, 3.30579,
    # 6.25, 12.7551 for theta up to 5, and above 10^1.25 = 17.78279 from theta = 10 on (capped):
    # mean 9.81563.
    decision = at(10).observe(weight=10, canary=Counts(100, 2), stable=Counts(900, 0))
    assert comparison(decision).e_value == pytest.approx(9.81563, abs=1e-4)


def test_an_interval_in_which_the_weight_changed_adds_nothing_to_the_comparison() -> None:
    # 10 canary 5xx of 100 against none of stable's would be decisive at a constant share; but the
    # share moved inside the interval, so the binomial argument does not hold there.
    analysis = at(5, Limits(max_error_rate=100))
    decision = analysis.observe(weight=10, canary=Counts(100, 10), stable=Counts(900, 0))
    assert comparison(decision).e_value == 1.0
    assert not decision.rollback
    then = analysis.observe(weight=10, canary=Counts(200, 20), stable=Counts(1800, 0))
    assert comparison(then).e_value > 1.0


def test_counting_from_an_unknown_weight_does_not_compare_the_first_interval() -> None:
    decision = SequentialAnalysis().observe(weight=10, canary=Counts(100, 10), stable=Counts(900, 0))
    assert comparison(decision).e_value == 1.0


def test_the_z_tests_false_alarm_one_canary_5xx_and_no_stable_5xx_at_10_percent_is_no_rollback() -> None:
    for requests in (50, 1000, 100_000):
        decision = at(10).observe(
            weight=10,
            canary=Counts(requests=requests, errors=1),
            stable=Counts(requests=9 * requests, errors=0),
        )
        assert not decision.rollback, decision.reasons


def test_two_errors_in_ten_requests_against_a_1_percent_limit_give_the_hand_computed_e_value() -> None:
    decision = SequentialAnalysis().observe(weight=10, canary=Counts(10, 2), stable=Counts(90, 0))
    (limit,) = [t for t in decision.tests if t.test == "error rate limit"]
    # r = 20 % / 1 % = 20; mean over c = 0.25, 0.5, 0.8, 0.95, 0.99 of 1 - c + 20 c:
    # (5.75 + 10.5 + 16.2 + 19.05 + 19.81) / 5
    assert limit.e_value == pytest.approx(14.262, abs=1e-9)
    assert not decision.rollback  # 14 is far from 1 / 0.002 = 500


def test_both_versions_above_the_limit_in_an_interval_is_a_hold_not_evidence() -> None:
    decision = SequentialAnalysis().observe(weight=10, canary=Counts(100, 20), stable=Counts(900, 180))
    (limit,) = [t for t in decision.tests if t.test == "error rate limit"]
    assert limit.e_value == 1.0
    assert decision.hold and not decision.rollback
    assert decision.holds[0].startswith("error rate limit: stable too at or above the limit (20% of 900")


def test_a_canary_above_the_limit_while_stable_is_under_it_is_no_hold() -> None:
    decision = SequentialAnalysis().observe(weight=10, canary=Counts(100, 20), stable=Counts(900, 0))
    assert not decision.hold


def test_no_data_is_no_evidence() -> None:
    decision = SequentialAnalysis().observe(weight=5, canary=Counts(), stable=Counts())
    assert not decision.rollback
    assert all(t.e_value == 1.0 for t in decision.tests)


def test_a_canary_failing_every_request_is_rolled_back_within_two_intervals() -> None:
    analysis = SequentialAnalysis()
    first = analysis.observe(weight=10, canary=Counts(1, 1), stable=Counts(9, 0))
    assert not first.rollback
    decision = analysis.observe(weight=10, canary=Counts(2, 2), stable=Counts(18, 0))
    assert decision.rollback
    assert any(reason.startswith("error rate limit: e-value") for reason in decision.reasons)


def test_error_free_stable_and_a_failing_canary_is_caught_by_the_comparison_too() -> None:
    # limit set high, so only the comparison with an error-free stable can act
    analysis = at(10, Limits(max_error_rate=100))
    analysis.observe(weight=10, canary=Counts(200, 10), stable=Counts(1800, 0))
    analysis.observe(weight=10, canary=Counts(400, 20), stable=Counts(3600, 0))
    decision = analysis.observe(weight=10, canary=Counts(600, 30), stable=Counts(5400, 0))
    assert [r.split(":")[0] for r in decision.reasons] == ["error rate against stable"]


def test_evidence_carries_across_a_weight_change() -> None:
    # One interval at 10 % and two at 25 %, 2 canary 5xx and no stable one in each: each step's
    # alone stays below the threshold (250); together they pass it.
    def run(steps: list[tuple[int, int]]) -> Decision:
        analysis = at(steps[0][0], Limits(max_error_rate=100))
        canary, stable = Counts(), Counts()
        for weight, intervals in steps:
            for k in range(intervals + 1):  # the first of each step is the change: not compared
                n_c = 100 * weight // 10
                canary = Counts(canary.requests + n_c, canary.errors + (2 if k else 0))
                stable = Counts(stable.requests + 1000 - n_c, 0)
                decision = analysis.observe(weight=weight, canary=canary, stable=stable)
        return decision

    assert not run([(10, 1)]).rollback
    assert not run([(25, 2)]).rollback
    both = run([(10, 1), (25, 2)])
    assert both.rollback
    assert comparison(both).e_value > comparison(run([(10, 1)])).e_value


def test_a_counter_reset_counts_the_new_value_as_the_increase() -> None:
    reset = SequentialAnalysis()
    reset.observe(weight=10, canary=Counts(100, 0), stable=Counts(900, 0))
    after = reset.observe(weight=10, canary=Counts(10, 2), stable=Counts(990, 0))
    fresh = SequentialAnalysis()
    fresh.observe(weight=10, canary=Counts(100, 0), stable=Counts(900, 0))
    same = fresh.observe(weight=10, canary=Counts(110, 2), stable=Counts(990, 0))
    assert [t.e_value for t in after.tests] == pytest.approx([t.e_value for t in same.tests])


def test_a_slow_canary_is_rolled_back_by_the_exceedance_count_at_the_limits_edge() -> None:
    limits = Limits(max_p99_ms=250)
    analysis = SequentialAnalysis(limits)
    # The histograms' first reading starts the count; then 10 % of the canary's requests take
    # longer than 250 ms (the edge), none of stable's, in two intervals.
    analysis.observe(weight=10, canary=Counts(1, 0, {100.0: 1, 250.0: 1}), stable=Counts(9, 0, {250.0: 9}))
    analysis.observe(weight=10, canary=Counts(201, 0, {100.0: 151, 250.0: 181}), stable=Counts(1809, 0, {250.0: 1809}))
    for k in range(2, 5):
        canary = Counts(1 + 200 * k, 0, {100.0: 1 + 150 * k, 250.0: 1 + 180 * k})
        decision = analysis.observe(weight=10, canary=canary, stable=Counts(9 + 1800 * k, 0, {250.0: 9 + 1800 * k}))
    assert decision.rollback and decision.reasons[0].startswith("p99 limit: e-value")


def test_a_canary_as_fast_as_the_limit_allows_is_kept() -> None:
    analysis = SequentialAnalysis(Limits(max_p99_ms=250))
    canary = Counts(2000, 0, {100.0: 1900, 250.0: 1990, 500.0: 2000})  # 0.5 % above the edge
    decision = analysis.observe(weight=10, canary=canary, stable=Counts(18000, 0, {250.0: 18000}))
    assert not decision.rollback


@pytest.mark.slow
def test_a_healthy_canary_watched_every_poll_is_rarely_rolled_back() -> None:
    """False alarms by simulation: canary and stable both 0.5 % 5xx, 10 % weight, 200 polls of
    1000 requests. The analysis' guarantee is at most alpha (1 %) for the whole rollout."""
    rng = random.Random(7)
    runs, rolled_back = 300, 0
    for _ in range(runs):
        analysis = SequentialAnalysis()
        canary, stable = Counts(), Counts()
        for _ in range(200):
            c_n, s_n = 100, 900
            c_x = sum(rng.random() < 0.005 for _ in range(c_n))
            s_y = sum(rng.random() < 0.005 for _ in range(s_n))
            canary = Counts(canary.requests + c_n, canary.errors + c_x)
            stable = Counts(stable.requests + s_n, stable.errors + s_y)
            if analysis.observe(weight=10, canary=canary, stable=stable).rollback:
                rolled_back += 1
                break
    # 1 % of 300 is 3; binomial(300, 0.01) exceeds 9 with probability under 0.1 %.
    assert rolled_back <= 9


def test_a_canary_failing_every_request_at_high_traffic_is_rolled_back_with_a_finite_e_value() -> None:
    # 500 of 500 canary requests failing in each poll: the comparison's log e-value grows by
    # hundreds a poll; it stays a finite float for the JSON report.
    analysis = at(5)
    for k in range(1, 4):
        decision = analysis.observe(
            weight=5, canary=Counts(requests=500 * k, errors=500 * k), stable=Counts(requests=9500 * k, errors=9 * k)
        )
    assert decision.rollback
    assert all(math.isfinite(t.e_value) for t in decision.tests)


# Stable without a single 5xx is the normal case: both directions are judged against it.


def comparison(decision: Decision) -> Result:
    (relative,) = [t for t in decision.tests if t.test == "error rate against stable"]
    return relative


def test_an_error_free_canary_beside_an_error_free_stable_is_kept_and_the_comparison_learns_nothing() -> None:
    analysis = SequentialAnalysis()
    for poll in range(1, 11):
        decision = analysis.observe(weight=10, canary=Counts(100 * poll, 0), stable=Counts(900 * poll, 0))
    assert not decision.rollback
    # No 5xx at all: nothing tells the two error rates apart, so the e-value stays at its start.
    assert comparison(decision).e_value == 1.0
    # A thousand canary requests without a 5xx are evidence that it is under the 1 % limit.
    (limit,) = [t for t in decision.tests if t.test == "error rate limit"]
    assert limit.e_value < 1.0


def test_a_5xx_of_stable_beside_an_error_free_canary_is_evidence_for_the_canary() -> None:
    # share 0.1, m = 1, x = 0: E = mean_k 1 / (0.1 theta_k + 0.9) over the ten-point grid
    # (1 / 1.01, 1 / 1.025, 1 / 1.05, ..., 1 / 100.9) = 0.62592.
    decision = at(10).observe(weight=10, canary=Counts(100, 0), stable=Counts(900, 1))
    assert not decision.rollback
    assert comparison(decision).e_value == pytest.approx(0.62592, abs=1e-4)


def test_the_p_value_keeps_the_strongest_evidence_seen_when_later_polls_weaken_it() -> None:
    analysis = at(10)
    first = analysis.observe(weight=10, canary=Counts(100, 1), stable=Counts(900, 0))
    # Then 5 stable 5xx and none of the canary's: the e-value falls, the p-value (min of 1/e) stays.
    later = analysis.observe(weight=10, canary=Counts(200, 1), stable=Counts(1800, 5))
    assert comparison(later).e_value < comparison(first).e_value
    assert comparison(later).p_value == pytest.approx(1 / 4.36674, abs=1e-4)


@pytest.mark.parametrize(
    ("canary", "stable"), [(Counts(10, 11), Counts(90, 0)), (Counts(10, 0), Counts(90, 91))], ids=["canary", "stable"]
)
def test_more_errors_than_requests_in_an_interval_are_refused(canary: Counts, stable: Counts) -> None:
    with pytest.raises(ValueError, match="outnumber"):
        SequentialAnalysis().observe(weight=10, canary=canary, stable=stable)


def test_each_tests_threshold_is_one_over_its_share_of_alpha() -> None:
    # alpha 1 % in five shares of 0.2 %: the 5xx comparison takes two, the limit one, each p99 test half.
    decision = SequentialAnalysis().observe(weight=5, canary=Counts(), stable=Counts())
    thresholds = {t.test: t.threshold for t in decision.tests}
    assert thresholds == pytest.approx(
        {"error rate against stable": 250, "error rate limit": 500, "p99 limit": 1000, "p99 against stable": 1000}
    )


def test_an_e_value_that_reaches_one_over_alpha_exactly_rolls_back() -> None:
    # Ville's bound is on reaching 1/alpha: reaching it is enough. Two intervals of a dead canary
    # against a 1 % limit, with alpha set so the threshold is exactly the e-value they give.
    def limit_e_value(limits: Limits) -> float:
        analysis = SequentialAnalysis(limits, alpha_shares=4)
        analysis.observe(weight=5, canary=Counts(1, 1), stable=Counts(19, 0))
        decision = analysis.observe(weight=5, canary=Counts(2, 2), stable=Counts(38, 0))
        return next(t.e_value for t in decision.tests if t.test == "error rate limit")

    e = limit_e_value(Limits(alpha=0.01))
    analysis = SequentialAnalysis(Limits(alpha=4 / e), alpha_shares=4)
    analysis.observe(weight=5, canary=Counts(1, 1), stable=Counts(19, 0))
    decision = analysis.observe(weight=5, canary=Counts(2, 2), stable=Counts(38, 0))
    assert [r.split(":")[0] for r in decision.reasons] == ["error rate limit"]


EDGES = (5.0, 10.0, 25.0, 50.0, 100.0)


def histogram(*at_most: int) -> dict[float, int]:
    return dict(zip(EDGES, at_most, strict=True))


# A canary that, in its second interval, takes longer than 25 ms for 160 of 200 requests but never 50 ms.
SLOWER_CANARY = (Counts(100, 0, histogram(50, 99, 100, 100, 100)), Counts(300, 0, histogram(60, 110, 140, 300, 300)))


def latency_decision(limits: Limits, stable_first: Counts) -> Decision:
    analysis = SequentialAnalysis(limits)
    analysis.observe(weight=10, canary=SLOWER_CANARY[0], stable=stable_first)
    stable_then = Counts(2 * stable_first.requests, 0, {e: 2 * n for e, n in stable_first.buckets.items()})
    return analysis.observe(weight=10, canary=SLOWER_CANARY[1], stable=stable_then)


def test_more_slow_requests_than_requests_in_an_interval_count_as_all_of_them() -> None:
    # Counters scraped a moment apart: the histogram says 20 of the interval's requests were slow,
    # the request count says there were 10. Judged as 10 slow of 10, as a consistent scrape would say.
    def p99_limit(then: Counts) -> float:
        analysis = SequentialAnalysis(Limits(max_p99_ms=250))
        analysis.observe(weight=10, canary=Counts(100, 0, {250.0: 100}), stable=Counts(900, 0))
        decision = analysis.observe(weight=10, canary=then, stable=Counts(1800, 0))
        (limit,) = [t for t in decision.tests if t.test == "p99 limit"]
        return limit.e_value

    assert p99_limit(Counts(110, 0, {250.0: 90})) == p99_limit(Counts(110, 0, {250.0: 100}))


def test_a_poll_with_the_same_counts_as_the_last_adds_no_evidence() -> None:
    analysis = SequentialAnalysis()
    first = analysis.observe(weight=10, canary=Counts(100, 1), stable=Counts(900, 0))
    again = analysis.observe(weight=10, canary=Counts(100, 1), stable=Counts(900, 0))
    assert [t.e_value for t in again.tests] == [t.e_value for t in first.tests]


def test_the_p99_comparison_takes_the_edge_pair_at_the_ratio_with_the_most_stable_requests_above() -> None:
    # 30 % of stable above 25 ms (too many to speak of its tail), 6 % above 50 (partner 100: ratio
    # 2), 0.4 % above 100 (partner 250: ratio 2.5), none above 250.
    stable = Counts(1000, 0, {25.0: 700, 50.0: 940, 100.0: 996, 250.0: 1000, 500.0: 1000})
    assert comparison_edges(stable, ratio=2, gap_ms=5) == (50.0, 100.0)
    assert comparison_edges(stable, ratio=2.2, gap_ms=5) == (100.0, 250.0)
    assert comparison_edges(Counts(199, 0, dict(stable.buckets)), ratio=2, gap_ms=5) is None
    # Every stable request within 5 ms: the canary is counted above 10 ms, stable above 5 (none).
    fast = Counts(1000, 0, {1.0: 0, 5.0: 1000, 10.0: 1000, 25.0: 1000})
    assert comparison_edges(fast, ratio=2, gap_ms=5) == (5.0, 10.0)


def slow_versions(canary_above_100: int, stable_above_50: int, intervals: int) -> Decision:
    """Intervals of 1000 canary and 9000 stable requests: the canary's above 100 ms, stable's above 50."""
    analysis = at(10)
    decision = None
    for k in range(intervals + 1):
        n_c, n_s = 1000 * k, 9000 * k
        a_c, a_s = canary_above_100 * k, stable_above_50 * k
        canary = Counts(n_c, 0, {25.0: n_c // 2, 50.0: n_c - 2 * a_c, 100.0: n_c - a_c, 250.0: n_c})
        stable = Counts(n_s, 0, {25.0: n_s // 2, 50.0: n_s - a_s, 100.0: n_s - a_s // 20, 250.0: n_s})
        decision = analysis.observe(weight=10, canary=canary, stable=stable)
    assert decision is not None
    return decision


def test_a_canary_above_twice_stables_edge_twice_as_often_is_rolled_back_and_the_ratio_tested_reported() -> None:
    decision = slow_versions(canary_above_100=120, stable_above_50=540, intervals=12)
    assert [r.split(":")[0] for r in decision.reasons] == ["p99 against stable"]
    (p99,) = [t for t in decision.tests if t.test == "p99 against stable"]
    assert p99.detail.endswith("canary above 100 ms against stable above 50 ms (stable's p94): ratio tested 2")


def test_both_versions_slower_alike_is_no_rollback() -> None:
    # The canary as often above 100 ms as stable above 50: within 2x at that level, however slow both are.
    decision = slow_versions(canary_above_100=60, stable_above_50=540, intervals=30)
    assert not decision.rollback


def test_the_first_histogram_seen_is_not_judged() -> None:
    # 1000 requests counted before the histogram's first reading: all would look slower than 250 ms.
    analysis = SequentialAnalysis(Limits(max_p99_ms=250))
    analysis.observe(weight=10, canary=Counts(1000, 0), stable=Counts(9000, 0))
    decision = analysis.observe(weight=10, canary=Counts(1010, 0, {250.0: 10}), stable=Counts(9090, 0, {250.0: 90}))
    (limit,) = [t for t in decision.tests if t.test == "p99 limit"]
    assert limit.e_value == 1.0


def test_a_comparison_calibrated_on_clumped_stable_history_is_tempered() -> None:
    clumped = [(20, 1000)] + [(0, 1000)] * 9  # dispersion 2 / 0.6230 = 3.21
    plain = at(10)
    tempered = at(10)
    tempered.errors_vs_stable.calibrate(clumped)
    for analysis in (plain, tempered):
        analysis.observe(weight=10, canary=Counts(100, 1), stable=Counts(900, 0))
    # One canary 5xx: log E per theta divided by 3.21 before mixing.
    expected = (
        sum(
            math.exp(math.log(theta / (0.1 * theta + 0.9)) / (2 / 0.6230))
            for theta in (1.1, 1.25, 1.5, 2, 3, 5, 10, 30, 100, 1000)
        )
        / 10
    )
    assert comparison_of(tempered).e_value == pytest.approx(expected)
    assert comparison_of(plain).e_value == pytest.approx(4.36674, abs=1e-4)


def comparison_of(analysis: SequentialAnalysis) -> Result:
    (relative,) = [t for t in analysis.results() if t.test == "error rate against stable"]
    return relative


def test_stables_clumped_errors_are_measured_as_dispersion() -> None:
    # p = 20 / 10000, p s = 2: terms 162 once and 2 nine times; the top 10 % (162) left out: mean 2,
    # divided by the trimmed chi-square's 0.6230.
    assert dispersion([(20, 1000)] + [(0, 1000)] * 9) == pytest.approx(2 / 0.6230)
    assert dispersion([(2, 1000)] * 10) == 1.0
    assert dispersion([(20, 1000)] * 4) == 1.0  # too few intervals to tell


def test_a_resumed_analysis_continues_the_evidence_from_a_fresh_baseline() -> None:
    first = at(10)
    before = first.observe(weight=10, canary=Counts(100, 3), stable=Counts(900, 0))
    kept = json.loads(json.dumps(first.state()))
    resumed = SequentialAnalysis.resumed(kept)
    assert [t.e_value for t in resumed.observe(weight=10, canary=Counts(), stable=Counts()).tests] == pytest.approx(
        [t.e_value for t in before.tests]
    )
    # The first interval after the baseline is not compared; the next one adds to what was kept.
    resumed.observe(weight=10, canary=Counts(100, 3), stable=Counts(900, 0))
    then = resumed.observe(weight=10, canary=Counts(200, 6), stable=Counts(1800, 0))
    assert comparison(then).e_value > comparison(before).e_value


def test_a_kept_analysis_with_another_alpha_is_refused() -> None:
    kept = at(10).state()
    with pytest.raises(ValueError, match="alpha"):
        SequentialAnalysis.resumed(kept, Limits(alpha=0.05))


def test_a_cumulative_comparison_judges_a_custom_ratio_as_the_5xx_comparison_does() -> None:
    # The same counts as bad/all events: the same e-values as the 5xx comparison, at its alpha.
    analysis = at(10)
    metric = CumulativeComparison("checkout failures against stable", alpha=0.002, weight=10)
    for k in (1, 2, 3):
        decision = analysis.observe(weight=10, canary=Counts(100 * k, 2 * k), stable=Counts(900 * k, k))
        result = metric.observe(weight=10, canary=(2 * k, 100 * k), stable=(k, 900 * k))
    assert result.e_value == pytest.approx(comparison(decision).e_value)
    assert (result.test, result.threshold) == ("checkout failures against stable", 500)
    # A weight change in the interval: nothing added.
    changed = metric.observe(weight=25, canary=(20, 200 + 300), stable=(3, 900 * 3 + 700))
    assert changed.e_value == result.e_value


def test_fewer_alpha_shares_than_the_tests_take_are_refused() -> None:
    with pytest.raises(ValueError, match="alpha_shares must be at least 4"):
        SequentialAnalysis(alpha_shares=1)
