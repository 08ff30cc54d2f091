"""The rollout itself: step, watch, judge; then promote, or roll back on the first failed gate.

The engine knows the stack and the gates only through small interfaces, so that every path
(a failed gate, an interrupted step, a resumed release) is exercised without a cluster; the
command wires the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from canary.rollout.gates import GateResult
from canary.rollout.policy import Policy
from canary.rollout.stack import ReleaseStack

EXIT_DONE = 0
EXIT_ROLLED_BACK = 1
EXIT_REFUSED = 2
EXIT_INTERRUPTED = 130


class RolloutRefusedError(Exception):
    """The rollout cannot start; nothing was changed. The message is one line."""


@dataclass(frozen=True)
class Gates:
    split: Callable[[Mapping[str, Any]], GateResult]
    """Given the stack's outputs after the step's update."""
    health: Callable[[float], GateResult]
    """Given the seconds the step has been watched."""
    webhook: Callable[[Mapping[str, Any]], GateResult]
    """Given the step's figures."""


class View(Protocol):
    def event(self, message: str) -> None:
        """Something happened: a line in the log."""
        ...

    def watching(self, step: int, steps: int, weight: int, seconds_left: float) -> None:
        """A step is being watched; called about once a second."""
        ...

    def gate(self, result: GateResult) -> None: ...


@dataclass
class StepReport:
    weight: int
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
            "gates": [gate.to_json() for gate in self.gates],
        }


@dataclass
class RolloutReport:
    stack: str
    canary: str
    stable: str
    steps: list[StepReport] = field(default_factory=list)
    outcome: str = "running"
    """`completed`, `promoted`, `retired`, `rolled back` or `interrupted`."""
    reason: str = ""

    @property
    def exit_code(self) -> int:
        if self.outcome == "rolled back":
            return EXIT_ROLLED_BACK
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
            "steps": [step.to_json() for step in self.steps],
        }


@dataclass
class Rollout:
    stack: ReleaseStack
    policy: Policy
    gates: Gates
    view: View
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def run(self, *, promote: bool, retire: bool) -> RolloutReport:
        settings = self.stack.settings()
        if settings.canary is None:
            raise RolloutRefusedError(f"stack {self.stack.name} has no canary to roll out: set canary.version first")
        pending = self.stack.pending()
        if pending:
            listed = ", ".join(str(change) for change in pending[:3]) + (", ..." if len(pending) > 3 else "")
            raise RolloutRefusedError(
                f"stack {self.stack.name} has changes the rollout would deploy along with its steps ({listed}); "
                "run `pulumi up` for them first"
            )
        canary, stable = settings.canary.version, settings.stable_version
        report = RolloutReport(stack=self.stack.name, canary=canary, stable=stable)
        weight = settings.weight
        steps = self.policy.remaining(weight)
        if weight > 0:
            self.view.event(f"{canary} is at {weight}% in the stack file: resuming from there")
        try:
            for index, step in enumerate(steps, 1):
                weight = step
                passed = self._step(report, index, len(steps), step, canary, stable)
                if not passed:
                    self._roll_back(report, canary)
                    return report
            report.outcome = "completed"
            if promote or retire:
                self.view.event(f"promoting {canary}: it becomes the stable version, the canary ends")
                self.stack.promote(canary)
                self.stack.up(f"canary rollout: promote {canary}")
                report.outcome = "promoted"
                weight = 100
            if retire:
                self.view.event(f"retiring {stable}: its Deployment and subset are removed")
                self.stack.retire(stable)
                self.stack.up(f"canary rollout: retire {stable}")
                report.outcome = "retired"
        except KeyboardInterrupt:
            report.outcome = "interrupted"
            report.reason = (
                f"interrupted with {canary} at {weight}%: the stack file says so and was left as it is; "
                "run the rollout again to continue from there"
            )
            self.view.event(report.reason)
        return report

    def _step(self, report: RolloutReport, index: int, count: int, weight: int, canary: str, stable: str) -> bool:
        step = StepReport(weight=weight)
        report.steps.append(step)
        self.view.event(f"step {index}/{count}: {canary} at {weight}%")
        self.stack.set_weight(weight)
        update = self.stack.up(f"canary rollout: {canary} at {weight}%")
        step.changes = update.changes
        started = self.clock()
        while (left := self.policy.step_seconds - (self.clock() - started)) > 0:
            self.view.watching(index, count, weight, left)
            self.sleep(min(1.0, left))
        # Both kinds of evidence are gathered and logged, whichever fails; the webhook hears of a
        # step only when the step has passed them.
        step.gates.append(self._judged(self.gates.split(update.outputs)))
        step.gates.append(self._judged(self.gates.health(self.clock() - started)))
        if step.ok:
            payload = {
                "stack": report.stack,
                "canary": canary,
                "stable": stable,
                "step": index,
                "weight": weight,
                "gates": [gate.to_json() for gate in step.gates],
            }
            step.gates.append(self._judged(self.gates.webhook(payload)))
        if not step.ok:
            failed = next(gate for gate in step.gates if not gate.ok)
            report.reason = f"{failed.gate} gate failed at {weight}%: " + "; ".join(failed.problems)
        return step.ok

    def _judged(self, result: GateResult) -> GateResult:
        self.view.gate(result)
        return result

    def _roll_back(self, report: RolloutReport, canary: str) -> None:
        self.view.event(f"rolling back: {report.reason}")
        self.stack.set_weight(0)
        self.stack.up(f"canary rollout: roll back {canary}")
        report.outcome = "rolled back"
        self.view.event(f"{canary} is at 0%: cookie and header testers still reach it")
