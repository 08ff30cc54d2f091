"""The benchmark's judges on hand-made rollouts: each rule rolls back when it says it would.

Bins are 10 s; the figures in each test are worked out by hand from the rules in
benchmarks/flagger_rule.py and benchmarks/argo_rule.py (Flagger: checks every 60 s from 60 s,
rollback on the tick after the 5th failure; Argo: first measurement at the first 10 s with a
canary request, then every 60 s, abort at the 4th failure).
"""

from __future__ import annotations

import numpy as np

from benchmarks import argo_rule, flagger_rule, old_rule, sequential_rule
from benchmarks.simulated_traffic import Traffic, schedule

BIN = 10.0


def one_rollout(canary: list[tuple[int, int]], stable: tuple[int, int] = (90, 0), weight: int = 10) -> Traffic:
    """A rollout of len(canary) bins: (requests, errors) of the canary per bin, stable the same in each."""
    requests, errors = (np.array([[pair[i] for pair in canary]], dtype=np.int64) for i in (0, 1))
    bins = len(canary)
    return Traffic(
        weights=(weight,) * bins,
        bin_seconds=BIN,
        canary_requests=requests,
        canary_errors=errors,
        stable_requests=np.full((1, bins), stable[0], dtype=np.int64),
        stable_errors=np.full((1, bins), stable[1], dtype=np.int64),
    )


def minutes(*per_minute: tuple[int, int]) -> list[tuple[int, int]]:
    """Bins of each minute: its requests and errors in the minute's first bin, nothing in the other five."""
    return [pair if k == 0 else (0, 0) for pair in per_minute for k in range(6)]


def test_flagger_rolls_back_a_canary_failing_everything_at_360_s() -> None:
    # Failed checks at 60, 120, 180, 240, 300 s; the tick after the fifth, 360 s, rolls back.
    traffic = one_rollout([(10, 10)] * 90)
    assert flagger_rule.rollback_seconds(traffic).tolist() == [360.0]


def test_flagger_counts_failed_checks_cumulatively() -> None:
    # Checks 1, 3, 5, 7, 9 fail (2 errors in 100: 98 %), the others pass (1 in 100: 99 % is not
    # below 99): the fifth failure is at 540 s, the rollback at 600 s.
    bad, good = (100, 2), (100, 1)
    traffic = one_rollout(minutes(bad, good, bad, good, bad, good, bad, good, bad, good, good, good))
    assert flagger_rule.rollback_seconds(traffic).tolist() == [600.0]


def test_flagger_fails_a_check_without_canary_requests() -> None:
    traffic = one_rollout([(0, 0)] * 36)
    assert flagger_rule.rollback_seconds(traffic).tolist() == [360.0]


def test_flagger_without_a_fifth_failure_in_the_traffic_does_not_roll_back() -> None:
    traffic = one_rollout([(10, 10)] * 24)  # four checks, all failed
    assert flagger_rule.rollback_seconds(traffic).tolist() == [np.inf]


def test_argo_aborts_a_canary_failing_everything_at_its_fourth_measurement() -> None:
    # The measurement at 0 s finds no canary series (an Error, retried 10 s later); failed
    # measurements at 10, 70, 130, 190 s: the fourth, failed (4) > failureLimit (3), aborts.
    traffic = one_rollout([(10, 10)] * 90)
    assert argo_rule.abort_seconds(traffic).tolist() == [190.0]


def test_argo_measures_from_the_canarys_first_request() -> None:
    # No canary request before 20 s: Errors at 0, 10, 20 s, then failed measurements at 30, 90,
    # 150, 210 s.
    traffic = one_rollout([(0, 0), (0, 0)] + [(10, 10)] * 88)
    assert argo_rule.abort_seconds(traffic).tolist() == [210.0]


def test_argo_passes_95_percent_and_fails_below() -> None:
    # Each measurement's window is the last 60 s. 5 errors in 100 is 95 %: passes; 6 fails.
    assert argo_rule.abort_seconds(one_rollout([(100, 5)] + [(0, 0)] * 5 + minutes(*[(100, 5)] * 10))).tolist() == [
        np.inf
    ]
    traffic = one_rollout(minutes(*[(100, 6)] * 10))
    # Windows ending at 10, 70, 130, 190 s each hold one minute's first bin: 6 in 100 fails.
    assert argo_rule.abort_seconds(traffic).tolist() == [190.0]


def test_argo_fails_a_measurement_without_canary_requests() -> None:
    # One request in the first 10 s, none after: passed at 10 s, then 0/0 = NaN, and
    # `NaN >= 0.95` is false: failed at 70, 130, 190, 250 s; the fourth aborts.
    traffic = one_rollout([(1, 0)] + [(0, 0)] * 89)
    assert argo_rule.abort_seconds(traffic).tolist() == [250.0]


def test_argo_aborts_a_canary_never_asked_after_five_errors_in_a_row() -> None:
    traffic = one_rollout([(0, 0)] * 90)
    assert argo_rule.abort_seconds(traffic).tolist() == [40.0]


def test_argo_at_the_documented_five_minute_interval_aborts_at_910_s() -> None:
    traffic = one_rollout([(10, 10)] * 100)  # failed at 10, 310, 610, 910 s
    assert argo_rule.abort_seconds(traffic, interval_seconds=300).tolist() == [910.0]


def test_the_old_rule_judges_at_the_end_of_the_step() -> None:
    # 12 bins of 10 s per 120 s step: a canary failing everything from the start fails at 120 s.
    traffic = one_rollout([(10, 10)] * 36)
    assert old_rule.rollback_seconds(traffic, step_seconds=120).tolist() == [120.0]


def test_the_old_rule_fails_a_step_of_one_canary_5xx_against_none() -> None:
    # The false alarm: 1 canary 5xx in the second step, none on stable: z = 3.
    traffic = one_rollout([(10, 0)] * 12 + [(10, 1)] + [(10, 0)] * 11)
    assert old_rule.rollback_seconds(traffic, step_seconds=120).tolist() == [240.0]


def test_ours_rolls_back_a_canary_failing_everything_at_the_second_poll() -> None:
    # 10 of 10 canary requests failing: the limit test bets on r = 100 % / 1 % = 100 per interval,
    # mean over c of (1 - c + 100 c): 70.1 after one poll, 5697 after two, past 500.
    traffic = one_rollout([(10, 10)] * 12)
    assert sequential_rule.rollback_seconds(traffic).tolist() == [20.0]


def test_ours_does_not_roll_back_one_canary_5xx_against_none() -> None:
    traffic = one_rollout([(10, 0)] * 12 + [(10, 1)] + [(10, 0)] * 11)
    assert sequential_rule.rollback_seconds(traffic).tolist() == [np.inf]


def test_the_schedule_holds_each_weight_for_its_step() -> None:
    assert schedule((5, 10), 30, BIN) == (5, 5, 5, 10, 10, 10)
