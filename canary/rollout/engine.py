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
from canary.rollout.control import Control, NoControl, Wait, WaitKind
from canary.rollout.gates import GateResult
from canary.rollout.policy import Policy
from canary.rollout.prometheus import PrometheusError
from canary.rollout.pulumi_stack import ReleaseStack, Update, UpdateFailedError
from canary.rollout.watch import Poll, Sent
from canary.steps import pauses_after

EXIT_DONE = exit_status.OK
EXIT_ROLLED_BACK = exit_status.FAILED
EXIT_REFUSED = exit_status.USAGE
EXIT_HELD = exit_status.HELD
EXIT_UNSETTLED = exit_status.UNSETTLED
EXIT_INTERRUPTED = exit_status.INTERRUPTED

ROLLED_BACK = "rolled back"
HELD = "held"
UPDATE_FAILED = "update failed"

# Seconds to wait before each new attempt at an update that failed: about a minute in all, for an
# API server restarting or a control plane failing over.
UPDATE_RETRY_WAITS = (5.0, 10.0, 20.0, 30.0)
# Failed polls of Prometheus held in a row before the health gate fails closed.
POLL_ERRORS_HELD = 1
# The objects a step's update changes: the routes carry the weights.
ROUTING_KINDS = ("VirtualService", "HTTPRoute")
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


def _no_notify(kind: str, report: RolloutReport, text: str) -> None:
    return None


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


def _figure(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.3g}{unit}"


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _iso(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


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
    control: Control = field(default_factory=NoControl)
    """Approvals and aborts from elsewhere (`control.TagControl`)."""
    notify: Notify = _no_notify
    run_id: str = ""
    update_retry_waits: tuple[float, ...] = UPDATE_RETRY_WAITS
    _started: float = 0.0
    _applied: int = 0
    """The weight the cluster was last updated to (when resuming, the stack file's)."""
    _failed_polls: int = 0
    """Polls of Prometheus failed in a row."""
    _skip_rest_by: str = ""
    """Who approved in full (`--approve --full`): the steps left are skipped."""
    _sent: dict[str, Sent] = field(default_factory=dict)

    def run(self, *, promote: bool, retire: bool) -> RolloutReport:
        settings = self.stack.settings()
        if settings.canary is None:
            raise RolloutRefusedError(no_canary(self.stack.name))
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
        self._failed_polls = 0
        report = RolloutReport(
            stack=self.stack.name,
            canary=canary,
            stable=stable,
            alpha=self.policy.limits.alpha,
            started_at=_iso(self.wall()),
            run=self.run_id,
            recovered=list(recovered),
        )
        weight = settings.weight
        self._applied = weight
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
        steps_text = ", ".join(f"{s}%" for s in steps)
        self.notify("started", report, f"from {weight}% through {steps_text}" if weight else f"through {steps_text}")
        try:
            if weight == 0 and not self._pauses(report, 0, len(steps), 0):
                self._roll_back(report, canary)
                self._forget()
                return report
            if self._skip_rest_by:
                steps = ()
            for index, step in enumerate(steps, 1):
                weight = step
                try:
                    passed = self._step(report, index, len(steps), step, canary, stable)
                except UpdateFailedError as err:
                    self._update_failed(report, canary, f"could not apply {step}%: {err}")
                    self._forget()
                    return report
                if not passed:
                    if report.outcome == ROLLED_BACK:
                        self._roll_back(report, canary)
                        self._forget()
                    else:
                        self.view.event(f"stopped, held: {report.reason}")
                        self._keep(step)
                        self.notify("held", report, report.reason)
                    return report
                self._keep(step)
                self.notify("step passed", report, f"step {index}/{len(steps)} at {step}% passed")
                if not self._after_step(report, index, len(steps), step, canary, stable):
                    self._roll_back(report, canary)
                    self._forget()
                    return report
                if self._skip_rest_by:
                    self.view.event(f"approved in full by {self._skip_rest_by}: the steps left are skipped")
                    break
            report.verdict_seconds = self._elapsed()
            report.outcome = "completed"
            self._forget()
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
            self.notify(report.outcome, report, "")
        except KeyboardInterrupt as stop:
            report.outcome = "interrupted"
            report.reason = (
                f"interrupted with {canary} at {weight}%: the stack file says so and was left as it is; "
                "run the rollout again to continue from there"
            )
            if str(stop):  # the release lock was taken (`lock.LockLostError`): the stack is another's now
                report.reason = f"{stop} ({weight}%)"
            else:
                self._keep(weight)
            self.view.event(report.reason)
            self.notify("interrupted", report, "")
        return report

    def _keep(self, weight: int) -> None:
        if self.gates.health is not None:
            saved_at = self.wall().isoformat(timespec="seconds").replace("+00:00", "Z")
            if (warning := self.gates.health.keep(weight, saved_at)) is not None:
                self.view.event(f"warning: {warning}")

    def _forget(self) -> None:
        if self.gates.health is not None and (warning := self.gates.health.forget()) is not None:
            self.view.event(f"warning: {warning}")

    def _after_step(self, report: RolloutReport, index: int, count: int, weight: int, canary: str, stable: str) -> bool:
        """The confirm webhook, then the pauses after this step; False when the canary must be rolled back."""
        if self.gates.confirm is not None:
            payload = {"stack": report.stack, "canary": canary, "stable": stable, "step": index, "weight": weight}
            if not self._wait(report, index, count, weight, "confirm", "the confirm webhook to answer 2xx", payload):
                return False
        return self._pauses(report, index, count, weight)

    def _pauses(self, report: RolloutReport, index: int, count: int, weight: int) -> bool:
        for pause in pauses_after(self.policy.pauses, weight):
            if pause.seconds is None:
                what = "an approval (canary rollout --approve)"
                done = self._wait(report, index, count, weight, "approval", what)
            else:
                what = f"{pause.describe().removeprefix('timer ')}, or an approval (canary rollout --approve)"
                done = self._wait(report, index, count, weight, "timer", what, seconds=pause.seconds)
            if not done:
                return False
        return True

    def _wait(
        self,
        report: RolloutReport,
        index: int,
        count: int,
        weight: int,
        kind: WaitKind,
        what: str,
        payload: Mapping[str, Any] | None = None,
        seconds: float | None = None,
    ) -> bool:
        """Hold the weight until the wait ends: approved, its time up, or the confirm webhook's 2xx.

        The analysis keeps polling meanwhile, and an abort is honoured: False when the canary must
        be rolled back (report.outcome and reason say why). A wait never rolls back by itself.
        """
        since = self.wall()
        wait = Wait(
            id=f"{report.run}:{len(report.waits) + 1}",
            kind=kind,
            what=what,
            step=index,
            weight=weight,
            since=_iso(since),
            until=None if seconds is None else _iso(since + datetime.timedelta(seconds=seconds)),
        )
        report.waits.append(wait)
        self.control.waiting(wait)
        self.view.event(f"waiting at {weight}% for {what}, since {wait.since}")
        self.notify("waiting", report, f"at {weight}% for {what}")
        began = self.clock()
        health, policy = self.gates.health, self.policy
        next_poll = began + policy.analysis_seconds
        next_confirm = began
        try:
            while True:
                now = self.clock()
                if health is not None and now >= next_poll:
                    failed = self._poll_while_waiting(report, weight, what)
                    if failed:
                        wait.outcome = ROLLED_BACK
                        return False
                    while next_poll <= now:
                        next_poll += policy.analysis_seconds
                command = self.control.command()
                if command is not None and command.action == "abort":
                    wait.outcome, wait.by = "aborted", command.by
                    report.outcome, report.reason = ROLLED_BACK, f"aborted by {command.by}"
                    report.verdict_seconds = self._elapsed()
                    return False
                if command is not None and kind != "confirm":
                    wait.outcome, wait.by = "approved in full" if command.full else "approved", command.by
                    self.view.event(f"  {wait.outcome} by {command.by}")
                    if command.full:
                        self._skip_rest_by = command.by
                    return True
                if seconds is not None and now - began >= seconds:
                    wait.outcome = "timer"
                    return True
                if kind == "confirm" and self.gates.confirm is not None and now >= next_confirm:
                    result = self.gates.confirm(payload or {})
                    wait.figures = dict(result.figures)
                    if result.ok:
                        wait.outcome = "confirmed"
                        self.view.gate(result)
                        return True
                    next_confirm = now + policy.analysis_seconds
                left = None if seconds is None else began + seconds - now
                self.view.waiting(index, count, wait, left)
                self.sleep(1.0 if left is None else max(min(1.0, left), 0.0))
        finally:
            wait.ended = _iso(self.wall())
            wait.outcome = wait.outcome or "interrupted"
            self.control.waiting(None)

    def _poll_while_waiting(self, report: RolloutReport, weight: int, what: str) -> bool:
        """One poll of the analysis during a wait; True when it says roll back (report says why)."""
        assert self.gates.health is not None
        try:
            poll = self.gates.health.poll(weight, self._elapsed(), self._sent)
        except PrometheusError as err:
            if (closed := self._failed_poll(report, err)) is None:
                return False
            problems: tuple[str, ...] = (closed,)
        else:
            self._failed_polls = 0
            report.polls.append(poll)
            self.view.poll(poll)
            if poll.hold:
                self._hold(report, poll, "the wait goes on")
            if not poll.rollback:
                return False
            problems = poll.reasons
        report.outcome = ROLLED_BACK
        report.reason = f"health gate failed at {weight}% while waiting for {what}: {'; '.join(problems)}"
        report.verdict_seconds = self._elapsed()
        return True

    def _elapsed(self) -> float:
        return self.clock() - self._started

    def _failed_poll(self, report: RolloutReport, err: PrometheusError) -> str | None:
        """A poll that failed: held (None), or the problem that fails the gate closed.

        The counters are cumulative and the analysis is valid at any poll, so a poll skipped loses
        no evidence and spends no error budget: one in a row is held.
        """
        self._failed_polls += 1
        report.poll_errors.append({"seconds": round(self._elapsed(), 3), "error": str(err)})
        if self._failed_polls > POLL_ERRORS_HELD:
            return f"{err}: failing closed ({self._failed_polls} polls in a row failed)"
        self.view.event(
            f"  poll failed: {err}; held: the next poll, in {self.policy.analysis_seconds:g}s, reads every count since"
        )
        return None

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
            self.notify(report.outcome, report, "")
            return False
        return True

    def _update_failed(self, report: RolloutReport, canary: str, failure: str) -> None:
        """A step's update failed every attempt: fail closed, to 0 % if the cluster takes it."""
        report.verdict_seconds = self._elapsed()
        report.outcome, report.reason = ROLLED_BACK, failure
        self._roll_back(report, canary)

    def _step(self, report: RolloutReport, index: int, count: int, weight: int, canary: str, stable: str) -> bool:
        step = StepReport(weight=weight, started_seconds=self._elapsed())
        report.steps.append(step)
        self.view.event(f"step {index}/{count}: {canary} at {weight}%")
        self.stack.set_weight(weight)
        update = self._up(f"canary rollout: {canary} at {weight}%")
        self._applied = weight
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
        plain = thin or failed.gate == "abort"  # its problem says it all: "aborted by alice@laptop"
        report.reason = problems if plain else f"{failed.gate} gate failed at {weight}%: {problems}"
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
                    if (closed := self._failed_poll(report, err)) is not None:
                        return GateResult("health", False, (closed,)), False
                    next_poll = now + policy.analysis_seconds
                    # A step ends on a poll that answered: the deadline waits for the next one.
                    deadline = max(deadline, next_poll) if now >= deadline else deadline
                    last_call = max(last_call, deadline)
                else:
                    self._failed_polls = 0
                    report.polls.append(poll)
                    self.view.poll(poll)
                    if poll.rollback:
                        return GateResult("health", False, poll.reasons, {"poll": poll.to_json()}), False
                    was_held, held_now = held_now, poll.hold
                    if held_now:
                        # The held interval does not count towards the step's duration.
                        deadline = min(deadline + (now - last_poll_at), last_call)
                        self._hold(report, poll, f"the step is extended by {now - last_poll_at:.0f}s")
                        if not was_held:  # once a hold, not at each of its polls
                            self.notify("held", report, "; ".join(poll.holds))
                    last_poll_at = now
                    while next_poll <= now:
                        next_poll += policy.analysis_seconds
            if (command := self.control.command()) is not None and command.action == "abort":
                return GateResult("abort", False, (f"aborted by {command.by}",), {"by": command.by}), False
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
                    line = (
                        f"{seen} canary requests, {policy.min_requests} needed: "
                        f"the step is extended, up to {policy.hold_seconds:g}s"
                    )
                    self.view.event(f"  held at {weight}%: {line}")
                    self.notify("held", report, line)
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
            f"stable {stable.requests} requests, {stable.errors} 5xx (now {_figure(stable.error_rate, '%')}, "
            f"p99 {_figure(stable.p99_ms, ' ms')})"
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
        try:
            self._up(f"canary rollout: roll back {canary}")
        except UpdateFailedError as err:
            report.outcome = UPDATE_FAILED
            report.reason += (
                f"; nor could the roll back be applied: {err}. The stack file says {canary} at 0%; the cluster "
                f"was last updated to {self._applied}%: run `pulumi up --stack {self.stack.name}` once the cluster "
                "answers"
            )
        else:
            self._applied = 0
            self.view.event(f"{canary} is at 0%: cookie and header testers still reach it")
        self.notify(report.outcome, report, "")
