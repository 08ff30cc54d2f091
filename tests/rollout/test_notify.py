"""Notifications: every event of a rollout reaches a receiver on loopback through Apprise (json://),
each message short and saying what a person needs; a receiver that fails is a warning only."""

from __future__ import annotations

from typing import Any

from canary.rollout.notify import Notifier, message
from tests.support.loopback_http import serving
from tests.support.memory_tags import MemoryTags
from tests.support.rollout_fakes import FakeClock, FakeHealth, FakeStack
from tests.support.rollout_operator import Operator, engine


def ok(_: Any) -> tuple[int, dict[str, Any]]:
    return 200, {}


def run_with_receiver(
    steps: str,
    promote: bool = True,
    retire: bool = False,
    plan: tuple[float, str, str] = (40, "approve", "bob@desk"),
    **kwargs: Any,
) -> tuple[Any, list[Any]]:
    clock, tags = FakeClock(), MemoryTags()
    operator = Operator(tags, clock).at(*plan)
    with serving(ok) as (url, received):
        notifier = Notifier([url.replace("http://", "json://") + "/events"], warn=lambda line: None)
        rollout, _, _ = engine(steps, clock, tags, operator, **{k: v(clock) for k, v in kwargs.items()})
        rollout.notify = notifier
        report = rollout.run(promote=promote, retire=retire)
    return report, [body for path, body in received if path == "/events"]


def test_a_paused_release_that_is_promoted_and_retired_sends_each_event():
    report, messages = run_with_receiver("10,pause,50", retire=True)
    assert report.outcome == "retired"
    assert [m["title"] for m in messages] == [
        "prod: canary v2 started",
        "prod: canary v2 step passed",
        "prod: canary v2 waiting",
        "prod: canary v2 step passed",
        "prod: canary v2 retired",
    ]
    started, passed, waiting, _, retired = messages
    assert started["message"] == "v2 against stable v1, through 10%, 50%."
    assert passed["message"] == "step 1/2 at 10% passed (30s in)." and passed["type"] == "info"
    assert waiting["message"].splitlines() == [
        "Waiting at 10% for an approval (canary rollout --approve) since 2026-12-07T04:00:30Z.",
        "Approve: canary rollout --stack prod --approve    Roll back: canary rollout --stack prod --abort",
        "The analysis keeps watching: a bad canary is still rolled back.",
    ]
    assert waiting["type"] == "warning"
    assert retired["message"].splitlines() == [
        "Verdict: retired: v2 is the stable version and v1 is retired.",
        "Steps 10%, 50%, verdict after 1m10s.",  # 30 s, the approval read at 40 s, 30 s
    ]
    assert retired["type"] == "success"


def test_a_rollback_says_the_verdict_and_who_still_reaches_the_canary():
    report, messages = run_with_receiver(
        "10,50", plan=(1e9, "approve", ""), health=lambda clock: FakeHealth(clock, rollback_at=20)
    )
    assert report.outcome == "rolled back"
    last = messages[-1]
    assert last["title"] == "prod: canary v2 rolled back to 0%" and last["type"] == "failure"
    assert last["message"].splitlines() == [
        "Verdict: rolled back after 20s: health gate failed at 10%: error rate limit: e-value 600 >= 500.",
        "Stable v1 serves all plain traffic; cookie and header testers still reach v2.",
    ]


def test_an_abort_is_sent_as_a_rollback_naming_who():
    report, messages = run_with_receiver("10,pause,50", plan=(35, "abort", "carol@ops"))
    assert report.reason == "aborted by carol@ops"
    assert messages[-1]["message"].startswith("Verdict: rolled back after 35s: aborted by carol@ops.")


def test_thin_evidence_is_sent_as_held_and_an_interruption_as_interrupted():
    report, messages = run_with_receiver(
        "10", plan=(1e9, "approve", ""), health=lambda clock: FakeHealth(clock, rate=0.01)
    )
    held = [m for m in messages if m["title"] == "prod: canary v2 held"]
    assert report.outcome == "held" and len(held) == 2
    assert held[0]["message"].splitlines() == [
        "Held at 10%: 0 canary requests, 50 needed: the step is extended, up to 600s.",
        "The weight stays; the rollout goes on by itself.",
    ]
    assert held[1]["message"].startswith("Verdict: held at 10%: held at 10% for want of evidence: ")
    assert held[1]["message"].endswith("run `canary rollout --stack prod` again to continue.")
    stack = FakeStack()
    stack.interrupt_on_up = 1
    report, messages = run_with_receiver("10,50", plan=(1e9, "approve", ""), stack=lambda clock: stack)
    assert report.outcome == "interrupted"
    assert messages[-1]["title"] == "prod: canary v2 interrupted"
    assert messages[-1]["message"].startswith("Verdict: interrupted: interrupted with v2 at 50%")


def test_a_receiver_that_fails_is_a_warning_and_the_rollout_goes_on():
    warnings: list[str] = []
    with serving(lambda _: (500, {})) as (url, received):
        notifier = Notifier([url.replace("http://", "json://") + "/?token=SECRET"], warn=warnings.append)
        clock, tags = FakeClock(), MemoryTags()
        rollout, _, _ = engine("10,50", clock, tags, Operator(tags, clock))
        rollout.notify = notifier
        report = rollout.run(promote=True, retire=False)
    assert report.outcome == "promoted" and len(received) == 4
    assert len(warnings) == 4 and warnings[0].startswith("warning: the 'started' notification to json://127.0.0.1:")
    assert all("failed; the rollout goes on" in w for w in warnings)


def test_every_message_is_short():
    report, messages = run_with_receiver("10,pause,50", retire=True)
    assert all(len(m["message"]) < 400 and len(m["title"]) < 80 for m in messages)
    assert message("promoted", report, "").body.startswith("Verdict: promoted: v2 is the stable version.")
