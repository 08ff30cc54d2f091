"""Pauses, approvals, aborts and the confirm webhook, on the engine with stand-in stack and gates.

Approvals and aborts go through the real `TagControl` and the real `approve`/`abort` functions,
over tags kept in memory: what another process would write, the running rollout reads.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from canary.rollout import release_tags
from canary.rollout.control import TagControl, approve
from canary.rollout.gates import GateResult
from tests.support.memory_tags import MemoryTags
from tests.support.rollout_fakes import FakeClock, FakeHealth, FakeStack
from tests.support.rollout_operator import Operator, engine


def test_a_pause_holds_the_weight_until_another_process_approves():
    clock, tags = FakeClock(), MemoryTags()
    operator = Operator(tags, clock).at(400, "approve", "bob@desk")
    stack = FakeStack()
    rollout, view, heard = engine("10,pause,50", clock, tags, operator, stack=stack)
    report = rollout.run(promote=True, retire=False)
    assert report.outcome == "promoted"
    assert stack.log[:3] == ["weight 10", "up: canary rollout: v2 at 10%", "weight 50"]
    (wait,) = report.waits
    assert (wait.kind, wait.step, wait.weight, wait.outcome, wait.by) == ("approval", 1, 10, "approved", "bob@desk")
    # The step ended at 30 s; the approval came at 400 s and is read within five seconds.
    assert clock.now - 30 >= 400 and wait.since != wait.ended
    assert view.lines and all(" 10% approval since " in line for line in view.lines)
    assert ("waiting", "at 10% for an approval (canary rollout --approve)") in heard
    assert "approved: the rollout of stack prod waiting since" in operator.answers[0]
    # While it waited, the tags said what for; once over, nothing.
    published = [json for key, json in tags.writes if key == release_tags.WAITING and json]
    assert published and '"weight":10' in published[0] and '"step":1' in published[0]
    assert release_tags.WAITING not in tags.tags


def test_an_abort_while_paused_rolls_back_now_naming_who():
    clock, tags = FakeClock(), MemoryTags()
    operator = Operator(tags, clock).at(100, "abort", "carol@ops")
    stack = FakeStack()
    rollout, _, heard = engine("10,pause,50", clock, tags, operator, stack=stack)
    report = rollout.run(promote=True, retire=False)
    assert (report.outcome, report.reason, report.exit_code) == ("rolled back", "aborted by carol@ops", 1)
    assert stack.log[-2:] == ["weight 0", "up: canary rollout: roll back v2"]
    assert report.waits[0].outcome == "aborted" and report.waits[0].by == "carol@ops"
    assert clock.now < 110  # within the five seconds between reads of the tags
    assert heard[-1][0] == "rolled back"


def test_an_abort_during_a_step_rolls_back_mid_step():
    clock, tags = FakeClock(), MemoryTags()
    operator = Operator(tags, clock).at(12, "abort", "carol@ops")
    stack = FakeStack()
    rollout, _, _ = engine("10,50", clock, tags, operator, stack=stack)
    report = rollout.run(promote=True, retire=False)
    assert (report.outcome, report.reason) == ("rolled back", "aborted by carol@ops")
    assert stack.log == ["weight 10", "up: canary rollout: v2 at 10%", "weight 0", "up: canary rollout: roll back v2"]
    assert clock.now < 30  # before the step's end


def test_the_analysis_keeps_watching_while_paused_and_rolls_a_bad_canary_back():
    clock, tags = FakeClock(), MemoryTags()
    health = FakeHealth(clock, rollback_at=200)
    stack = FakeStack()
    rollout, _, _ = engine("10,pause,50", clock, tags, Operator(tags, clock), health=health, stack=stack)
    report = rollout.run(promote=True, retire=False)
    assert report.outcome == "rolled back"
    assert report.reason.startswith("health gate failed at 10% while waiting for an approval")
    assert 200 <= report.verdict_seconds <= 210
    assert [seconds for seconds, _, _ in health.polled if seconds > 30][:2] == [40, 50]
    assert stack.config["canary"]["weight"] == 0


def test_a_timed_pause_ends_on_its_own_and_an_approval_ends_it_early():
    clock, tags = FakeClock(), MemoryTags()
    rollout, _, _ = engine("10,pause=5m,50", clock, tags, Operator(tags, clock))
    report = rollout.run(promote=False, retire=False)
    assert report.outcome == "completed" and report.waits[0].outcome == "timer"
    assert clock.now == 30 + 300 + 30
    assert report.waits[0].until is not None

    clock, tags = FakeClock(), MemoryTags()
    operator = Operator(tags, clock).at(60, "approve")
    rollout, _, _ = engine("10,pause=5m,50", clock, tags, operator)
    report = rollout.run(promote=False, retire=False)
    assert report.waits[0].outcome == "approved" and clock.now < 30 + 40 + 30


def test_a_pause_first_waits_before_any_weight_changes():
    clock, tags = FakeClock(), MemoryTags()
    stack = FakeStack()
    operator = Operator(tags, clock).at(50, "approve")
    rollout, _, _ = engine("pause,10", clock, tags, operator, stack=stack)
    seen: list[list[str]] = []
    operator.before_sleep.append(lambda: seen.append(list(stack.log)))
    report = rollout.run(promote=False, retire=False)
    assert report.outcome == "completed" and report.waits[0].weight == 0
    assert seen[0] == [] and stack.log[0] == "weight 10"


def test_an_approval_given_for_one_wait_does_not_carry_over_to_the_next():
    clock, tags = FakeClock(), MemoryTags()
    operator = Operator(tags, clock).at(40, "approve")
    rollout, _, _ = engine("10,pause,50,pause", clock, tags, operator)
    operator.at(10_000, "abort")  # ends the second wait, which the first approval must not end
    report = rollout.run(promote=False, retire=False)
    assert [w.outcome for w in report.waits] == ["approved", "aborted"]


def test_the_confirm_webhook_holds_until_2xx_and_never_rolls_back_by_itself():
    clock, tags = FakeClock(), MemoryTags()
    answers: list[float] = []

    def confirm(payload: Any) -> GateResult:
        answers.append(clock.now)
        ok = clock.now >= 3600
        return GateResult("confirm", ok, () if ok else ("answered 409",), {"status": 200 if ok else 409})

    stack = FakeStack()
    rollout, _, _ = engine("10,50", clock, tags, Operator(tags, clock), confirm=confirm, stack=stack)
    report = rollout.run(promote=False, retire=False)
    assert report.outcome == "completed"
    assert "weight 0" not in stack.log
    assert [w.outcome for w in report.waits] == ["confirmed", "confirmed"]
    assert report.waits[0].figures == {"status": 200}
    assert answers[0] == 30 and answers[1] - answers[0] == 10  # asked every analysis interval


def test_an_approval_does_not_replace_the_confirm_webhook():
    tags = MemoryTags()
    tags.write(release_tags.LOCK, release_tags.encode({"run": "r", "holder": "h", "since": "s"}))
    tags.write(release_tags.WAITING, release_tags.encode({"id": "r:1", "what": "confirm webhook", "step": 1}))
    try:
        approve(tags, "prod", "bob", "now")
    except Exception as err:
        assert "which an approval does not replace" in str(err)
    else:
        raise AssertionError("an approval was taken for the confirm webhook")


def test_the_report_shows_what_is_awaited_and_since_when():
    clock, tags = FakeClock(), MemoryTags()
    rollout, _, _ = engine("10,pause=1m,50", clock, tags, Operator(tags, clock))
    document = rollout.run(promote=False, retire=False).to_json()
    assert document["waiting"] is None
    (wait,) = document["waits"]
    assert wait["kind"] == "timer" and wait["what"].startswith("1m, or an approval")
    assert wait["since"].endswith("Z") and wait["ended"].endswith("Z") and wait["outcome"] == "timer"


def test_the_html_report_lists_each_wait_and_the_one_still_open():
    from canary.rollout.report.html import render_html

    clock, tags = FakeClock(), MemoryTags()
    operator = Operator(tags, clock).at(100, "approve", "bob<script>")
    rollout, _, _ = engine("10,pause,50", clock, tags, operator)
    report = rollout.run(promote=False, retire=False)
    page = render_html(report)
    assert "<h2>Waits</h2>" in page and "an approval (canary rollout --approve)" in page
    assert "2026-12-07T04:00:30Z" in page and "approved by bob&lt;script&gt;" in page
    report.waits[0] = dataclasses.replace(report.waits[0], ended=None)
    assert "Waiting at 10 % for an approval (canary rollout --approve) since 2026-12-07T04:00:30Z" in render_html(
        report
    )


class FlakyTags(MemoryTags):
    """A backend that cannot be reached for a while."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def read(self) -> dict[str, str]:
        if self.down:
            from canary.rollout.release_tags import TagStoreError

            raise TagStoreError("cannot read the tags of stack prod: error: connection refused")
        return super().read()


def test_a_backend_that_cannot_be_read_for_a_while_delays_an_approval_and_stops_nothing():
    clock, tags = FakeClock(), FlakyTags()
    operator = Operator(tags, clock).at(38, "approve")
    warnings: list[str] = []
    rollout, _, _ = engine("10,pause,50", clock, tags, operator)
    rollout.control = TagControl(tags, "run-1", clock=clock, warn=warnings.append)
    operator.before_sleep.append(lambda: setattr(tags, "down", 39 <= clock.now < 60))
    report = rollout.run(promote=False, retire=False)
    assert report.outcome == "completed" and report.waits[0].outcome == "approved"
    assert 60 <= clock.now - 30 < 70  # read again once the backend answers
    assert warnings and warnings[0].startswith("warning: cannot read the tags of stack prod")


def test_an_approval_in_full_skips_the_steps_left_to_the_promotion():
    clock, tags = FakeClock(), MemoryTags()
    operator = Operator(tags, clock).at(40, "approve", "bob@desk", full=True)
    stack = FakeStack()
    rollout, _, _ = engine("10,pause,25,50", clock, tags, operator, stack=stack)
    report = rollout.run(promote=True, retire=False)
    assert report.outcome == "promoted" and [step.weight for step in report.steps] == [10]
    assert stack.log == ["weight 10", "up: canary rollout: v2 at 10%", "promote v2", "up: canary rollout: promote v2"]
    assert (report.waits[0].outcome, report.waits[0].by) == ("approved in full", "bob@desk")
    assert operator.answers[0].startswith("approved in full: the rollout of stack prod")
    assert "goes on, skipping the steps left, within 5s" in operator.answers[0]


def test_status_says_who_runs_and_what_it_waits_for_since_when():
    from canary.rollout.control import status

    clock, tags = FakeClock(), MemoryTags()
    seen: list[str] = []
    operator = Operator(tags, clock).at(60, "approve")
    rollout, _, _ = engine("10,pause,50", clock, tags, operator)
    operator.before_sleep.append(lambda: seen.append(status(tags, "prod")[0]) if clock.now == 45 else None)
    rollout.run(promote=False, retire=False)
    assert seen == [
        "a rollout of stack prod is running: ci@runner, since t=0; waiting at step 1 (10%) for an approval "
        "(canary rollout --approve) since 2026-12-07T04:00:30Z"
    ]
    tags.remove(release_tags.LOCK)
    line, document = status(tags, "prod")
    assert line == "no rollout of stack prod is running" and document["lock"] is None
