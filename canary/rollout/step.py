"""One step of the rollout: the weight set and deployed, the split gate at once, the step watched
for its duration (extended for holds and thin evidence up to the hold limit) while the analysis
polls, then the webhook gate."""

from __future__ import annotations

from canary.rollout.gates import GateResult
from canary.rollout.prometheus import PrometheusError
from canary.rollout.run_report import HELD, ROLLED_BACK, RolloutReport, StepReport
from canary.rollout.run_state import RolloutState
from canary.rollout.watch import Sent

HEALTH_OFF = "no Prometheus URL (--prometheus or rollout.prometheus)"


class Steps(RolloutState):
    """The steps of a `Rollout` (which is built from this class and `Waits`)."""

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
        held_for: tuple[str, ...] = ()  # the last hold's reasons (a shared incident, a threshold metric)
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
                        held_for = poll.holds
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
                    limit = f"after {now - began:.0f}s (the hold limit {policy.hold_seconds:g}s reached)"
                    why = (
                        f" for want of evidence: {seen} canary requests, {policy.min_requests} needed {limit}"
                        if seen < policy.min_requests
                        else f": still held {limit}: {'; '.join(held_for)}"
                    )
                    problem = f"held at {weight}%{why}; the weight stays at {weight}%, and a rerun continues from there"
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

    def _judged(self, result: GateResult) -> GateResult:
        self.view.gate(result)
        return result
