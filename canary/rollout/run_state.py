"""The rollout's state, and the moves every part of it makes: `pulumi up` tried again while it
fails, a poll of Prometheus that failed (held once, then failing closed), a hold reported.

`RolloutState` holds what `Rollout` is built with and what it keeps while it runs; the step
(`canary.rollout.step`), the waits (`canary.rollout.waits`) and the run itself
(`canary.rollout.engine`) are classes on top of it.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from canary.rollout.control import Control, NoControl
from canary.rollout.interfaces import Gates, Notify, View
from canary.rollout.policy import Policy
from canary.rollout.prometheus import PrometheusError
from canary.rollout.pulumi_stack import ReleaseStack, Update, UpdateFailedError
from canary.rollout.run_report import RolloutReport
from canary.rollout.watch import Poll, Sent

# Seconds to wait before each new attempt at an update that failed: about a minute in all, for an
# API server restarting or a control plane failing over.
UPDATE_RETRY_WAITS = (5.0, 10.0, 20.0, 30.0)
# Failed polls of Prometheus held in a row before the health gate fails closed.
POLL_ERRORS_HELD = 1


def _no_notify(kind: str, report: RolloutReport, text: str) -> None:
    return None


def _figure(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.3g}{unit}"


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _iso(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class RolloutState:
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
