"""Shared fixtures: the shipped stacks' config, a valid baseline config, and the program run under mocks."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from canary.config.files import as_config_strings, stack_config
from tests.simulate import Simulation, install_mocks, simulate

PROJECT_DIR = Path(__file__).resolve().parent.parent
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


@pytest.fixture
def baseline() -> dict[str, Any]:
    return copy.deepcopy(BASELINE)


@pytest.fixture
def run() -> Callable[..., Simulation]:
    """Run the program under mocks with a config written as plain Python values."""

    def run_config(values: dict[str, Any], *, into: Simulation | None = None) -> Simulation:
        return simulate(as_config_strings(values), into=into)

    return run_config


def shipped_stack(name: str) -> Simulation:
    return simulate(stack_config(PROJECT_DIR, name), stack=name)


@pytest.fixture(scope="session")
def dev_stack() -> Simulation:
    return shipped_stack("dev")


@pytest.fixture
def recorded() -> Iterator[Simulation]:
    """Mocks that record every registration, for tests that build one component themselves."""
    simulation = Simulation()
    install_mocks(simulation)
    yield simulation
    # As `simulate` does: close the mocks' event loop rather than leave it to the collector.
    asyncio.get_event_loop().close()
    asyncio.set_event_loop(None)
