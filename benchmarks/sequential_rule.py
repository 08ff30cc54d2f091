"""Our analysis as the benchmark judges with it: the real `SequentialAnalysis`, polled as the engine polls.

The engine (`canary/rollout/watch.py`) gives `observe` the cumulative counts since the rollout's
start at every analysis interval and rolls back at the first decision that says so. Here each
bin of the simulated traffic is one interval; errors only (no latency buckets).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from benchmarks.simulated_traffic import Traffic
from canary.rollout.analysis import Counts, SequentialAnalysis


def rollback_seconds(traffic: Traffic) -> npt.NDArray[np.float64]:
    """Per rollout, the poll at which the analysis rolls back (inf: none within this traffic)."""
    result = np.full(traffic.rollouts, np.inf)
    totals = [
        np.cumsum(counts, axis=1).tolist()  # Python ints: Counts holds what Prometheus would give
        for counts in (traffic.canary_requests, traffic.canary_errors, traffic.stable_requests, traffic.stable_errors)
    ]
    for rollout in range(traffic.rollouts):
        # The clean model holds the canary at its first weight from the first bin on: no change inside it.
        analysis = SequentialAnalysis(weight=traffic.weights[0])
        c_n, c_x, s_n, s_x = (total[rollout] for total in totals)
        for k, weight in enumerate(traffic.weights):
            decision = analysis.observe(
                weight=weight,
                canary=Counts(requests=c_n[k], errors=c_x[k]),
                stable=Counts(requests=s_n[k], errors=s_x[k]),
            )
            if decision.rollback:
                result[rollout] = (k + 1) * traffic.bin_seconds
                break
    return result
