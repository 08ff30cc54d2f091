"""Whether an observed split of versions is consistent with the expected one, and if not
enough requests were sent to tell, how many would be.

The null hypothesis is that every request of a route independently reaches version ``v``
with the expected probability ``p_v`` (the weights Envoy draws from), so the counts are one
multinomial sample. The test, at significance ``alpha = 1 - confidence``:

* A version expected to get nothing (0%, or not in the split) that answered even once is
  impossible under the hypothesis: p = 0. Envoy never routes to a zero-weight destination, so
  one stray answer is a real routing fault, not noise.
* One version with all the weight: every answer came from it (else see above), p = 1.
* Two versions: the exact two-sided binomial test.
* Three or more: Pearson's chi-square goodness-of-fit test when every expected count is at
  least 5 (Cochran's rule, where the chi-square approximation holds); below that, the exact
  multinomial test, its p-value estimated from 100,000 seeded draws.

The sample-size figure is the power analysis for the chi-square goodness-of-fit test
(Cohen 1988): with effect size ``w**2 = sum((q_v - p_v)**2 / p_v)`` between the observed
shares ``q`` and the expected ``p``, the statistic on ``n`` requests follows a non-central
chi-square with ``k - 1`` degrees of freedom and non-centrality ``n * w**2``; the figure is
the least ``n`` at which the test rejects with 80% probability.

``check_split_within`` asks a different question, the one a rollout's split gate needs: is a
version's share significantly *outside* ``[w - tol, w + tol]``? With a point null, enough requests
make any deviation significant, so a correct split (10 % observed at 9.2 %) would fail a big
enough sample; with an interval null it passes however many requests are sent. For each version
with weight, two exact one-sided binomial tests: ``P(X >= k | n, w + tol)`` (too many) and
``P(X <= k | n, w - tol)`` (too few), each at ``alpha / 2``, so a version's test is at ``alpha``
(Bonferroni over its two sides) whatever its true share inside the interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

POWER = 0.8
"""The probability of telling the splits apart that the sample-size figure aims for."""

_DRAWS = 100_000


@dataclass(frozen=True)
class SplitTest:
    """The outcome of testing one route's counts against its expected split."""

    p_value: float
    consistent: bool
    method: str
    unexpected: Mapping[str, int]
    """Versions that answered but should have got nothing, with their counts."""
    needed: int | None
    """Requests needed to tell the observed split from the expected one, when these were too
    few; None when the test rejected, the split matched exactly, or there was nothing to
    compare."""


def _settled_without_a_test(
    expected: Mapping[str, int], counts: Mapping[str, int]
) -> tuple[list[str], int, SplitTest | None]:
    """The versions with weight, their answers, and the verdict when no test is needed: a version
    with no weight answered (a routing fault), or a single version has all the weight. Raises
    ValueError when no version with weight answered at all."""
    positive = [v for v, pct in expected.items() if pct > 0]
    unexpected = {v: n for v, n in counts.items() if n > 0 and v not in positive}
    if unexpected:
        return positive, 0, SplitTest(0.0, False, "zero-weight version answered", unexpected, None)
    n = sum(counts.get(v, 0) for v in positive)
    if n == 0:
        raise ValueError("no answers to test")
    if len(positive) == 1:
        return positive, n, SplitTest(1.0, True, "single version", {}, None)
    return positive, n, None


def check_split(expected: Mapping[str, int], counts: Mapping[str, int], confidence: float) -> SplitTest:
    """Test ``counts`` (answers per version) against ``expected`` (percent per version)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    alpha = 1 - confidence
    positive, n, settled = _settled_without_a_test(expected, counts)
    if settled is not None:
        return settled

    observed = np.array([counts.get(v, 0) for v in positive], dtype=float)
    probs = np.array([expected[v] for v in positive], dtype=float)
    probs /= probs.sum()
    if len(positive) == 2:
        method = "exact binomial"
        p_value = stats.binomtest(int(observed[0]), n, probs[0]).pvalue
    elif (n * probs).min() >= 5:
        method = "chi-square"
        p_value = stats.chisquare(observed, n * probs).pvalue
    else:
        method = "exact multinomial (sampled)"
        p_value = _multinomial_p_value(observed.astype(int), probs)
    p_value = float(min(max(p_value, 0.0), 1.0))
    consistent = p_value >= alpha
    needed = None
    if consistent:
        effect = float(np.sum((observed / n - probs) ** 2 / probs))
        if effect > 0:
            figure = requests_needed(effect, len(positive) - 1, alpha)
            needed = figure if figure > n else None
    return SplitTest(p_value, consistent, method, {}, needed)


def check_split_within(
    expected: Mapping[str, int], counts: Mapping[str, int], tolerance: float, alpha: float
) -> SplitTest:
    """Test whether any version's share of ``counts`` is significantly outside its weight in
    ``expected`` (percent) give or take ``tolerance`` points; each version is tested at ``alpha``.

    The returned p-value is the smallest over the versions (each already doubled for its two
    sides); the split is consistent when it is at least ``alpha``. A version with no weight that
    answered is a routing fault, as in ``check_split``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if not 0 <= tolerance < 100:
        raise ValueError(f"tolerance must be from 0 to below 100 points, got {tolerance}")
    positive, n, settled = _settled_without_a_test(expected, counts)
    if settled is not None:
        return settled
    total = sum(expected[v] for v in positive)
    p_value = 1.0
    for version in positive:
        share = expected[version] / total
        k = counts.get(version, 0)
        upper, lower = share + tolerance / 100, share - tolerance / 100
        too_many = float(stats.binom.sf(k - 1, n, upper)) if upper < 1 else 1.0
        too_few = float(stats.binom.cdf(k, n, lower)) if lower > 0 else 1.0
        p_value = min(p_value, min(1.0, 2 * min(too_many, too_few)))
    return SplitTest(p_value, p_value >= alpha, f"exact binomial beyond {tolerance:g} points", {}, None)


def requests_needed(effect: float, dof: int, alpha: float, power: float = POWER) -> int:
    """Least n at which the chi-square test at ``alpha`` rejects with probability ``power``
    when the true split is ``effect`` (Cohen's w squared) away from the hypothesis."""
    if effect <= 0:
        raise ValueError("effect must be positive")
    critical = stats.chi2.isf(alpha, dof)

    def shortfall(noncentrality: float) -> float:
        return float(stats.ncx2.sf(critical, dof, noncentrality)) - power

    upper = 1.0
    while shortfall(upper) < 0:
        upper *= 2
    noncentrality = float(optimize.brentq(shortfall, 0.0, upper, xtol=1e-6))
    return math.ceil(noncentrality / effect)


def _multinomial_p_value(observed: np.ndarray, probs: np.ndarray) -> float:
    """P(an outcome no more likely than the observed one), by seeded Monte Carlo.

    Seeded, so the same counts always give the same verdict; the +1s keep the estimate a
    valid p-value (never 0 from a finite sample).
    """
    n = int(observed.sum())
    rng = np.random.default_rng(0)
    draws = rng.multinomial(n, probs, size=_DRAWS)
    log_p = stats.multinomial.logpmf(draws, n, probs)
    observed_log_p = stats.multinomial.logpmf(observed, n, probs)
    # A relative tolerance, so ties in exact arithmetic are not split by rounding.
    as_extreme = np.count_nonzero(log_p <= observed_log_p + 1e-9 * abs(observed_log_p))
    return (as_extreme + 1) / (_DRAWS + 1)
