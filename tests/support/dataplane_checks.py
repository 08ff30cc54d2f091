"""What the data plane's tests read: a spec's routing objects, a spec read live, the metrics parsed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")


def routing_objects(spec: Mapping[str, Any], namespace: str = "shop") -> list[dict[str, Any]]:
    """The VirtualService with `spec` and what it routes through, as a stack of app `web` has
    them: its Gateway, the DestinationRule's subsets and the Service."""
    spec = {"hosts": ["web.example.com"], "gateways": ["web-gateway"], **spec}
    meta = {"namespace": namespace}
    return [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "web-gateway", **meta},
            "spec": {
                "selector": {"istio": "ingressgateway"},
                "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["web.example.com"]}],
            },
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": "web-destinationrule", **meta},
            "spec": {
                "host": "web-service",
                "subsets": [{"name": v, "labels": {"version": v}} for v in ("v1", "v2", "v3")],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web-service", **meta},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 80}]},
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "web-virtualservice", **meta},
            "spec": spec,
        },
    ]


class SpecHolder:
    """An injectable source of routing objects: the test swaps the VirtualService's `spec` and the
    plane follows (None: no routing objects at all)."""

    def __init__(self, spec: Mapping[str, Any] | None) -> None:
        self.spec = spec
        self.fail = False

    def __call__(self) -> list[dict[str, Any]] | None:
        if self.fail:
            raise RuntimeError("the API server is restarting")
        return None if self.spec is None else routing_objects(self.spec)


def parse_exposition(text: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float]]]:
    """(TYPE of each family, samples) of Prometheus' text format; fails on a line it cannot read."""
    types: dict[str, str] = {}
    samples = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif line and not line.startswith("#"):
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            labels = dict(re.findall(r'(\w+)="([^"\\]*)"', match["labels"] or ""))
            samples.append((match["name"], labels, float(match["value"])))
    return types, samples


def series(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> list[float]:
    return [value for n, got, value in samples if n == name and labels.items() <= got.items()]
