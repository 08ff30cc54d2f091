"""The rollout itself: step, watch, judge; then promote, or roll back at the first sign of trouble.

Each step: the weight is set and deployed, the split gate checks at once that the mesh routes as
the stack says, the analysis polls at once (so that the interval holding the weight change is a
short one of its own), then the step is watched for its duration while the health analysis polls
Prometheus every `analysis_seconds`. One sequential analysis judges the whole invocation: the
first poll whose decision says so rolls the canary back, mid-step. A poll held for a shared
incident (both versions failing alike), or by a threshold metric out of bounds short of its
failureLimit, extends the step by its interval. A step is promoted only
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

This module is the run from start to end; one step is `canary.rollout.step`, the pauses and the
confirm webhook `canary.rollout.waits`, the state they share `canary.rollout.run_state`, what the
run reports `canary.rollout.run_report`, and the interfaces `canary.rollout.interfaces`.
"""

from __future__ import annotations

from canary.rollout.prometheus import PrometheusError
from canary.rollout.pulumi_stack import UpdateFailedError
from canary.rollout.run_report import ROLLED_BACK, UPDATE_FAILED, RolloutReport
from canary.rollout.run_state import _iso
from canary.rollout.step import Steps
from canary.rollout.waits import Waits

# The objects a step's update changes: the routes carry the weights.
ROUTING_KINDS = ("VirtualService", "HTTPRoute")
RESUMED_NOTE = (
    "resumed at {weight}%: no evidence of this release is kept with the stack, so the analysis starts anew "
    "and what the canary did before this run is not counted"
)


def no_canary(stack: str) -> str:
    """Why a stack without a canary cannot be rolled out, in a real run and a dry run alike."""
    return f"stack {stack} has no canary to roll out: set canary.version first"


class RolloutRefusedError(Exception):
    """The rollout cannot start; nothing was changed. The message is one line."""


class Rollout(Steps, Waits):
    """One stack's rollout: `run` takes the canary through the policy's steps, then promotes or rolls it back."""

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
