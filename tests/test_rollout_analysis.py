"""The sequential analysis: worked figures, evidence carried across steps, and false alarms."""

from __future__ import annotations

import math
import random

import pytest

from canary.policy import Limits
from canary.rollout.analysis import Counts, Decision, SequentialAnalysis
from canary.rollout.analysis import TestResult as Result


def test_one_canary_error_against_no_stable_error_gives_the_hand_computed_e_value() -> None:
    # share 0.1, m = 1, x = 1: E = mean_k theta_k / (0.1 theta_k + 0.9) over the nine-point grid,
    # worked out by hand (2 / 1.1, 3 / 1.2, ... , 1000 / 100.9) to 4.7309.
    decision = SequentialAnalysis().observe(
        weight=10, canary=Counts(requests=100, errors=1), stable=Counts(requests=900, errors=0)
    )
    (relative,) = [t for t in decision.tests if t.test == "error rate against stable"]
    assert relative.e_value == pytest.approx(4.7309, abs=1e-4)
    assert relative.p_value == pytest.approx(1 / 4.7309, abs=1e-4)


def test_the_z_tests_false_alarm_one_canary_5xx_and_no_stable_5xx_at_10_percent_is_no_rollback() -> None:
    for requests in (50, 1000, 100_000):
        decision = SequentialAnalysis().observe(
            weight=10,
            canary=Counts(requests=requests, errors=1),
            stable=Counts(requests=9 * requests, errors=0),
        )
        assert not decision.rollback, decision.reasons


def test_two_errors_in_ten_requests_against_a_1_percent_limit_give_the_hand_computed_e_value() -> None:
    decision = SequentialAnalysis().observe(weight=10, canary=Counts(10, 2), stable=Counts(90, 0))
    (limit,) = [t for t in decision.tests if t.test == "error rate limit"]
    # mean over p_j = 1.25 %, ..., 99.9 % of (p_j / 1 %)^2 ((1 - p_j) / 99 %)^8
    assert limit.e_value == pytest.approx(16.9845, abs=1e-3)
    assert not decision.rollback  # 17 is far from 1 / 0.002 = 500


def test_no_data_is_no_evidence() -> None:
    decision = SequentialAnalysis().observe(weight=5, canary=Counts(), stable=Counts())
    assert not decision.rollback
    assert all(t.e_value == 1.0 for t in decision.tests)


def test_a_canary_failing_every_request_is_rolled_back_within_a_few_errors() -> None:
    analysis = SequentialAnalysis()
    decision = analysis.observe(weight=10, canary=Counts(5, 5), stable=Counts(45, 0))
    assert decision.rollback
    assert any(reason.startswith("error rate limit: e-value") for reason in decision.reasons)


def test_error_free_stable_and_a_failing_canary_is_caught_by_the_comparison_too() -> None:
    # limit set high, so only the comparison with an error-free stable can act
    analysis = SequentialAnalysis(Limits(max_error_rate=100))
    decision = analysis.observe(weight=10, canary=Counts(200, 10), stable=Counts(1800, 0))
    assert [r.split(":")[0] for r in decision.reasons] == ["error rate against stable"]


def test_evidence_carries_across_a_weight_change() -> None:
    # Each poll alone is below the threshold; together they pass it.
    single = SequentialAnalysis(Limits(max_error_rate=100))
    alone = single.observe(weight=10, canary=Counts(100, 3), stable=Counts(900, 0))
    assert not alone.rollback
    carried = SequentialAnalysis(Limits(max_error_rate=100))
    carried.observe(weight=10, canary=Counts(100, 3), stable=Counts(900, 0))
    decision = carried.observe(weight=25, canary=Counts(350, 6), stable=Counts(1650, 0))
    assert decision.rollback
    (relative,) = [t for t in decision.tests if t.test == "error rate against stable"]
    assert relative.e_value > next(t for t in alone.tests if t.test == relative.test).e_value


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
    # 10 % of the canary's requests take longer than 250 ms (the edge), none of stable's.
    canary = Counts(200, 0, {100.0: 150, 250.0: 180, 500.0: 200})
    stable = Counts(1800, 0, {100.0: 1800, 250.0: 1800, 500.0: 1800})
    decision = analysis.observe(weight=10, canary=canary, stable=stable)
    assert decision.rollback and decision.reasons[0].startswith("p99 limit: e-value")


def test_a_canary_as_fast_as_the_limit_allows_is_kept() -> None:
    analysis = SequentialAnalysis(Limits(max_p99_ms=250))
    canary = Counts(2000, 0, {100.0: 1900, 250.0: 1990, 500.0: 2000})  # 0.5 % above the edge
    decision = analysis.observe(weight=10, canary=canary, stable=Counts(18000, 0, {250.0: 18000}))
    assert not decision.rollback


def test_latency_against_stable_uses_stables_p99_edge_once_it_is_known() -> None:
    analysis = SequentialAnalysis(Limits(max_p99_ratio=2))
    edges = (5.0, 10.0, 25.0, 50.0, 100.0)
    stable_1 = Counts(1000, 0, dict(zip(edges, (500, 995, 1000, 1000, 1000), strict=True)))  # p99 edge 10
    canary_1 = Counts(100, 0, dict(zip(edges, (50, 99, 100, 100, 100), strict=True)))
    analysis.observe(weight=10, canary=canary_1, stable=stable_1)
    # Then the canary gets slower: 30 % above 25 ms (2 x 10 ms rounds up to the 25 ms edge).
    stable_2 = Counts(2000, 0, dict(zip(edges, (1000, 1990, 2000, 2000, 2000), strict=True)))
    canary_2 = Counts(300, 0, dict(zip(edges, (60, 110, 140, 300, 300), strict=True)))
    decision = analysis.observe(weight=10, canary=canary_2, stable=stable_2)
    assert decision.rollback
    assert [r.split(":")[0] for r in decision.reasons] == ["p99 against stable"]


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
    # 500 of 500 canary requests failing in one poll: the limit test's log e-value is about
    # 500 ln(0.999 / 0.01) = 2300, past what a float's exp() holds.
    decision = SequentialAnalysis().observe(
        weight=5, canary=Counts(requests=500, errors=500), stable=Counts(requests=9500, errors=9)
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
    # share 0.1, m = 1, x = 0: E = mean_k 1 / (0.1 theta_k + 0.9) over the nine-point grid,
    # worked out by hand (1 / 1.025, 1 / 1.05, 1 / 1.1, ..., 1 / 100.9) to 0.58545.
    decision = SequentialAnalysis().observe(weight=10, canary=Counts(100, 0), stable=Counts(900, 1))
    assert not decision.rollback
    assert comparison(decision).e_value == pytest.approx(0.58545, abs=1e-4)


def test_the_p_value_keeps_the_strongest_evidence_seen_when_later_polls_weaken_it() -> None:
    analysis = SequentialAnalysis()
    first = analysis.observe(weight=10, canary=Counts(100, 1), stable=Counts(900, 0))
    # Then 5 stable 5xx and none of the canary's: the e-value falls, the p-value (min of 1/e) stays.
    later = analysis.observe(weight=10, canary=Counts(200, 1), stable=Counts(1800, 5))
    assert comparison(later).e_value < comparison(first).e_value
    assert comparison(later).p_value == pytest.approx(1 / 4.7309, abs=1e-4)


@pytest.mark.parametrize(
    ("canary", "stable"), [(Counts(10, 11), Counts(90, 0)), (Counts(10, 0), Counts(90, 91))], ids=["canary", "stable"]
)
def test_more_errors_than_requests_in_an_interval_are_refused(canary: Counts, stable: Counts) -> None:
    with pytest.raises(ValueError, match="outnumber"):
        SequentialAnalysis().observe(weight=10, canary=canary, stable=stable)


def test_an_e_value_that_reaches_one_over_alpha_exactly_rolls_back() -> None:
    # Ville's bound is on reaching 1/alpha, so reaching it is enough: with alpha 1 (one share) the
    # threshold is 1, which the e-value of no data (exactly 1) already reaches.
    decision = SequentialAnalysis(Limits(alpha=1.0), alpha_shares=1).observe(weight=5, canary=Counts(), stable=Counts())
    assert decision.tests[0].threshold == 1.0
    assert decision.rollback


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


def test_stables_p99_edge_is_fixed_at_exactly_500_stable_requests() -> None:
    # 2 of 500 above 10 ms: stable's p99 edge is 10, twice that rounds up to the 25 ms edge.
    decision = latency_decision(Limits(max_p99_ratio=2), Counts(500, 0, histogram(250, 498, 500, 500, 500)))
    assert [r.split(":")[0] for r in decision.reasons] == ["p99 against stable"]


def test_exactly_1_percent_above_an_edge_makes_it_stables_p99_edge() -> None:
    # 10 of 1000 above 10 ms is at most 1 %: the edge is 10 ms (not 25), and the canary is compared at 25 ms.
    decision = latency_decision(Limits(max_p99_ratio=2), Counts(1000, 0, histogram(500, 990, 1000, 1000, 1000)))
    assert [r.split(":")[0] for r in decision.reasons] == ["p99 against stable"]


def test_a_canary_slower_than_twice_stables_p99_but_within_the_minimum_gap_is_kept() -> None:
    # Stable's p99 edge 10 ms: twice that is 20, but 10 + 30 ms of gap is more: the edge is 50 ms,
    # above which the canary never went.
    limits = Limits(max_p99_ratio=2, min_p99_gap_ms=30)
    decision = latency_decision(limits, Counts(1000, 0, histogram(500, 995, 1000, 1000, 1000)))
    assert not decision.rollback
    (ratio,) = [t for t in decision.tests if t.test == "p99 against stable"]
    assert ratio.e_value < 1.0


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
