"""What the rollout engine knows of its collaborators: the health analysis, the gates, the view
and the notifications, as small interfaces, so that every path of the engine runs without a
cluster (the command wires the real ones)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from canary.rollout.control import Wait
from canary.rollout.gates import GateResult
from canary.rollout.run_report import RolloutReport
from canary.rollout.watch import Poll, Sent


class Health(Protocol):
    """The health analysis (`watch.HealthWatch`): a baseline, then a judgement at every poll."""

    def begin(self) -> None:
        """Take the baseline; raises PrometheusError."""
        ...

    def canary_requests(self) -> int:
        """The canary's requests counted so far."""
        ...

    def poll(self, weight: int, seconds: float, sent: Mapping[str, Sent]) -> Poll:
        """Read the counters and judge; raises PrometheusError."""
        ...

    @property
    def resumed_note(self) -> str:
        """What evidence kept from an earlier run the analysis continues ("" if none)."""
        ...

    @property
    def calibration(self) -> str:
        """What stable's history before the rollout said of how its 5xx vary ("" if not read)."""
        ...

    def keep(self, weight: int, saved_at: str) -> str | None:
        """Keep the evidence where the release's state lives; a warning line if it cannot be."""
        ...

    def forget(self) -> str | None:
        """The release ended: remove its kept evidence; a warning line if it cannot be."""
        ...


@dataclass(frozen=True)
class Gates:
    split: Callable[[Mapping[str, Any]], GateResult]
    """Given the stack's outputs after the step's update."""
    webhook: Callable[[Mapping[str, Any]], GateResult]
    """Given the step's figures."""
    health: Health | None = None
    """None when there is no Prometheus: steps are then judged by the split gate and webhook."""
    confirm: Callable[[Mapping[str, Any]], GateResult] | None = None
    """Asked after each step passes, until it answers ok: the rollout holds meanwhile (`--confirm`)."""


class View(Protocol):
    def event(self, message: str) -> None:
        """Something happened: a line in the log."""
        ...

    def watching(self, step: int, steps: int, weight: int, seconds_left: float) -> None:
        """A step is being watched; called about once a second."""
        ...

    def poll(self, poll: Poll) -> None:
        """The analysis judged the counts so far."""
        ...

    def gate(self, result: GateResult) -> None: ...

    def waiting(self, step: int, steps: int, wait: Wait, seconds_left: float | None) -> None:
        """The rollout waits (an approval, a timer, the confirm webhook); called about once a second."""
        ...


Notify = Callable[[str, "RolloutReport", str], None]
"""An event for the people who follow the release: its kind (`started`, `step passed`, `held`,
`waiting`, `rolled back`, `completed`, `promoted`, `retired`, `interrupted`), the report so far, and
one line on what happened."""
