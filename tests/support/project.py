"""The project the tests check: its folder, the stacks it ships, and a small valid config to vary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from canary.config.files import stack_config
from tests.support.simulate import Simulation, simulate

PROJECT_DIR = Path(__file__).resolve().parents[2]
# The stacks the project ships. Not a glob: `pulumi stack init NAME` writes a Pulumi.NAME.yaml of
# the user's (often only an encryptionsalt), which is not ours to test.
SHIPPED_STACKS = ["bookinfo-reviews", "dev", "gateway-api", "podinfo", "prod", "staging"]

# A small valid config, as a user would write it; tests change one key at a time.
BASELINE: dict[str, Any] = {
    "namespace": "shop",
    "app": "web",
    "hosts": ["web.example.com"],
    "versions": [
        {"name": "v1", "image": "registry.example.com/web:1.0"},
        {"name": "v2", "image": "registry.example.com/web:2.0"},
    ],
    "canary": {"version": "v2", "cookie": "version=v2"},
}


def shipped_stack(name: str) -> Simulation:
    return simulate(stack_config(PROJECT_DIR, name), stack=name)
