"""Flagger's tutorial analysis, modelled for the benchmark: when would it roll a canary back?

The config (docs/gitbook/tutorials/istio-progressive-delivery.md): `interval: 1m`,
`threshold: 5`, metric `request-success-rate` with `thresholdRange.min: 99` over `interval: 1m`.
What the code does with it (fluxcd/flagger at 15bd6ad, read for this model):

- `pkg/controller/scheduler.go` `advanceCanary` runs once per interval. Its first tick starts the
  analysis and sets the first weight without a check. On each later tick it first rolls back if
  `FailedChecks >= threshold`, then runs the checks; a failed check adds one to `FailedChecks`
  (cumulative: never reset during a rollout) and holds the weight. So a canary failing from the
  start fails its checks at 60, 120, ..., 300 s and is rolled back on the next tick, at 360 s.
- `pkg/controller/scheduler_metrics.go` `runBuiltinMetricChecks`: the success rate is the
  canary's alone (`pkg/metrics/observers/istio.go`: `rate()` of its non-5xx over its requests, in
  percent, over the last interval); `val < min` fails the check.
- No canary request in the window: the ratio is 0/0, NaN, which `pkg/metrics/providers/
  prometheus.go` `RunQuery` returns as `ErrNoValuesFound`; the check logs "Halt advancement no
  values found ... probably ... is not receiving traffic" and fails: a failed check, like any other.

Modelled on exact counts (no `rate()` extrapolation), with the benchmark's weights in every bin:
a failed check here does not hold the weight as Flagger would (which only changes which weight
the next checks see).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from benchmarks.simulated_traffic import Traffic

INTERVAL_SECONDS = 60.0
THRESHOLD = 5
MIN_SUCCESS_PERCENT = 99


def check_failed(requests: npt.NDArray[np.int64], errors: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Each window's check: success rate in percent below the minimum, or no requests (NaN)."""
    # 100 (n - x) / n < 99 multiplied out: integers, no float rounding at the edge.
    return (requests == 0) | (100 * (requests - errors) < MIN_SUCCESS_PERCENT * requests)


def rollback_seconds(traffic: Traffic) -> npt.NDArray[np.float64]:
    """Per rollout, when Flagger rolls the canary back (inf: not after the checks this traffic
    allows, one every interval from the first tick after the weight is set)."""
    per_check = round(INTERVAL_SECONDS / traffic.bin_seconds)
    checks = traffic.bins // per_check
    shape = (traffic.rollouts, checks, per_check)
    usable = checks * per_check
    requests = traffic.canary_requests[:, :usable].reshape(shape).sum(axis=2)
    errors = traffic.canary_errors[:, :usable].reshape(shape).sum(axis=2)
    failed = np.cumsum(check_failed(requests, errors), axis=1)
    reached = failed >= THRESHOLD
    # Check j (0-based) runs at (j + 1) intervals; the rollback is the tick after.
    first = np.argmax(reached, axis=1)
    return np.where(reached.any(axis=1), (first + 2) * INTERVAL_SECONDS, np.inf)
