"""Istio's standard metrics for each version, read from Prometheus' HTTP API.

The mesh's sidecars report every request twice; the destination's report (`reporter=
"destination"`) is the one made by the version that answered. Versions are told apart by
`destination_version` (the pods' `version` label), and the workload by `destination_workload`.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence

from canary.rollout.health import VersionFigures


class PrometheusError(Exception):
    """Prometheus could not be asked, or did not answer a query; the message is one line."""


def instant_query(base_url: str, promql: str, timeout: float = 5.0) -> dict[str, float]:
    """Run a query; its result as {destination_version: value} (NaN values left out)."""
    url = f"{base_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            document = json.load(response)
    except urllib.error.HTTPError as err:
        raise PrometheusError(f"Prometheus at {base_url} answered {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise PrometheusError(f"Prometheus at {base_url} is unreachable: {reason}") from None
    except ValueError:
        raise PrometheusError(f"Prometheus at {base_url} did not answer JSON") from None
    if document.get("status") != "success":
        raise PrometheusError(f"Prometheus refused the query: {document.get('error', 'no reason given')}")
    values = {}
    for sample in document.get("data", {}).get("result", []):
        value = float(sample["value"][1])
        if not math.isnan(value):
            values[sample["metric"].get("destination_version", "")] = value
    return values


def selector(namespace: str, app: str, versions: Sequence[str]) -> str:
    alternatives = "|".join(versions)
    return (
        f'reporter="destination",destination_workload_namespace="{namespace}",'
        f'destination_workload=~"{app}-deployment-({alternatives})",destination_version=~"{alternatives}"'
    )


def queries(namespace: str, app: str, versions: Sequence[str], window_seconds: int) -> dict[str, str]:
    """The three PromQL queries of a step, by what they measure."""
    where = selector(namespace, app, versions)
    window = f"[{window_seconds}s]"
    return {
        "requests": f"sum by (destination_version) (increase(istio_requests_total{{{where}}}{window}))",
        "errors": (
            f'sum by (destination_version) (increase(istio_requests_total{{{where},response_code=~"5.."}}{window}))'
        ),
        "p99_ms": (
            "histogram_quantile(0.99, sum by (destination_version, le) "
            f"(rate(istio_request_duration_milliseconds_bucket{{{where}}}{window})))"
        ),
    }


def version_figures(
    base_url: str, namespace: str, app: str, versions: Sequence[str], window_seconds: int
) -> dict[str, VersionFigures]:
    """Each version's requests, 5xx answers and p99 latency over the last `window_seconds`."""
    results = {
        what: instant_query(base_url, promql)
        for what, promql in queries(namespace, app, versions, window_seconds).items()
    }
    return {
        version: VersionFigures(
            requests=results["requests"].get(version, 0.0),
            errors=results["errors"].get(version, 0.0),
            p99_ms=results["p99_ms"].get(version),
        )
        for version in versions
    }
