"""The rollout's waits: the pauses after a step (an approval, a timer) and the confirm webhook,
while the analysis keeps polling and an abort is honoured."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from canary.config.steps import pauses_after
from canary.rollout.control import Wait, WaitKind
from canary.rollout.prometheus import PrometheusError
from canary.rollout.run_report import ROLLED_BACK, RolloutReport
from canary.rollout.run_state import RolloutState, _iso


class Waits(RolloutState):
    """The waits of a `Rollout` (which is built from this class and `Steps`)."""

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
