"""The rollout itself: step, watch, judge; then promote, or roll back at the first sign of trouble.

Each step: the weight is set and deployed, the split gate checks at once that the mesh routes as
the stack says, then the step is watched for its duration while the health analysis polls
Prometheus every `analysis_seconds`. One sequential analysis judges the whole invocation: the
first poll whose decision says so rolls the canary back, mid-step. A step is promoted only after
its full duration and at least `min_requests` canary requests in it; a step with fewer is
extended once, and if still too thin the rollout stops without promoting ("not enough
evidence": a quiet canary is not a broken one, but nor is it a proven one).

The engine knows the stack, the gates and the analysis only through small interfaces, so that
every path is exercised without a cluster; the command wires the real ones.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from canary.rollout.gates import GateResult
from canary.rollout.policy import Policy
from canary.rollout.prometheus import PrometheusError
from canary.rollout.pulumi_stack import ReleaseStack
from canary.rollout.watch import Poll, Sent

EXIT_DONE = 0
EXIT_ROLLED_BACK = 1
EXIT_REFUSED = 2
EXIT_INTERRUPTED = 130

ROLLED_BACK = "rolled back"
NOT_ENOUGH_EVIDENCE = "not enough evidence"
RESUMED_NOTE = "resumed at {weight}%: the analysis starts anew, and what the canary did before this run is not counted"


HEALTH_OFF = "no Prometheus URL (--prometheus or rollout.prometheus)"


def no_canary(stack: str) -> str:
    """Why a stack without a canary cannot be rolled out, in a real run and a dry run alike."""
    return f"stack {stack} has no canary to roll out: set canary.version first"


class RolloutRefusedError(Exception):
    """The rollout cannot start; nothing was changed. The message is one line."""


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


@dataclass(frozen=True)
class Gates:
    split: Callable[[Mapping[str, Any]], GateResult]
    """Given the stack's outputs after the step's update."""
    webhook: Callable[[Mapping[str, Any]], GateResult]
    """Given the step's figures."""
    health: Health | None = None
    """None when there is no Prometheus: steps are then judged by the split gate and webhook."""


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
    """`completed`, `promoted`, `retired`, `rolled back`, `not enough evidence` or `interrupted`."""
    reason: str = ""
    verdict_seconds: float | None = None
    resumed: bool = False
    note: str = ""

    @property
    def exit_code(self) -> int:
        if self.outcome in (ROLLED_BACK, NOT_ENOUGH_EVIDENCE):
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
            "started_at": self.started_at,
            "verdict_seconds": None if self.verdict_seconds is None else round(self.verdict_seconds, 3),
            "alpha": self.alpha,
            "analysis": {"resumed": self.resumed, "note": self.note},
            "steps": [step.to_json() for step in self.steps],
            "polls": [poll.to_json() for poll in self.polls],
        }


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class Rollout:
    stack: ReleaseStack
    policy: Policy
    gates: Gates
    view: View
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime.datetime] = _utc_now
    preflight: Callable[[], str | None] = lambda: None
    """The checks that must pass before any weight changes (`preflight.problem`); a line, or None."""
    _started: float = 0.0
    _sent: dict[str, Sent] = field(default_factory=dict)

    def run(self, *, promote: bool, retire: bool) -> RolloutReport:
        settings = self.stack.settings()
        if settings.canary is None:
            raise RolloutRefusedError(no_canary(self.stack.name))
        if (problem := self.preflight()) is not None:
            raise RolloutRefusedError(problem)
        pending = self.stack.pending()
        if pending:
            listed = ", ".join(str(change) for change in pending[:3]) + (", ..." if len(pending) > 3 else "")
            raise RolloutRefusedError(
                f"stack {self.stack.name} has changes the rollout would deploy along with its steps ({listed}); "
                "run `pulumi up` for them first"
            )
        canary, stable = settings.canary.version, settings.stable_version
        if self.gates.health is not None:
            try:
                self.gates.health.begin()
            except PrometheusError as err:
                raise RolloutRefusedError(f"{err}: nothing changed") from None
        self._started = self.clock()
        self._sent = {}
        report = RolloutReport(
            stack=self.stack.name,
            canary=canary,
            stable=stable,
            alpha=self.policy.limits.alpha,
            started_at=self.wall().isoformat(timespec="seconds").replace("+00:00", "Z"),
        )
        weight = settings.weight
        steps = self.policy.remaining(weight)
        if weight > 0:
            report.resumed = True
            report.note = RESUMED_NOTE.format(weight=weight)
            self.view.event(f"{canary} is at {weight}% in the stack file: resuming from there")
            self.view.event(report.note)
        try:
            for index, step in enumerate(steps, 1):
                weight = step
                if not self._step(report, index, len(steps), step, canary, stable):
                    self._roll_back(report, canary)
                    return report
            report.verdict_seconds = self._elapsed()
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

    def _elapsed(self) -> float:
        return self.clock() - self._started

    def _step(self, report: RolloutReport, index: int, count: int, weight: int, canary: str, stable: str) -> bool:
        step = StepReport(weight=weight, started_seconds=self._elapsed())
        report.steps.append(step)
        self.view.event(f"step {index}/{count}: {canary} at {weight}%")
        self.stack.set_weight(weight)
        update = self.stack.up(f"canary rollout: {canary} at {weight}%")
        step.changes = update.changes
        # The split right after the update: a misrouted split is caught before users ride on it.
        split = self._judged(self.gates.split(update.outputs))
        step.gates.append(split)
        for version, sent in split.sent.items():
            self._sent[version] = self._sent.get(version, Sent()) + sent
        if split.ok:
            health, thin = self._watch(report, step, index, count)
            step.gates.append(self._judged(health))
            if health.ok:
                payload = {
                    "stack": report.stack,
                    "canary": canary,
                    "stable": stable,
                    "step": index,
                    "weight": weight,
                    "gates": [gate.to_json() for gate in step.gates],
                }
                step.gates.append(self._judged(self.gates.webhook(payload)))
        else:
            thin = False
        step.ended_seconds = self._elapsed()
        if step.ok:
            return True
        failed = next(gate for gate in step.gates if not gate.ok)
        report.outcome = NOT_ENOUGH_EVIDENCE if thin else ROLLED_BACK
        problems = "; ".join(failed.problems)
        report.reason = problems if thin else f"{failed.gate} gate failed at {weight}%: {problems}"
        report.verdict_seconds = step.ended_seconds
        return False

    def _watch(self, report: RolloutReport, step: StepReport, index: int, count: int) -> tuple[GateResult, bool]:
        """Watch the step for its duration (extended once if too thin), polling the analysis.

        The health gate's result, and whether it failed for want of evidence (not ill health).
        """
        health, policy, weight = self.gates.health, self.policy, step.weight
        began = self.clock()
        deadline = began + policy.step_seconds
        next_poll = began + policy.analysis_seconds
        canary_before = health.canary_requests() if health is not None else 0
        while True:
            now = self.clock()
            if health is not None and (now >= next_poll or now >= deadline):
                try:
                    poll = health.poll(weight, now - self._started, self._sent)
                except PrometheusError as err:
                    return GateResult("health", False, (f"{err}: failing closed",)), False
                report.polls.append(poll)
                self.view.poll(poll)
                if poll.rollback:
                    return GateResult("health", False, poll.reasons, {"poll": poll.to_json()}), False
                while next_poll <= now:
                    next_poll += policy.analysis_seconds
            if now >= deadline:
                if health is None:
                    return GateResult("health", True, (), {"off": HEALTH_OFF}), False
                seen = health.canary_requests() - canary_before
                figures = {"canary_requests": seen, "min_requests": policy.min_requests, "watched_seconds": now - began}
                if seen >= policy.min_requests:
                    return GateResult("health", True, (), figures), False
                if not step.extended:
                    step.extended = True
                    deadline += policy.step_seconds
                    self.view.event(
                        f"  {seen} canary requests at {weight}%, {policy.min_requests} needed: "
                        f"the step is extended by {policy.step_seconds:g}s, once"
                    )
                    continue
                problem = (
                    f"not enough evidence at {weight}%: {seen} canary requests in {now - began:g}s "
                    f"(the step extended once), at least {policy.min_requests} needed"
                )
                return GateResult("health", False, (problem,), figures), True
            self.view.watching(index, count, weight, deadline - now)
            wait = deadline - now if health is None else min(deadline, next_poll) - now
            self.sleep(min(1.0, wait))

    def _judged(self, result: GateResult) -> GateResult:
        self.view.gate(result)
        return result

    def _roll_back(self, report: RolloutReport, canary: str) -> None:
        self.view.event(f"rolling back: {report.reason}")
        self.stack.set_weight(0)
        self.stack.up(f"canary rollout: roll back {canary}")
        self.view.event(f"{canary} is at 0%: cookie and header testers still reach it")
