"""Tests for canary/traffic/stats.py: the split test and the sample-size figure.

Expected p-values come from independent brute-force computations (exact sums over every
possible outcome), not from the code under test. The simulations are seeded, so they are
deterministic; the bounds they check would also hold for almost any seed (stated per test).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from canary.traffic.stats import check_split, check_split_within, requests_needed


def _log_pmf_multinomial(counts: tuple[int, ...], probs: tuple[float, ...]) -> float:
    n = sum(counts)
    return (
        math.lgamma(n + 1)
        - sum(math.lgamma(c + 1) for c in counts)
        + sum(c * math.log(p) for c, p in zip(counts, probs, strict=True) if c)
    )


def _exact_p_value(counts: tuple[int, ...], probs: tuple[float, ...]) -> float:
    """Sum of the probabilities of every outcome no more likely than ``counts``."""
    n = sum(counts)
    observed = _log_pmf_multinomial(counts, probs)
    total = 0.0
    for head in itertools.product(range(n + 1), repeat=len(probs) - 1):
        if sum(head) > n:
            continue
        outcome = (*head, n - sum(head))
        log_p = _log_pmf_multinomial(outcome, probs)
        if log_p <= observed + 1e-7 * abs(observed):
            total += math.exp(log_p)
    return min(total, 1.0)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((90, 10), (90, 10)),
        ((85, 15), (90, 10)),
        ((70, 30), (90, 10)),
        ((0, 1), (90, 10)),  # a single answer
        ((3, 0), (50, 50)),
        ((380, 120), (75, 25)),
    ],
)
def test_two_versions_match_the_exact_binomial_sum(counts: tuple[int, int], expected: tuple[int, int]) -> None:
    names = ("v1", "v2")
    result = check_split(dict(zip(names, expected, strict=True)), dict(zip(names, counts, strict=True)), 0.99)
    truth = _exact_p_value(counts, tuple(p / 100 for p in expected))
    assert result.p_value == pytest.approx(truth, rel=1e-6, abs=1e-12)
    assert result.consistent == (truth >= 0.01)


def test_three_versions_with_large_counts_use_chi_square() -> None:
    counts = {"v1": 520, "v2": 270, "v3": 210}
    expected = {"v1": 50, "v2": 30, "v3": 20}
    result = check_split(expected, counts, 0.99)
    statistic = sum((counts[v] - 10 * expected[v]) ** 2 / (10 * expected[v]) for v in counts)
    assert result.method == "chi-square"
    assert result.p_value == pytest.approx(scipy_stats.chi2.sf(statistic, 2), rel=1e-9)


def test_three_versions_with_small_counts_match_exact_enumeration() -> None:
    counts = (9, 1, 2)
    result = check_split({"a": 50, "b": 30, "c": 20}, dict(zip("abc", counts, strict=True)), 0.99)
    truth = _exact_p_value(counts, (0.5, 0.3, 0.2))
    assert result.method.startswith("exact multinomial")
    # 100,000 draws: the standard error of the estimate is at most 0.0016.
    assert result.p_value == pytest.approx(truth, abs=0.01)


def test_answer_from_a_zero_weight_version_fails_however_rare() -> None:
    result = check_split({"v1": 100, "v2": 0}, {"v1": 9999, "v2": 1}, 0.99)
    assert (result.consistent, result.p_value, dict(result.unexpected)) == (False, 0.0, {"v2": 1})


def test_answer_from_a_version_not_in_the_split_fails() -> None:
    result = check_split({"v1": 90, "v2": 10}, {"v1": 90, "v2": 9, "v3": 1}, 0.99)
    assert not result.consistent and dict(result.unexpected) == {"v3": 1}


def test_single_version_route_holds_when_every_answer_is_that_version() -> None:
    result = check_split({"v2": 100}, {"v2": 7}, 0.99)
    assert result.consistent and result.p_value == 1.0


def test_split_served_as_50_50_where_90_10_is_expected_fails() -> None:
    result = check_split({"v1": 90, "v2": 10}, {"v1": 500, "v2": 500}, 0.99)
    assert not result.consistent and result.p_value < 1e-100


def test_wrong_split_seen_too_briefly_says_how_many_requests_would_tell() -> None:
    # 12% seen where 10% is expected, on 500 answers: not enough to tell at 99%.
    result = check_split({"v1": 90, "v2": 10}, {"v1": 440, "v2": 60}, 0.99)
    assert result.consistent
    # Normal approximation for a two-sided one-sample proportion test, power 80%:
    # n = ((z_(1-alpha/2) + z_power) / w)^2 with w^2 = (q - p)^2 / (p (1 - p)).
    z = scipy_stats.norm.isf(0.005) + scipy_stats.norm.isf(0.2)
    approx = (z**2) * 0.1 * 0.9 / 0.02**2
    assert result.needed == pytest.approx(approx, rel=0.01)


def test_exact_match_needs_no_more_requests() -> None:
    assert check_split({"v1": 90, "v2": 10}, {"v1": 900, "v2": 100}, 0.99).needed is None


@pytest.mark.slow
def test_correct_split_is_rarely_rejected() -> None:
    # 1,000 runs of 1,000 answers from the true 90/10 split, tested at 99% confidence: the
    # rejection rate must stay near 1% (the exact test is conservative, so at most 1%).
    # More than 25 of 1,000 would happen by chance with probability below 1e-5.
    rng = np.random.default_rng(7)
    v2 = rng.binomial(1000, 0.1, size=1000)
    verdicts = {
        k: check_split({"v1": 90, "v2": 10}, {"v1": 1000 - k, "v2": k}, 0.99).consistent for k in set(v2.tolist())
    }
    rejected = sum(not verdicts[k] for k in v2.tolist())
    assert rejected <= 25


@pytest.mark.slow
def test_sample_size_figure_gives_the_promised_power() -> None:
    # Where the truth is 12% and 10% is expected, runs of the figured size must tell them
    # apart about 80% of the time. 400 seeded runs: standard error 2 points; the bounds are
    # 3.5 of them either side.
    alpha = 0.01
    effect = 0.02**2 / 0.1 + 0.02**2 / 0.9
    n = requests_needed(effect, 1, alpha)
    rng = np.random.default_rng(11)
    v2 = rng.binomial(n, 0.12, size=400)
    verdicts = {k: check_split({"v1": 90, "v2": 10}, {"v1": n - k, "v2": k}, 0.99).consistent for k in set(v2.tolist())}
    told = sum(not verdicts[k] for k in v2.tolist())
    assert 0.73 <= told / 400 <= 0.87


@pytest.mark.parametrize("confidence", [0, 1, 1.5])
def test_confidence_outside_zero_to_one_is_refused(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        check_split({"v1": 100}, {"v1": 1}, confidence)


def _binomial_tail(n: int, p: float, at_least: int) -> float:
    """P(X >= at_least) for X ~ Binomial(n, p), summed term by term."""
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(at_least, n + 1))


def test_a_split_within_the_tolerance_passes_however_many_requests_are_sent():
    # 10 % observed at 9.2 %: the point null fails it on a million requests, the interval does not.
    counts = {"v1": 908_000, "v2": 92_000}
    expected = {"v1": 90, "v2": 10}
    assert not check_split(expected, counts, 0.99).consistent
    assert check_split_within(expected, counts, 2, 0.01).consistent


def test_a_split_beyond_the_tolerance_fails_with_the_exact_one_sided_p_value():
    # 30 of 100 at a 10 % weight, tolerance 2: too many for 12 %. p = 2 * P(X >= 30 | 100, 0.12).
    test = check_split_within({"v1": 90, "v2": 10}, {"v1": 70, "v2": 30}, 2, 0.01)
    assert not test.consistent
    assert test.p_value == pytest.approx(2 * _binomial_tail(100, 0.12, 30), rel=1e-9)


def test_too_few_answers_of_a_version_fail_as_surely_as_too_many():
    # 0 of 200 at 10 %: P(X <= 0 | 200, 0.08) = 0.92**200, doubled.
    test = check_split_within({"v1": 90, "v2": 10}, {"v1": 200}, 2, 0.01)
    assert not test.consistent
    assert test.p_value == pytest.approx(2 * 0.92**200, rel=1e-9)


def test_a_zero_weight_version_answering_still_fails_within_a_tolerance():
    test = check_split_within({"v2": 100}, {"v2": 99, "v1": 1}, 2, 0.01)
    assert not test.consistent and test.unexpected == {"v1": 1}


@pytest.mark.slow
def test_a_correct_split_is_rejected_at_most_alpha_of_the_time_at_the_edge_of_the_tolerance():
    # Seeded: the true share sits on the interval's edge (8 %), the worst case for the test.
    rng = np.random.default_rng(7)
    rejected = sum(
        not check_split_within({"v1": 90, "v2": 10}, {"v1": 500 - k, "v2": int(k)}, 2, 0.05).consistent
        for k in rng.binomial(500, 0.08, size=2000)
    )
    assert rejected / 2000 <= 0.05


# The boundaries and the figures, each case chosen so that one plausible slip in the code changes the
# outcome (each was seen to fail with that slip applied).


def test_a_p_value_equal_to_alpha_is_consistent() -> None:
    # 0 of 2 at 50 %: p = P(X = 0) + P(X = 2) = 0.25 + 0.25 = 0.5 exactly; alpha = 1 - 0.5 = 0.5 exactly.
    result = check_split({"v1": 50, "v2": 50}, {"v1": 0, "v2": 2}, 0.5)
    assert result.p_value == _exact_p_value((0, 2), (0.5, 0.5)) == 0.5
    assert result.consistent


def test_a_p_value_equal_to_alpha_is_within_the_tolerance() -> None:
    # 60/40 with 10 points: v2 got 2 of 2, P(X >= 2 | 2, 0.5) = 0.25, doubled: 0.5, exactly alpha.
    test = check_split_within({"v1": 60, "v2": 40}, {"v1": 0, "v2": 2}, 10, 0.5)
    assert test.p_value == 2 * _binomial_tail(2, 0.5, 2) == 0.5
    assert test.consistent


def test_an_expected_count_of_exactly_5_is_enough_for_chi_square() -> None:
    # 20 requests at 50/25/25: expected counts 10, 5, 5 (Cochran's rule: at least 5).
    counts = {"v1": 12, "v2": 4, "v3": 4}
    result = check_split({"v1": 50, "v2": 25, "v3": 25}, counts, 0.99)
    statistic = 2**2 / 10 + 1**2 / 5 + 1**2 / 5
    assert result.method == "chi-square"
    assert result.p_value == pytest.approx(math.exp(-statistic / 2), rel=1e-9)  # chi-square, 2 dof


def _power(n: int, effect: float, dof: int, alpha: float) -> float:
    """Cohen's power of the chi-square test on n requests: the non-central chi-square's tail."""
    return float(scipy_stats.ncx2.sf(scipy_stats.chi2.isf(alpha, dof), dof, n * effect))


def _least_n_with_power(effect: float, dof: int, alpha: float, power: float = 0.8) -> int:
    """By counting up: the first n whose power reaches `power`."""
    n = 1
    while _power(n, effect, dof, alpha) < power:
        n += 1
    return n


@pytest.mark.parametrize(("effect", "dof"), [(0.02**2 / 0.1 + 0.02**2 / 0.9, 1), (0.01, 2), (0.3, 1), (0.05, 3)])
def test_the_figure_is_the_least_n_with_the_promised_power(effect: float, dof: int) -> None:
    n = requests_needed(effect, dof, 0.01)
    assert n == _least_n_with_power(effect, dof, 0.01)
    assert _power(n, effect, dof, 0.01) >= 0.8 > _power(n - 1, effect, dof, 0.01)


def test_three_versions_seen_too_briefly_get_the_figure_of_their_two_degrees_of_freedom() -> None:
    # 55/25/20 seen where 50/30/20 is expected, on 200 answers: not enough to tell at 99 %.
    counts = {"v1": 110, "v2": 50, "v3": 40}
    result = check_split({"v1": 50, "v2": 30, "v3": 20}, counts, 0.99)
    assert result.consistent and result.method == "chi-square"
    effect = 0.05**2 / 0.5 + 0.05**2 / 0.3 + 0.0**2 / 0.2
    assert result.needed == _least_n_with_power(effect, 2, 0.01)


def test_no_figure_when_the_requests_sent_were_already_more_than_enough() -> None:
    # 2 of 20 at a 1 % weight: the exact test does not reject (p = 0.017), yet the chi-square figure
    # for that effect is below 20 (normal approximation: about 14.3), so more requests are not the answer.
    result = check_split({"v1": 99, "v2": 1}, {"v1": 18, "v2": 2}, 0.99)
    assert result.consistent
    z = scipy_stats.norm.isf(0.005) + scipy_stats.norm.isf(0.2)
    assert z**2 * 0.01 * 0.99 / 0.09**2 < 20
    assert result.needed is None


def test_no_figure_when_exactly_the_requests_sent_were_enough() -> None:
    # 1 of 7 at a 1 % weight: the figure for this effect is exactly 7 (the least n with 80 % power).
    result = check_split({"v1": 99, "v2": 1}, {"v1": 6, "v2": 1}, 0.99)
    q = 1 / 7
    effect = (q - 0.01) ** 2 / 0.01 + (q - 0.01) ** 2 / 0.99
    assert result.consistent and _least_n_with_power(effect, 1, 0.01) == 7
    assert result.needed is None


def test_a_sampled_p_value_of_the_most_likely_outcome_is_exactly_1() -> None:
    # Every draw is at most as likely as the mode, so all 100,000 count: (100,000 + 1) / (100,000 + 1).
    counts = (5, 3, 2)
    result = check_split({"a": 50, "b": 30, "c": 20}, dict(zip("abc", counts, strict=True)), 0.99)
    assert result.method.startswith("exact multinomial")
    assert _exact_p_value(counts, (0.5, 0.3, 0.2)) == pytest.approx(1.0)
    assert result.p_value == 1.0


def test_a_sampled_p_value_is_never_0_even_when_no_draw_is_as_extreme() -> None:
    # 12 of 12 on the 20 % version: the outcomes at most as likely weigh about 4e-9 in all, so none
    # of the 100,000 draws is one; the estimate is then (0 + 1) / (100,000 + 1), above the truth.
    counts = (0, 0, 12)
    result = check_split({"a": 50, "b": 30, "c": 20}, dict(zip("abc", counts, strict=True)), 0.99)
    truth = _exact_p_value(counts, (0.5, 0.3, 0.2))
    assert truth < 1e-8
    assert result.p_value == pytest.approx(1 / 100_001, rel=1e-12)
    assert not result.consistent


def test_outcomes_tied_with_the_observed_one_count_as_extreme() -> None:
    # Equal weights: (4, 1, 1) and (1, 4, 1) are exactly as likely as (1, 1, 4), though their float
    # log-pmfs differ in the last digits; leaving them out would take 0.08 off the p-value.
    counts = (1, 1, 4)
    result = check_split({"a": 1, "b": 1, "c": 1}, dict(zip("abc", counts, strict=True)), 0.99)
    assert result.p_value == pytest.approx(_exact_p_value(counts, (1 / 3, 1 / 3, 1 / 3)), abs=0.01)
