"""Simulated rollouts' traffic: Poisson requests split by the canary's weight, binomial 5xx.

Time is cut in bins of one analysis interval (`Policy().analysis_seconds`, 10 s): every judge of
`bench_analysis.py` looks at these bins, so they all judge the same rollouts. Bin k covers
[k * bin_seconds, (k + 1) * bin_seconds); a poll at the end of bin k sees bins 0..k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Traffic:
    """Per-bin counts of many rollouts: each array is (rollouts, bins)."""

    weights: tuple[int, ...]
    """The canary's percent in each bin (the same for every rollout)."""
    bin_seconds: float
    canary_requests: IntArray
    canary_errors: IntArray
    stable_requests: IntArray
    stable_errors: IntArray

    @property
    def rollouts(self) -> int:
        return int(self.canary_requests.shape[0])

    @property
    def bins(self) -> int:
        return len(self.weights)


def schedule(steps: tuple[int, ...], step_seconds: float, bin_seconds: float) -> tuple[int, ...]:
    """The canary's weight in each bin of a rollout walking `steps`, `step_seconds` each."""
    per_step = round(step_seconds / bin_seconds)
    if per_step * bin_seconds != step_seconds:
        raise ValueError(f"a step of {step_seconds:g}s is not a whole number of {bin_seconds:g}s bins")
    return tuple(weight for weight in steps for _ in range(per_step))


def simulate(
    rng: np.random.Generator,
    rollouts: int,
    weights: tuple[int, ...],
    bin_seconds: float,
    requests_per_second: float,
    canary_error_rate: float,
    stable_error_rate: float,
) -> Traffic:
    """Requests arrive as a Poisson process of `requests_per_second`; each goes to the canary with
    probability weight/100 (so each version's arrivals are Poisson too) and fails independently."""
    share = np.asarray(weights, dtype=float) / 100
    expected = requests_per_second * bin_seconds
    shape = (rollouts, len(weights))
    canary_requests = rng.poisson(expected * share, size=shape)
    stable_requests = rng.poisson(expected * (1 - share), size=shape)
    return Traffic(
        weights=weights,
        bin_seconds=bin_seconds,
        canary_requests=canary_requests,
        canary_errors=rng.binomial(canary_requests, canary_error_rate),
        stable_requests=stable_requests,
        stable_errors=rng.binomial(stable_requests, stable_error_rate),
    )
