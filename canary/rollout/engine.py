"""The rollout itself: step, watch, judge; then promote, or roll back at the first sign of trouble.

Each step: the weight is set and deployed, the split gate checks at once that the mesh routes as
the stack says, then the step is watched for its duration while the health analysis polls
Prometheus every `analysis_seconds`. One sequential analysis judges the whole invocation: the
first poll whose decision says so rolls the canary back, mid-step. A step is promoted only after
its full duration and at least `min_requests` canary requests in it; a step with fewer is
extended once, and if still too thin the rollout stops without promoting ("not enough
evidence": a quiet canary is not a broken one, but nor is it a proven one).

Faults are met so that the stack file and the cluster never disagree without a word: an update
that fails (the API server away) is tried again for about a minute, then the canary is rolled
back to 0 %, and if even that cannot be applied the outcome says so, and which weight the stack
file holds; one failed poll of Prometheus is held (its counters are cumulative, so the next poll
loses nothing), a second in a row fails closed; what an interrupted update left (the stack's
lock, pending operations) is found and cleared before anything changes.

The engine knows the stack, the gates and the analysis only through small interfaces, so that
every path is exercised without a cluster; the command wires the real ones.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from canary import exit_status
from canary.rollout.gates import GateResult
from canary.rollout.policy import Policy
from canary.rollout.prometheus import PrometheusError
from canary.rollout.pulumi_stack import ReleaseStack, Update, UpdateFailedError
from canary.rollout.watch import Poll, Sent

EXIT_DONE = exit_status.OK
EXIT_ROLLED_BACK = exit_status.FAILED
EXIT_REFUSED = exit_status.USAGE
EXIT_UNSETTLED = exit_status.UNSETTLED
EXIT_INTERRUPTED = exit_status.INTERRUPTED

ROLLED_BACK = "rolled back"
NOT_ENOUGH_EVIDENCE = "not enough evidence"
UPDATE_FAILED = "update failed"

# Seconds to wait before each new attempt at an update that failed: about a minute in all, for an
# API server restarting or a control plane failing over.
UPDATE_RETRY_WAITS = (5.0, 10.0, 20.0, 30.0)
# Failed polls of Prometheus held in a row before the health gate fails closed.
POLL_ERRORS_HELD = 1
# The objects a step's update changes: the routes carry the weights.
ROUTING_KINDS = ("VirtualService", "HTTPRoute")
RESUMED_NOTE = "resumed at {weight}%: the analysis starts anew, and what the canary did before this run is not counted"


HEALTH_OFF = "no Prometheus URL (--prometheus or rollout.prometheus)"


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
    """`completed`, `promoted`, `retired`, `rolled back`, `not enough evidence`, `update failed` or
    `interrupted`."""
    reason: str = ""
    verdict_seconds: float | None = None
    resumed: bool = False
    note: str = ""
    recovered: list[str] = field(default_factory=list)
    """What an interrupted run had left on the stack, and what was done about it."""
    poll_errors: list[dict[str, Any]] = field(default_factory=list)
    """Polls of Prometheus that failed: `seconds` since the start and the `error`."""

    @property
    def exit_code(self) -> int:
        if self.outcome in (ROLLED_BACK, NOT_ENOUGH_EVIDENCE):
            return EXIT_ROLLED_BACK
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
            "analysis": {"resumed": self.resumed, "note": self.note, "poll_errors": self.poll_errors},
            "recovered": self.recovered,
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
    update_retry_waits: tuple[float, ...] = UPDATE_RETRY_WAITS
    _started: float = 0.0
    _sent: dict[str, Sent] = field(default_factory=dict)

    def run(self, *, promote: bool, retire: bool) -> RolloutReport:
        settings = self.stack.settings()
        if settings.canary is None:
            raise RolloutRefusedError(f"stack {self.stack.name} has no canary to roll out: set canary.version first")
        if (problem := self.preflight()) is not None:
            raise RolloutRefusedError(problem)
        # What a killed run left (the stack's lock, pending operations): cleared, and said, or refused.
        recovered = self.stack.recover()
        for line in recovered:
            self.view.event(line)
        pending = self.stack.pending()
        if recovered and settings.weight > 0:
            # The update a killed run left unfinished was a step's: the weight the stack file holds,
            # which this run's first step applies again. Anything else pending still refuses.
            own = [c for c in pending if c.op == "update" and c.type.rsplit(":", 1)[-1] in ROUTING_KINDS]
            pending = [c for c in pending if c not in own]
            if own:
                self.view.event(
                    f"the interrupted update ({', '.join(str(c) for c in own)}) is applied by the first step, "
                    f"at {settings.weight}%"
                )
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
            recovered=list(recovered),
        )
        weight = settings.weight
        steps = self.policy.remaining(weight)
        if weight > 0:
            report.resumed = True
            report.note = RESUMED_NOTE.format(weight=weight)
            self.view.event(f"{canary} is at {weight}% in the stack file: resuming from there")
            self.view.event(report.note)
        applied = weight
        """The weight the cluster was last updated to (or, when resuming, the stack file's)."""
        try:
            for index, step in enumerate(steps, 1):
                weight = step
                try:
                    passed = self._step(report, index, len(steps), step, canary, stable)
                except UpdateFailedError as err:
                    self._update_failed(report, canary, f"could not apply {step}%: {err}", applied)
                    return report
                applied = step
                if not passed:
                    self._roll_back(report, canary, applied)
                    return report
            report.verdict_seconds = self._elapsed()
            report.outcome = "completed"
            if promote or retire:
                self.view.event(f"promoting {canary}: it becomes the stable version, the canary ends")
                self.stack.promote(canary)
                if not self._settled(report, f"canary rollout: promote {canary}", "the promotion"):
                    return report
                report.outcome = "promoted"
                weight = 100
            if retire:
                self.view.event(f"retiring {stable}: its Deployment and subset are removed")
                self.stack.retire(stable)
                if not self._settled(report, f"canary rollout: retire {stable}", f"retiring {stable}"):
                    return report
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

    def _up(self, message: str) -> Update:
        """`pulumi up`, tried again after each wait of `update_retry_waits` while it fails.

        Trying again is safe: an update sets every object to what the stack file says, so one
        that half happened is finished by the next (what the engine was doing when it failed is
        in its state, and it picks up from there).
        """
        waits = self.update_retry_waits
        for attempt in range(len(waits) + 1):
            try:
                return self.stack.up(message)
            except UpdateFailedError as err:
                if attempt == len(waits):
                    raise UpdateFailedError(f"{err} ({attempt + 1} attempts over {sum(waits):g}s)") from None
                self.view.event(f"  the update failed: {err}; trying again in {waits[attempt]:g}s")
                self.sleep(waits[attempt])
        raise AssertionError("unreachable")

    def _settled(self, report: RolloutReport, message: str, what: str) -> bool:
        """Apply a promotion or retirement; on failure the outcome says what the stack file holds."""
        try:
            self._up(message)
        except UpdateFailedError as err:
            report.outcome = UPDATE_FAILED
            report.reason = (
                f"{what} is in the stack file but the cluster did not take it: {err}; "
                f"run `pulumi up --stack {self.stack.name}` once the cluster answers"
            )
            self.view.event(report.reason)
            return False
        return True

    def _update_failed(self, report: RolloutReport, canary: str, failure: str, applied: int) -> None:
        """A step's update failed every attempt: fail closed, to 0 % if the cluster takes it."""
        report.verdict_seconds = self._elapsed()
        report.reason = failure
        self.view.event(f"rolling back: {failure}")
        self.stack.set_weight(0)
        try:
            self._up(f"canary rollout: roll back {canary}")
        except UpdateFailedError as err:
            report.outcome = UPDATE_FAILED
            report.reason = (
                f"{failure}; nor could the roll back be applied: {err}. The stack file says {canary} at 0%; "
                f"the cluster was last updated to {applied}% and may hold the failed step's weight: run "
                f"`pulumi up --stack {self.stack.name}` once the cluster answers, then the rollout again"
            )
            self.view.event(report.reason)
            return
        report.outcome = ROLLED_BACK
        self.view.event(f"{canary} is at 0%: cookie and header testers still reach it")

    def _step(self, report: RolloutReport, index: int, count: int, weight: int, canary: str, stable: str) -> bool:
        step = StepReport(weight=weight, started_seconds=self._elapsed())
        report.steps.append(step)
        self.view.event(f"step {index}/{count}: {canary} at {weight}%")
        self.stack.set_weight(weight)
        update = self._up(f"canary rollout: {canary} at {weight}%")
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
        failed_polls = 0
        while True:
            now = self.clock()
            if health is not None and (now >= next_poll or now >= deadline):
                try:
                    poll = health.poll(weight, now - self._started, self._sent)
                except PrometheusError as err:
                    # The counters are cumulative and the analysis is valid at any poll, so a
                    # poll skipped loses no evidence and spends no error budget: one is held.
                    failed_polls += 1
                    report.poll_errors.append({"seconds": round(now - self._started, 3), "error": str(err)})
                    if failed_polls > POLL_ERRORS_HELD:
                        problem = f"{err}: failing closed ({failed_polls} polls in a row failed)"
                        return GateResult("health", False, (problem,)), False
                    self.view.event(
                        f"  poll failed: {err}; held: the next poll, in {policy.analysis_seconds:g}s, reads every "
                        "count since"
                    )
                    next_poll = now + policy.analysis_seconds
                    # A step ends on a poll that answered: the deadline waits for the next one.
                    deadline = max(deadline, next_poll) if now >= deadline else deadline
                else:
                    failed_polls = 0
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

    def _roll_back(self, report: RolloutReport, canary: str, applied: int) -> None:
        self.view.event(f"rolling back: {report.reason}")
        self.stack.set_weight(0)
        try:
            self._up(f"canary rollout: roll back {canary}")
        except UpdateFailedError as err:
            report.reason += (
                f"; the roll back could not be applied: {err}. The stack file says {canary} at 0%, the cluster "
                f"holds {applied}%: run `pulumi up --stack {self.stack.name}` once the cluster answers"
            )
            report.outcome = UPDATE_FAILED
            self.view.event(report.reason)
            return
        self.view.event(f"{canary} is at 0%: cookie and header testers still reach it")
