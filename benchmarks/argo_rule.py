"""Argo Rollouts' documented analysis, modelled for the benchmark: when would it abort a canary?

The example (docs/features/analysis.md, "Background Analysis", argoproj/argo-rollouts at
9f8d111): metric `success-rate` with `successCondition: result[0] >= 0.95`, `failureLimit: 3`,
the success share of non-5xx requests from Prometheus. The example measures every 5m; the
benchmark uses `interval: 1m` (`INTERVAL_SECONDS`, the same as Flagger's, so the rules are compared
and not their intervals; `bench_analysis.py --argo-interval 300` gives the example's own).
What the code does with it:

- `analysis/analysis.go` `generateMetricTasks`: the first measurement is taken when the run
  starts; after a measurement in Error the next is retried after `DefaultErrorRetryInterval`
  (10 s), else after the interval. `assessMetricFailureInconclusiveOrError`: the run fails when
  `failed > failureLimit`, i.e. at the 4th failed measurement, and more than
  `DefaultConsecutiveErrorLimit` (4, `utils/defaults`) errors in a row put it in Error;
  `rollout/analysis.go` aborts the rollout on either, at once.
- `utils/evaluate/evaluate.go` `EvaluateResult`: with only a successCondition, a result that does
  not meet it is Failed. A ratio of 0/0 is NaN and `NaN >= 0.95` is false: a window without
  canary requests is a failed measurement. A query with no series at all (a canary that has
  never been asked, as at the run's start) returns an empty vector: `result[0]` cannot be
  evaluated, an Error.

Modelled on the canary's requests alone (a canary Service: the example's `destination_service`
over stable and canary together would dilute the canary's errors by its weight), on exact counts
over the last interval (the example's `irate()` reads only the last two scrapes in its window).
The first measurement at 0 s is an Error (no canary series yet), retried every 10 s until the
canary has had a request; five Errors in a row (0 to 40 s) abort.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from benchmarks.simulated_traffic import Traffic

INTERVAL_SECONDS = 60.0
FAILURE_LIMIT = 3
SUCCESS_SHARE = 0.95
ERROR_RETRY_SECONDS = 10.0
CONSECUTIVE_ERROR_LIMIT = 4


def measurement_failed(requests: npt.NDArray[np.int64], errors: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """`result[0] >= 0.95` not met: the success share below it, or no requests (NaN)."""
    # (n - x) / n < 0.95 multiplied out by 100 n: integers, no float rounding at the edge.
    return (requests == 0) | (100 * (requests - errors) < round(100 * SUCCESS_SHARE) * requests)


def abort_seconds(traffic: Traffic, interval_seconds: float = INTERVAL_SECONDS) -> npt.NDArray[np.float64]:
    """Per rollout, when Argo aborts the canary (inf: not within this traffic)."""
    if traffic.bin_seconds != ERROR_RETRY_SECONDS:
        raise ValueError(f"the model needs bins of the error retry interval, {ERROR_RETRY_SECONDS:g}s")
    per_interval = round(interval_seconds / traffic.bin_seconds)
    # Cumulative counts with a zero column in front: the window (a, b] of bins is C[b] - C[a].
    zeros = np.zeros((traffic.rollouts, 1), dtype=np.int64)
    requests = np.hstack([zeros, np.cumsum(traffic.canary_requests, axis=1)])
    errors = np.hstack([zeros, np.cumsum(traffic.canary_errors, axis=1)])
    seen = requests[:, 1:] > 0
    # The bin whose end brings the first measurement that is not an Error (bins if never).
    first = np.where(seen.any(axis=1), np.argmax(seen, axis=1), traffic.bins)
    # Measurements at the ends of bins first, first + per_interval, ... (1-based: C's index).
    ends = first[:, None] + 1 + per_interval * np.arange(-(-traffic.bins // per_interval))[None, :]
    taken = ends <= traffic.bins
    ends = np.minimum(ends, traffic.bins)
    starts = np.maximum(ends - per_interval, 0)
    n = np.take_along_axis(requests, ends, axis=1) - np.take_along_axis(requests, starts, axis=1)
    x = np.take_along_axis(errors, ends, axis=1) - np.take_along_axis(errors, starts, axis=1)
    over = np.cumsum(measurement_failed(n, x) & taken, axis=1) > FAILURE_LIMIT
    failing_end = np.take_along_axis(ends, np.argmax(over, axis=1)[:, None], axis=1)[:, 0]
    result = np.where(over.any(axis=1), failing_end * traffic.bin_seconds, np.inf)
    # Errors at 0, 10, ... s while the canary has no series: the fifth in a row (40 s) aborts.
    errored_out = (first + 1 > CONSECUTIVE_ERROR_LIMIT) & (traffic.bins >= CONSECUTIVE_ERROR_LIMIT)
    return np.where(errored_out, CONSECUTIVE_ERROR_LIMIT * ERROR_RETRY_SECONDS, result)
