"""A Release's properties as the Pulumi engine sends them to the component package (numbers as floats)."""

from __future__ import annotations

from typing import Any


def issue_release(**changes: Any) -> dict[str, Any]:
    """The properties of the YAML program in examples/yaml, as the engine sends them (numbers as floats)."""
    properties: dict[str, Any] = {
        "namespace": "shop",
        "app": "web",
        "hosts": ["shop.example.org"],
        "versions": [{"version": "v1", "image": "nginx:1.27"}, {"version": "v2", "image": "nginx:1.28"}],
        "stable": "v1",
        "canary": {"version": "v2", "cookie": "version=v2", "weight": 10.0},
    }
    properties.update(changes)
    return properties
