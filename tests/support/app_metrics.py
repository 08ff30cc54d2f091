"""The app's own metrics, as a shop's pods would export them beside the mesh's: business counters
per version, for the rollout's `rollout.metrics` to read.

- `shop_checkouts_total` and `shop_checkout_failures_total`: each request a version answers 200 is
  a checkout; with the version's `checkout_failure_rate` it is a failed one (a payment declined,
  the answer still a 200: nothing the mesh's 5xx would see). Both counters are exported, at 0,
  for every version that has served, as client libraries export a counter whose labels were
  initialised (a counter that appears only at its first failure is a series missing from stable).
- `shop_queue_lag_seconds`: a gauge per version, set by the test (a consumer falling behind).

Labels `namespace`, `app`, `version`: what Prometheus' Kubernetes discovery would add from the
pod's namespace and labels.
"""

from __future__ import annotations

import threading


class AppMetrics:
    def __init__(self, namespace: str, app: str) -> None:
        self.namespace, self.app = namespace, app
        self._lock = threading.Lock()
        self._checkouts: dict[str, int] = {}
        self._failures: dict[str, int] = {}
        self._lag: dict[str, float] = {}

    def checkout(self, version: str, failed: bool) -> None:
        with self._lock:
            self._checkouts[version] = self._checkouts.get(version, 0) + 1
            self._failures[version] = self._failures.get(version, 0) + (1 if failed else 0)

    def set_queue_lag(self, version: str, seconds: float) -> None:
        with self._lock:
            self._lag[version] = seconds

    def counts(self, version: str) -> tuple[int, int]:
        """(failed checkouts, checkouts) of `version` so far."""
        with self._lock:
            return self._failures.get(version, 0), self._checkouts.get(version, 0)

    def _labels(self, version: str) -> str:
        return f'namespace="{self.namespace}",app="{self.app}",version="{version}"'

    def exposition(self) -> str:
        """Prometheus' text format (0.0.4)."""
        with self._lock:
            checkouts, failures, lag = dict(self._checkouts), dict(self._failures), dict(self._lag)
        lines = ["# HELP shop_checkouts_total Checkouts answered.", "# TYPE shop_checkouts_total counter"]
        lines += [f"shop_checkouts_total{{{self._labels(v)}}} {n}" for v, n in sorted(checkouts.items())]
        lines += [
            "# HELP shop_checkout_failures_total Checkouts that failed (payment declined).",
            "# TYPE shop_checkout_failures_total counter",
        ]
        lines += [f"shop_checkout_failures_total{{{self._labels(v)}}} {n}" for v, n in sorted(failures.items())]
        lines += ["# HELP shop_queue_lag_seconds The order queue's lag.", "# TYPE shop_queue_lag_seconds gauge"]
        lines += [f"shop_queue_lag_seconds{{{self._labels(v)}}} {s!r}" for v, s in sorted(lag.items())]
        return "\n".join(lines) + "\n"
