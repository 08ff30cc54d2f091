"""Rollout reports built by hand, for the HTML report's unit and browser tests.

Typed as the engine builds them (`RolloutReport`, its steps and polls); the figures are small
worked ones: 20 requests a second, 2 of them to the canary at 10 %, a poll every 10 s.
"""

from __future__ import annotations

from typing import Any

from canary.rollout.gates import GateResult
from canary.rollout.run_report import RolloutReport, StepReport
from canary.rollout.watch import Poll, VersionPoll


def poll(
    seconds: float,
    weight: int,
    canary: tuple[int, int, float | None, float | None],
    stable: tuple[int, int, float | None, float | None],
    tests: list[dict[str, Any]] | None = None,
    rollback: bool = False,
    holds: tuple[str, ...] = (),
) -> Poll:
    return Poll(
        seconds=seconds,
        weight=weight,
        versions={"v2": VersionPoll(*canary), "v1": VersionPoll(*stable)},
        unattributed_errors=0,
        tests=tuple(tests or []),
        rollback=rollback,
        holds=holds,
    )


def evidence(e_value: float, threshold: float = 200.0, name: str = "error rate against stable") -> dict[str, Any]:
    return {"test": name, "e_value": e_value, "p_value": min(1.0, 1 / e_value), "threshold": threshold, "alpha": 0.005}


def step(weight: int, started: float, ended: float | None, *gates: GateResult, extended: bool = False) -> StepReport:
    return StepReport(weight=weight, started_seconds=started, ended_seconds=ended, extended=extended, gates=list(gates))


def report(**overrides: Any) -> RolloutReport:
    """A canary at 10 % rolled back at 42.5 s: 20 requests a second, 2 to the canary, polls every 10 s.

    Interval error rates: canary 0/20, 1/20 (5 %), then 2/20 (10 %) and 3/20 (15 %); stable 0 or 1
    of 180 (0.56 %). p99 of the canary null in the second interval (no histogram data)."""
    built: dict[str, Any] = {
        "stack": "dev",
        "canary": "v2",
        "stable": "v1",
        "outcome": "rolled back",
        "reason": "error rate against stable: e-value 250 >= 200",
        "started_at": "2026-12-01T10:00:00Z",
        "verdict_seconds": 42.5,
        "alpha": 0.01,
        "steps": [step(10, 2.5, 42.5, GateResult("health", False, ("e-value 250 >= 200",)))],
        "polls": [
            poll(10.0, 10, (20, 0, 0.0, 12.0), (180, 0, 0.0, 11.0), [evidence(0.5)]),
            poll(20.0, 10, (40, 1, 5.0, None), (360, 1, 0.56, 12.0), [evidence(3.0)]),
            poll(30.0, 10, (60, 3, 10.0, 30.0), (540, 1, 0.0, 10.0), [evidence(40.0)]),
            poll(42.5, 10, (80, 6, 15.0, 45.0), (720, 2, 0.56, 11.0), [evidence(250.0)], rollback=True),
        ],
    }
    built.update(overrides)
    return RolloutReport(**built)
