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


def test_a_correct_split_is_rejected_at_most_alpha_of_the_time_at_the_edge_of_the_tolerance():
    # Seeded: the true share sits on the interval's edge (8 %), the worst case for the test.
    rng = np.random.default_rng(7)
    rejected = sum(
        not check_split_within({"v1": 90, "v2": 10}, {"v1": 500 - k, "v2": int(k)}, 2, 0.05).consistent
        for k in rng.binomial(500, 0.08, size=2000)
    )
    assert rejected / 2000 <= 0.05
