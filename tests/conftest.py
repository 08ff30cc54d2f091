"""Fixtures any unit test may ask for: a fresh baseline config and the program run under mocks.

Their data (the project folder, the shipped stacks, the baseline) is in tests/support/project.py.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from canary.config.files import as_config_strings
from tests.support.project import BASELINE, shipped_stack
from tests.support.simulate import Simulation, install_mocks, simulate


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    # A default run leaves the slow tests out (pyproject.toml); say so where the run ends.
    if "not slow" in (config.option.markexpr or ""):
        terminalreporter.write_line(
            "tests marked slow (Monte Carlo runs, checkov's scan) are left out by default: "
            "-m slow runs them, -m 'not e2e and not istio' the whole unit tier (as .ci/run does)"
        )


@pytest.fixture
def baseline() -> dict[str, Any]:
    return copy.deepcopy(BASELINE)


@pytest.fixture
def run() -> Callable[..., Simulation]:
    """Run the program under mocks with a config written as plain Python values."""

    def run_config(values: dict[str, Any], *, into: Simulation | None = None) -> Simulation:
        return simulate(as_config_strings(values), into=into)

    return run_config


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
