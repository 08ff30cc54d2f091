"""The rollout itself: step, watch, judge; then promote, or roll back at the first sign of trouble.

Each step: the weight is set and deployed, the split gate checks at once that the mesh routes as
the stack says, the analysis polls at once (so that the interval holding the weight change is a
short one of its own), then the step is watched for its duration while the health analysis polls
Prometheus every `analysis_seconds`. One sequential analysis judges the whole invocation: the
first poll whose decision says so rolls the canary back, mid-step. A poll held for a shared
incident (both versions failing alike) extends the step by its interval. A step is promoted only
after its full duration and at least `min_requests` canary requests in it; a thinner one is
extended an interval at a time. Neither extension goes past `hold_seconds`: then the rollout
stops, held, with the weight where it is (a quiet canary is not a broken one, nor a proven one),
and a rerun continues from there.

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
from canary.rollout.pulumi_stack import ReleaseStack
from canary.rollout.watch import Poll, Sent

EXIT_DONE = exit_status.OK
EXIT_ROLLED_BACK = exit_status.FAILED
EXIT_REFUSED = exit_status.USAGE
EXIT_HELD = exit_status.HELD
EXIT_INTERRUPTED = exit_status.INTERRUPTED

ROLLED_BACK = "rolled back"
HELD = "held"
RESUMED_NOTE = (
    "resumed at {weight}%: no evidence of this release is kept with the stack, so the analysis starts anew "
    "and what the canary did before this run is not counted"
)


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
    """`completed`, `promoted`, `retired`, `rolled back`, `held` or `interrupted`."""
    reason: str = ""
    verdict_seconds: float | None = None
    resumed: bool = False
    note: str = ""
    calibration: str = ""
    holds: list[dict[str, Any]] = field(default_factory=list)
    """Each hold: when, at which weight, why, and what stable was doing."""

    @property
    def exit_code(self) -> int:
        if self.outcome == ROLLED_BACK:
            return EXIT_ROLLED_BACK
        if self.outcome == HELD:
            return EXIT_HELD
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
            "analysis": {"resumed": self.resumed, "note": self.note, "calibration": self.calibration},
            "holds": self.holds,
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
        continued = self.gates.health.resumed_note if self.gates.health is not None else ""
        if self.gates.health is not None and self.gates.health.calibration:
            report.calibration = self.gates.health.calibration
            self.view.event(report.calibration)
        if weight > 0:
            self.view.event(f"{canary} is at {weight}% in the stack file: resuming from there")
        if continued:
            report.resumed, report.note = True, continued
            self.view.event(continued)
        elif weight > 0:
            report.resumed = True
            report.note = RESUMED_NOTE.format(weight=weight)
            self.view.event(report.note)
        try:
            for index, step in enumerate(steps, 1):
                weight = step
                if not self._step(report, index, len(steps), step, canary, stable):
                    if report.outcome == ROLLED_BACK:
                        self._roll_back(report, canary)
                        self._forget()
                    else:
                        self.view.event(f"stopped, held: {report.reason}")
                        self._keep(step)
                    return report
                self._keep(step)
            report.verdict_seconds = self._elapsed()
            report.outcome = "completed"
            self._forget()
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
            self._keep(weight)
        return report

    def _keep(self, weight: int) -> None:
        if self.gates.health is not None:
            saved_at = self.wall().isoformat(timespec="seconds").replace("+00:00", "Z")
            if (warning := self.gates.health.keep(weight, saved_at)) is not None:
                self.view.event(f"warning: {warning}")

    def _forget(self) -> None:
        if self.gates.health is not None and (warning := self.gates.health.forget()) is not None:
            self.view.event(f"warning: {warning}")

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
        report.outcome = HELD if thin else ROLLED_BACK
        problems = "; ".join(failed.problems)
        report.reason = problems if thin else f"{failed.gate} gate failed at {weight}%: {problems}"
        report.verdict_seconds = step.ended_seconds
        return False

    def _watch(self, report: RolloutReport, step: StepReport, index: int, count: int) -> tuple[GateResult, bool]:
        """Watch the step for its duration, extended for holds and thin evidence up to the hold
        limit, polling the analysis: at once (just after the weight change), then every interval.

        The health gate's result, and whether it stopped the rollout held (not for ill health).
        """
        health, policy, weight = self.gates.health, self.policy, step.weight
        began = self.clock()
        deadline = began + policy.step_seconds
        last_call = deadline + policy.hold_seconds
        next_poll = began
        canary_before = health.canary_requests() if health is not None else 0
        last_poll_at = began
        held_now = False
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
                held_now = poll.hold
                if held_now:
                    # The held interval does not count towards the step's duration.
                    deadline = min(deadline + (now - last_poll_at), last_call)
                    self._hold(report, poll, f"the step is extended by {now - last_poll_at:.0f}s")
                last_poll_at = now
                while next_poll <= now:
                    next_poll += policy.analysis_seconds
            if now >= deadline:
                if health is None:
                    return GateResult("health", True, (), {"off": HEALTH_OFF}), False
                seen = health.canary_requests() - canary_before
                figures = {"canary_requests": seen, "min_requests": policy.min_requests, "watched_seconds": now - began}
                if seen >= policy.min_requests and not held_now:
                    return GateResult("health", True, (), figures), False
                if now >= last_call:
                    why = (
                        f"{seen} canary requests, {policy.min_requests} needed"
                        if seen < policy.min_requests
                        else "both versions still failing alike"
                    )
                    problem = (
                        f"held at {weight}% for want of evidence: {why} after {now - began:.0f}s "
                        f"(the hold limit {policy.hold_seconds:g}s reached); the weight stays at {weight}%, "
                        "and a rerun continues from there"
                    )
                    return GateResult("health", False, (problem,), figures), True
                if not step.extended and seen < policy.min_requests:
                    self.view.event(
                        f"  held at {weight}%: {seen} canary requests, {policy.min_requests} needed: "
                        f"the step is extended, up to {policy.hold_seconds:g}s"
                    )
                    report.holds.append(
                        {"seconds": round(now - self._started, 3), "weight": weight, "reasons": ["thin evidence"]}
                    )
                step.extended = True
                deadline = min(now + policy.analysis_seconds, last_call)
                next_poll = min(next_poll, deadline)
            self.view.watching(index, count, weight, deadline - now)
            wait = deadline - now if health is None else min(deadline, next_poll) - now
            self.sleep(max(0.0, min(1.0, wait)))

    def _hold(self, report: RolloutReport, poll: Poll, what: str) -> None:
        stable = poll.versions.get(report.stable)
        doing = (
            f"stable {stable.requests} requests, {stable.errors} 5xx (now {stable.error_rate}%, p99 {stable.p99_ms} ms)"
            if stable is not None
            else "stable not seen"
        )
        report.holds.append(
            {
                "seconds": round(poll.seconds, 3),
                "weight": poll.weight,
                "reasons": list(poll.holds),
                "stable": stable.to_json() if stable is not None else None,
            }
        )
        self.view.event(f"  held at {poll.weight}%: {'; '.join(poll.holds)}; {doing}: {what}")

    def _judged(self, result: GateResult) -> GateResult:
        self.view.gate(result)
        return result

    def _roll_back(self, report: RolloutReport, canary: str) -> None:
        self.view.event(f"rolling back: {report.reason}")
        self.stack.set_weight(0)
        self.stack.up(f"canary rollout: roll back {canary}")
        self.view.event(f"{canary} is at 0%: cookie and header testers still reach it")
