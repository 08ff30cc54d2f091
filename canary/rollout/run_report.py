"""What a rollout did: each step with its gates, the polls, holds and waits, and the outcome with
the exit status that says it (`--json` prints it; the HTML report and the notifications read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from canary.rollout.control import Wait
from canary.rollout.gates import GateResult
from canary.rollout.watch import Poll
from canary.support import exit_status

EXIT_DONE = exit_status.OK
EXIT_ROLLED_BACK = exit_status.FAILED
EXIT_REFUSED = exit_status.USAGE
EXIT_HELD = exit_status.HELD
EXIT_UNSETTLED = exit_status.UNSETTLED
EXIT_INTERRUPTED = exit_status.INTERRUPTED

ROLLED_BACK = "rolled back"
HELD = "held"
UPDATE_FAILED = "update failed"


@dataclass
class StepReport:
    weight: int
    started_seconds: float = 0.0
    ended_seconds: float | None = None
    extended: bool = False
    changes: dict[str, int] = field(default_factory=dict)
    gates: list[GateResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(gate.ok for gate in self.gates)

    def to_json(self) -> dict[str, Any]:
        return {
            "weight": self.weight,
            "ok": self.ok,
            "changes": self.changes,
            "started_seconds": round(self.started_seconds, 3),
            "ended_seconds": None if self.ended_seconds is None else round(self.ended_seconds, 3),
            "extended": self.extended,
            "gates": [gate.to_json() for gate in self.gates],
        }


@dataclass
class RolloutReport:
    stack: str
    canary: str
    stable: str
    alpha: float = 0.0
    started_at: str = ""
    steps: list[StepReport] = field(default_factory=list)
    polls: list[Poll] = field(default_factory=list)
    outcome: str = "running"
    """`completed`, `promoted`, `retired`, `rolled back`, `held`, `update failed` or `interrupted`."""
    reason: str = ""
    verdict_seconds: float | None = None
    resumed: bool = False
    note: str = ""
    calibration: str = ""
    holds: list[dict[str, Any]] = field(default_factory=list)
    """Each hold: when, at which weight, why, and what stable was doing."""
    run: str = ""
    """This invocation's id (the lock's), which an approval or abort names."""
    waits: list[Wait] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    """What an interrupted run had left on the stack, and what was done about it."""
    poll_errors: list[dict[str, Any]] = field(default_factory=list)
    """Polls of Prometheus that failed: `seconds` since the start and the `error`."""

    @property
    def waiting(self) -> Wait | None:
        """The wait in progress, if any."""
        return self.waits[-1] if self.waits and self.waits[-1].ended is None else None

    @property
    def exit_code(self) -> int:
        if self.outcome == ROLLED_BACK:
            return EXIT_ROLLED_BACK
        if self.outcome == HELD:
            return EXIT_HELD
        if self.outcome == UPDATE_FAILED:
            return EXIT_UNSETTLED
        if self.outcome == "interrupted":
            return EXIT_INTERRUPTED
        return EXIT_DONE

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "canary": self.canary,
            "stable": self.stable,
            "outcome": self.outcome,
            "reason": self.reason,
            "started_at": self.started_at,
            "verdict_seconds": None if self.verdict_seconds is None else round(self.verdict_seconds, 3),
            "alpha": self.alpha,
            "analysis": {
                "resumed": self.resumed,
                "note": self.note,
                "calibration": self.calibration,
                "poll_errors": self.poll_errors,
            },
            "recovered": self.recovered,
            "holds": self.holds,
            "waiting": None if self.waiting is None else self.waiting.to_json(),
            "waits": [wait.to_json() for wait in self.waits],
            "steps": [step.to_json() for step in self.steps],
            "polls": [poll.to_json() for poll in self.polls],
        }
