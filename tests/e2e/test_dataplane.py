"""The stand-ins for the mesh and its monitoring, against the local API server and a real Prometheus.

A VirtualService as the program writes it is applied with kubectl, with the Gateway, subsets and
Service it routes through; the loopback data plane routes by the objects the API server holds, as
istiod translates them, and Debian's Prometheus scrapes the plane's Istio metrics.
The figures are read with the rollout's own queries and reader (`canary.rollout.prometheus`).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from canary.plan.canary_rules import Canary
from canary.plan.istio_routing import virtual_service
from canary.rollout.prometheus import MeshReader, PrometheusError, series_query
from canary.rollout.watch import interval_quantile
from tests.support.dataplane import DataPlane
from tests.support.dataplane_checks import routing_objects
from tests.support.load import LoadGenerator
from tests.support.prometheus import Prometheus
from tests.support.routing_cases import args
from tests.support.stack import kubectl

APP = "web"


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"e2e-dataplane-{os.getpid()}"
    kubectl("create", "namespace", name).check()
    yield name
    kubectl("delete", "namespace", name, "--wait=false").check()


def per_version(url: str, promql: str) -> dict[str, float]:
    return {labels.get("destination_version", ""): value for labels, value in series_query(url, promql)}


def apply_routing(namespace: str, weight: int) -> None:
    """The program's VirtualService at this weight, with the Gateway, subsets and Service it routes through."""
    manifest = virtual_service(args(Canary(version="v2", cookie="version=v2", weight=weight), namespace=namespace))
    objects = routing_objects(manifest["spec"], namespace)
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})).check()


def test_the_data_plane_follows_the_live_virtual_service_and_prometheus_sees_each_version(
    namespace: str, tmp_path: Path
) -> None:
    apply_routing(namespace, weight=10)
    with DataPlane(namespace, APP) as plane:
        plane.wait_for_split({"v1": 90, "v2": 10}, timeout=5)
        # Latencies a bucket apart in Istio's histogram (5-10 ms and 50-100 ms), so the p99s differ.
        plane.behave("v1", latency_ms=5)
        plane.behave("v2", latency_ms=60, error_rate=0.2)
        with Prometheus([plane.metrics_target], tmp_path / "prometheus") as prometheus:
            with LoadGenerator(plane.url, rate=100) as load:
                # A weight change made on the API server reaches the routing within seconds.
                apply_routing(namespace, weight=50)
                plane.wait_for_split({"v1": 50, "v2": 50}, timeout=3)
                time.sleep(3)
                reader = MeshReader(prometheus.url, namespace, APP, ["v1", "v2"])
                reader.read()  # the baseline
                time.sleep(5)
                figures = reader.read().versions
            (answers,) = load.snapshot()

            # About 250 requests each in those 5 s at 100 a second, half to each version.
            assert 150 <= figures["v1"].requests <= 350, figures
            assert 150 <= figures["v2"].requests <= 350, figures
            assert figures["v1"].errors == 0, figures
            assert figures["v2"].errors > 0, figures
            p99 = {v: interval_quantile(figures[v].buckets, figures[v].requests, 0.99) for v in ("v1", "v2")}
            assert p99["v1"] is not None and 5 <= p99["v1"] <= 10, figures
            assert p99["v2"] is not None and 50 <= p99["v2"] <= 100, figures

            # Every answer is in Prometheus, as the plane counted it, once the last scrape is in.
            served = plane.metrics.requests()
            assert answers["v1"] + answers["v2"] + answers["http_5xx"] == sum(served.values())
            by_version: Counter[str] = Counter()
            for (version, _), n in served.items():
                by_version[version] += n
            total = 'sum by (destination_version) (istio_requests_total{reporter="destination"})'
            deadline = time.monotonic() + 10
            while per_version(prometheus.url, total) != by_version and time.monotonic() < deadline:
                time.sleep(0.5)
            assert per_version(prometheus.url, total) == by_version

            # Stopped, it is unreachable at its URL (what the rollout's fail-closed gate meets);
            # started again, it answers at the same URL with the data it had.
            url = prometheus.url
            prometheus.stop()
            with pytest.raises(PrometheusError, match="unreachable"):
                per_version(url, total)
            prometheus.start()
            assert per_version(url, total) == by_version
