"""The rollout engine on a stack and gates that stand in for the real ones: every path, no cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from canary.rollout.engine import Rollout, RolloutRefusedError
from canary.rollout.gates import GateResult
from canary.rollout.interfaces import Gates
from canary.rollout.policy import Policy
from canary.rollout.pulumi_stack import Change, StackError
from canary.rollout.watch import Sent
from tests.support.rollout_fakes import FakeClock, FakeHealth, FakeStack, Recorder, passing


def gates(health: Any = None, **overrides: Callable[[Any], GateResult]) -> Gates:
    chosen = {"split": passing("split"), "webhook": passing("webhook"), **overrides}
    return Gates(health=health, **chosen)


def rollout(
    stack: FakeStack,
    the_gates: Gates,
    steps: tuple[int, ...] = (10, 50),
    clock: FakeClock | None = None,
    preflight: Callable[[], str | None] = lambda: None,
    **policy: Any,
) -> tuple[Rollout, Recorder]:
    clock = clock or FakeClock()
    view = Recorder()
    engine = Rollout(
        stack=stack,
        policy=Policy(steps=steps, **{"step_seconds": 30, **policy}),
        gates=the_gates,
        view=view,
        sleep=clock.sleep,
        clock=clock,
        preflight=preflight,
    )
    return engine, view


def test_a_healthy_canary_walks_every_step_then_is_promoted_and_retired():
    stack = FakeStack()
    engine, _ = rollout(stack, gates())
    report = engine.run(promote=True, retire=True)
    assert (report.outcome, report.exit_code) == ("retired", 0)
    assert stack.log == [
        "weight 10",
        "up: canary rollout: v2 at 10%",
        "weight 50",
        "up: canary rollout: v2 at 50%",
        "promote v2",
        "up: canary rollout: promote v2",
        "retire v1",
        "up: canary rollout: retire v1",
    ]
    assert stack.config["stable"] == "v2" and [v["name"] for v in stack.config["versions"]] == ["v2"]
    assert [step.weight for step in report.steps] == [10, 50]


def test_without_promote_it_stops_at_the_last_step():
    stack = FakeStack()
    report = rollout(stack, gates())[0].run(promote=False, retire=False)
    assert (report.outcome, report.exit_code) == ("completed", 0)
    assert stack.config["canary"]["weight"] == 50


def test_each_step_is_polled_every_interval_for_its_full_duration_then_promoted():
    clock = FakeClock()
    health = FakeHealth(clock)
    engine, view = rollout(FakeStack(), gates(health), clock=clock, analysis_seconds=10)
    report = engine.run(promote=False, retire=False)
    assert report.outcome == "completed" and health.begun
    # A poll at once after each weight change, then at 10, 20, 30 s of each 30 s step, the last at its end.
    assert [(round(seconds), weight) for seconds, weight, _ in health.polled] == [
        (0, 10), (10, 10), (20, 10), (30, 10), (30, 50), (40, 50), (50, 50), (60, 50)
    ]  # fmt: skip
    assert [(s.started_seconds, s.ended_seconds, s.extended) for s in report.steps] == [(0, 30, False), (30, 60, False)]
    assert report.verdict_seconds == 60 and len(report.polls) == len(view.polls) == 8


def test_a_step_ends_with_a_poll_whatever_the_interval():
    clock = FakeClock()
    health = FakeHealth(clock)
    rollout(FakeStack(), gates(health), clock=clock, analysis_seconds=25)[0].run(promote=False, retire=False)
    assert [round(seconds) for seconds, _, _ in health.polled] == [0, 25, 30, 30, 55, 60]


def test_a_rollback_decision_rolls_back_at_that_poll_mid_step():
    clock = FakeClock()
    health = FakeHealth(clock, rollback_at=20)
    stack = FakeStack()
    engine, _ = rollout(stack, gates(health), clock=clock, analysis_seconds=10, step_seconds=120)
    report = engine.run(promote=True, retire=False)
    assert (report.outcome, report.exit_code) == ("rolled back", 1)
    assert clock.now == 20 and report.verdict_seconds == 20 and len(health.polled) == 3
    assert report.reason == "health gate failed at 10%: error rate limit: e-value 600 >= 500"
    assert stack.log[-2:] == ["weight 0", "up: canary rollout: roll back v2"]
    document = report.to_json()
    assert document["polls"][-1]["rollback"] is True and document["steps"][0]["ended_seconds"] == 20


def test_a_step_too_thin_is_held_an_interval_at_a_time_and_passes_when_the_requests_come():
    clock = FakeClock()
    # 1 canary request a second: 30 in the step's 30 s, 50 needed: held until 50 s.
    health = FakeHealth(clock, rate=1)
    engine, view = rollout(FakeStack(), gates(health), steps=(10,), clock=clock, min_requests=50)
    report = engine.run(promote=False, retire=False)
    assert report.outcome == "completed" and clock.now == 50
    assert report.steps[0].extended is True
    assert any("held at 10%: 30 canary requests, 50 needed" in event for event in view.events)
    assert report.to_json()["holds"] == [{"seconds": 30, "weight": 10, "reasons": ["thin evidence"]}]


def test_a_step_still_too_thin_at_the_hold_limit_stops_held_with_its_weight_kept():
    clock = FakeClock()
    stack = FakeStack()
    health = FakeHealth(clock, rate=0.5)  # 30 canary requests in 60 s
    engine, _ = rollout(stack, gates(health), clock=clock, min_requests=50, hold_seconds=30)
    report = engine.run(promote=True, retire=True)
    assert (report.outcome, report.exit_code) == ("held", 3)
    assert report.reason == (
        "held at 10% for want of evidence: 30 canary requests, 50 needed after 60s (the hold limit 30s reached); "
        "the weight stays at 10%, and a rerun continues from there"
    )
    assert stack.config["canary"]["weight"] == 10 and "promote v2" not in stack.log
    assert not any("roll back" in line for line in stack.log)
    assert [s.weight for s in report.steps] == [10] and report.verdict_seconds == 60


def test_a_held_poll_extends_the_step_by_its_interval_and_says_what_stable_did():
    clock = FakeClock()
    health = FakeHealth(clock, held=(10, 20))
    engine, view = rollout(FakeStack(), gates(health), steps=(10,), clock=clock)
    report = engine.run(promote=False, retire=False)
    # Polls at 10 and 20 s held: the 30 s step ends at 50 s.
    assert report.outcome == "completed" and clock.now == 50
    holds = report.to_json()["holds"]
    assert [(h["seconds"], h["weight"]) for h in holds] == [(10, 10), (20, 10)]
    assert holds[0]["stable"] == {"requests": 900, "errors": 90, "error_rate": 20.0, "p99_ms": 5.0}
    assert any(e.startswith("  held at 10%: error rate limit: stable too") and "stable 900 requests" in e
               for e in view.events)  # fmt: skip


def test_a_shared_incident_that_lasts_past_the_hold_limit_stops_held_not_rolled_back():
    clock = FakeClock()
    stack = FakeStack()
    health = FakeHealth(clock, held=(0, 1000))
    engine, _ = rollout(stack, gates(health), steps=(10,), clock=clock, hold_seconds=60)
    report = engine.run(promote=False, retire=False)
    assert (report.outcome, report.exit_code) == ("held", 3)
    assert report.reason.startswith(
        "held at 10%: still held after 90s (the hold limit 60s reached): error rate limit: stable too"
    )
    assert stack.config["canary"]["weight"] == 10 and clock.now == 90


LAG_HOLD = "queue-lag: 300 above max 60, 1 of 3 consecutive polls out of bounds (failureLimit 3)"


def test_a_threshold_metric_out_of_bounds_holds_the_weight_until_it_comes_back():
    clock = FakeClock()
    stack = FakeStack()
    health = FakeHealth(clock, held=(10, 20), hold_reason=LAG_HOLD)
    engine, view = rollout(stack, gates(health), steps=(10, 50), clock=clock)
    report = engine.run(promote=False, retire=False)
    assert report.outcome == "completed"
    # Step 1's polls at 10 and 20 s held: 50 % is set at 50 s, not at 30 s.
    assert [(s.weight, s.started_seconds) for s in report.steps] == [(10, 0), (50, 50)]
    assert [h["reasons"] for h in report.to_json()["holds"]] == [[LAG_HOLD], [LAG_HOLD]]
    assert any(e.startswith(f"  held at 10%: {LAG_HOLD};") for e in view.events)


def test_a_threshold_hold_past_the_hold_limit_stops_held_naming_the_metric():
    clock = FakeClock()
    stack = FakeStack()
    health = FakeHealth(clock, held=(0, 1000), hold_reason=LAG_HOLD)
    engine, _ = rollout(stack, gates(health), steps=(10,), clock=clock, hold_seconds=60)
    report = engine.run(promote=False, retire=False)
    assert (report.outcome, report.exit_code) == ("held", 3)
    assert report.reason == (
        f"held at 10%: still held after 90s (the hold limit 60s reached): {LAG_HOLD}; "
        "the weight stays at 10%, and a rerun continues from there"
    )
    assert stack.config["canary"]["weight"] == 10


def test_min_requests_count_the_steps_own_canary_requests_only():
    clock = FakeClock()
    health = FakeHealth(clock, rate=1)  # 30 a step: never 50 in one step, though 60 in all by the end
    report = rollout(FakeStack(), gates(health), clock=clock, min_requests=31)[0].run(promote=False, retire=False)
    # Step 1 needs its extension (60 requests in 60 s); step 2 starts from those 60.
    assert report.outcome == "completed" and [s.extended for s in report.steps] == [True, True]


def test_the_split_gates_own_requests_reach_the_analysis_to_be_taken_out():
    clock = FakeClock()
    health = FakeHealth(clock)
    sent = {"v1": Sent(90), "v2": Sent(110, 2)}
    split = lambda _: GateResult("split", True, (), {}, sent)  # noqa: E731
    rollout(FakeStack(), gates(health, split=split), clock=clock)[0].run(promote=False, retire=False)
    first, last = health.polled[0][2], health.polled[-1][2]
    assert first == sent
    # Both steps' split gates, summed: the analysis sees what was sent over the whole rollout.
    assert last == {"v1": Sent(180), "v2": Sent(220, 4)}


def test_the_split_gate_runs_right_after_the_update_and_a_failure_skips_the_watch():
    clock = FakeClock()
    health = FakeHealth(clock)
    heard: list[Any] = []
    failing_split = lambda _: GateResult("split", False, ("plain: split differs",))  # noqa: E731
    webhook = lambda payload: heard.append(payload) or GateResult("webhook", True)  # noqa: E731
    the_gates = gates(health, split=failing_split, webhook=webhook)
    report = rollout(FakeStack(), the_gates, clock=clock)[0].run(promote=False, retire=False)
    assert report.outcome == "rolled back" and report.reason == "split gate failed at 10%: plain: split differs"
    # Not watched, and the webhook hears only of steps that passed.
    assert clock.now == 0 and health.polled == [] and heard == []


def test_prometheus_failing_two_polls_in_a_row_fails_closed():
    clock = FakeClock()
    stack = FakeStack()
    health = FakeHealth(clock, fail_at=20)
    report = rollout(stack, gates(health), clock=clock, analysis_seconds=10)[0].run(promote=False, retire=False)
    # The poll at 20 s is held; the one at 30 s fails too.
    assert (report.outcome, report.exit_code) == ("rolled back", 1) and clock.now == 30
    assert report.reason == (
        "health gate failed at 10%: Prometheus at http://prometheus:9090 answered 503 Service Unavailable: "
        "failing closed (2 polls in a row failed)"
    )
    assert [error["seconds"] for error in report.to_json()["analysis"]["poll_errors"]] == [20, 30]
    assert stack.config["canary"]["weight"] == 0


def test_one_failed_poll_is_held_and_the_next_reads_on():
    clock = FakeClock()
    health = FakeHealth(clock, fail_only_at=(20.0,))
    engine, view = rollout(FakeStack(), gates(health), clock=clock, analysis_seconds=10)
    report = engine.run(promote=False, retire=False)
    assert (report.outcome, report.exit_code) == ("completed", 0)
    assert [round(seconds) for seconds, _, _ in health.polled] == [0, 10, 20, 30, 30, 40, 50, 60]
    assert [poll.seconds for poll in report.polls] == [0, 10, 30, 30, 40, 50, 60]
    assert report.poll_errors == [
        {"seconds": 20, "error": "Prometheus at http://prometheus:9090 answered 503 Service Unavailable"}
    ]
    assert any("poll failed" in event and "held" in event for event in view.events)


def test_a_step_whose_last_poll_fails_ends_on_the_next_poll_that_answers():
    clock = FakeClock()
    health = FakeHealth(clock, fail_only_at=(30.0,))
    report = rollout(FakeStack(), gates(health), clock=clock, analysis_seconds=10)[0].run(promote=False, retire=False)
    assert report.outcome == "completed"
    # Not judged on the poll before the failed one: the step waits 10 s more for one that answers.
    assert [(s.started_seconds, s.ended_seconds) for s in report.steps] == [(0, 40), (40, 70)]
    assert [round(seconds) for seconds, _, _ in health.polled][:5] == [0, 10, 20, 30, 40]


def test_a_failed_update_is_tried_again_and_the_rollout_goes_on():
    clock = FakeClock()
    stack = FakeStack()
    stack.failing = {"at 10%": 2}
    engine, view = rollout(stack, gates(), clock=clock)
    report = engine.run(promote=False, retire=False)
    assert (report.outcome, report.exit_code) == ("completed", 0)
    assert stack.log[:5] == [
        "weight 10",
        "failed: canary rollout: v2 at 10%",
        "failed: canary rollout: v2 at 10%",
        "up: canary rollout: v2 at 10%",
        "weight 50",
    ]
    # 5 s, then 10 s between the attempts, then the two 30 s steps.
    assert clock.now == 5 + 10 + 60
    assert [event for event in view.events if "trying again" in event] == [
        "  the update failed: configured Kubernetes cluster is unreachable; trying again in 5s",
        "  the update failed: configured Kubernetes cluster is unreachable; trying again in 10s",
    ]


def test_a_step_the_cluster_never_takes_is_rolled_back_to_0():
    clock = FakeClock()
    stack = FakeStack()
    stack.failing = {"at 50%": 99}
    report = rollout(stack, gates(), clock=clock)[0].run(promote=True, retire=False)
    assert (report.outcome, report.exit_code) == ("rolled back", 1)
    assert report.reason == ("could not apply 50%: configured Kubernetes cluster is unreachable (5 attempts over 65s)")
    assert stack.log.count("failed: canary rollout: v2 at 50%") == 5
    assert stack.log[-2:] == ["weight 0", "up: canary rollout: roll back v2"]
    assert stack.deployed[-1]["canary"]["weight"] == 0


def test_when_neither_the_step_nor_the_roll_back_is_taken_the_outcome_says_where_things_stand():
    stack = FakeStack()
    stack.failing = {"at 50%": 99, "roll back": 99}
    report = rollout(stack, gates())[0].run(promote=True, retire=False)
    assert (report.outcome, report.exit_code) == ("update failed", 4)
    assert report.reason.startswith("could not apply 50%: configured Kubernetes cluster is unreachable")
    assert "The stack file says v2 at 0%; the cluster was last updated to 10%" in report.reason
    assert "`pulumi up --stack prod`" in report.reason
    assert stack.config["canary"]["weight"] == 0 and stack.deployed[-1]["canary"]["weight"] == 10


def test_a_failed_gate_whose_roll_back_is_not_taken_says_the_cluster_still_holds_the_step():
    clock = FakeClock()
    stack = FakeStack()
    stack.failing = {"roll back": 99}
    health = FakeHealth(clock, rollback_at=20)
    report = rollout(stack, gates(health), clock=clock, analysis_seconds=10)[0].run(promote=True, retire=False)
    assert (report.outcome, report.exit_code) == ("update failed", 4)
    assert report.reason.startswith("health gate failed at 10%: error rate limit")
    assert "the cluster was last updated to 10%: run `pulumi up --stack prod`" in report.reason


def test_a_promotion_the_cluster_does_not_take_is_reported_with_the_command_to_finish_it():
    stack = FakeStack()
    stack.failing = {"promote": 99}
    report = rollout(stack, gates())[0].run(promote=True, retire=True)
    assert (report.outcome, report.exit_code) == ("update failed", 4)
    assert report.reason.startswith("the promotion is in the stack file but the cluster did not take it")
    assert report.reason.endswith("run `pulumi up --stack prod` once the cluster answers")
    assert "retire v1" not in stack.log


def test_what_an_interrupted_run_left_is_reported_before_the_first_step():
    stack = FakeStack()
    stack.recovered = ["found stack prod locked by an update that no longer runs (...): lock removed"]
    engine, view = rollout(stack, gates())
    report = engine.run(promote=False, retire=False)
    assert view.events[0] == stack.recovered[0]
    assert report.to_json()["recovered"] == stack.recovered and report.outcome == "completed"


def test_a_stack_a_person_must_repair_refuses_the_rollout_before_any_change():
    stack = FakeStack()
    stack.recover_refuses = "stack prod is locked by pulumi, pid 7 on elsewhere: ... run `pulumi cancel`"
    with pytest.raises(StackError, match="pulumi cancel"):
        rollout(stack, gates())[0].run(promote=False, retire=False)
    assert stack.log == []


def test_without_prometheus_each_step_waits_its_duration_and_the_health_gate_says_it_is_off():
    clock = FakeClock()
    engine, view = rollout(FakeStack(), gates(), clock=clock)
    report = engine.run(promote=False, retire=False)
    assert report.outcome == "completed" and clock.now == 60 and report.polls == []
    health = [g for g in view.gates if g.gate == "health"]
    assert len(health) == 2 and all(g.ok and "no Prometheus URL" in g.figures["off"] for g in health)


def test_a_failed_preflight_refuses_before_any_change():
    stack = FakeStack()
    engine, _ = rollout(stack, gates(), preflight=lambda: "webhook http://hooks/ is unreachable: refused")
    with pytest.raises(RolloutRefusedError, match=r"^webhook http://hooks/ is unreachable: refused$"):
        engine.run(promote=False, retire=False)
    assert stack.log == [] and stack.deployed == []


def test_prometheus_failing_at_the_baseline_refuses_before_any_change():
    clock = FakeClock()
    stack = FakeStack()
    engine, _ = rollout(stack, gates(FakeHealth(clock, begin_fails=True)), clock=clock)
    with pytest.raises(RolloutRefusedError, match="unreachable: refused: nothing changed"):
        engine.run(promote=False, retire=False)
    assert stack.log == []


def test_the_report_has_the_documented_fields():
    clock = FakeClock()
    engine, _ = rollout(FakeStack(), gates(FakeHealth(clock)), clock=clock)
    document = engine.run(promote=False, retire=False).to_json()
    assert set(document) == {
        "stack", "canary", "stable", "outcome", "reason", "started_at", "verdict_seconds", "alpha", "analysis",
        "holds", "waiting", "waits", "steps", "polls", "recovered",
    }  # fmt: skip
    assert document["started_at"].endswith("Z") and document["alpha"] == 0.01
    assert document["analysis"] == {
        "resumed": False,
        "note": "",
        "calibration": "stable's 5xx over 60 intervals before the rollout vary 1 times as much",
        "poll_errors": [],
    }
    assert set(document["steps"][0]) == {
        "weight", "ok", "changes", "started_seconds", "ended_seconds", "extended", "gates"
    }  # fmt: skip
    assert set(document["polls"][0]) == {
        "seconds", "weight", "versions", "unattributed_errors", "tests", "rollback", "hold", "holds", "metrics"
    }  # fmt: skip
    json.dumps(document)


def test_the_webhook_gets_the_steps_figures_and_can_fail_it():
    stack = FakeStack()
    heard: list[Any] = []

    def webhook(payload: Any) -> GateResult:
        heard.append(payload)
        return GateResult("webhook", False, ("webhook http://hooks/ answered 503",))

    report = rollout(stack, gates(webhook=webhook))[0].run(promote=False, retire=False)
    assert heard[0]["weight"] == 10 and heard[0]["canary"] == "v2" and heard[0]["stable"] == "v1"
    assert [g["gate"] for g in heard[0]["gates"]] == ["split", "health"]
    assert report.outcome == "rolled back" and "webhook gate failed at 10%" in report.reason


def test_a_rerun_resumes_from_the_weight_in_the_stack_file():
    stack = FakeStack(weight=50)
    engine, view = rollout(stack, gates(), steps=(10, 50, 80))
    report = engine.run(promote=False, retire=False)
    # The step the release stands at is watched and judged again, then the rest.
    assert [s.weight for s in report.steps] == [50, 80]
    assert "resuming" in view.events[0]
    # The evidence of the run that was interrupted is not carried over, and the report says so.
    assert report.to_json()["analysis"] == {
        "resumed": True,
        "calibration": "",
        "poll_errors": [],
        "note": "resumed at 50%: no evidence of this release is kept with the stack, so the analysis starts anew "
        "and what the canary did before this run is not counted",
    }
    assert view.events[1] == report.note


def test_a_rerun_that_continues_kept_evidence_says_so_in_the_report():
    clock = FakeClock()
    health = FakeHealth(clock, resumed_note="continuing the evidence of v1 -> v2 kept with the stack")
    engine, view = rollout(FakeStack(weight=50), gates(health), steps=(10, 50, 80), clock=clock)
    report = engine.run(promote=False, retire=False)
    assert report.to_json()["analysis"] == {
        "resumed": True,
        "note": health.resumed_note,
        "calibration": health.calibration,
        "poll_errors": [],
    }
    assert health.resumed_note in view.events


def test_the_evidence_is_kept_after_each_step_and_forgotten_when_the_release_ends():
    clock = FakeClock()
    health = FakeHealth(clock)
    rollout(FakeStack(), gates(health), clock=clock)[0].run(promote=True, retire=False)
    assert health.kept == ["keep 10% at 30", "keep 50% at 60", "forget at 60"]


def test_a_rollback_forgets_the_evidence_and_a_held_stop_keeps_it():
    clock = FakeClock()
    health = FakeHealth(clock, rollback_at=40)
    rollout(FakeStack(), gates(health), clock=clock)[0].run(promote=False, retire=False)
    assert health.kept == ["keep 10% at 30", "forget at 40"]
    clock = FakeClock()
    health = FakeHealth(clock, rate=0.5)
    rollout(FakeStack(), gates(health), clock=clock, min_requests=50, hold_seconds=30)[0].run(
        promote=False, retire=False
    )
    assert health.kept == ["keep 10% at 60"]


def test_an_interrupted_rollout_keeps_its_evidence():
    clock = FakeClock()
    health = FakeHealth(clock)
    stack = FakeStack()
    stack.interrupt_on_up = 1
    report = rollout(stack, gates(health), clock=clock)[0].run(promote=False, retire=False)
    assert report.outcome == "interrupted" and health.kept == ["keep 10% at 30", "keep 50% at 30"]


def test_an_interrupted_step_leaves_the_weight_and_says_so():
    stack = FakeStack()
    stack.interrupt_on_up = 1  # the second update: the step to 50%
    report = rollout(stack, gates())[0].run(promote=True, retire=False)
    assert (report.outcome, report.exit_code) == ("interrupted", 130)
    assert stack.config["canary"]["weight"] == 50
    assert "at 50%" in report.reason and "run the rollout again" in report.reason


def test_pending_changes_that_are_not_the_rollouts_refuse_it_before_anything_changes():
    stack = FakeStack(pending=[Change("update", "kubernetes:apps/v1:Deployment", "canary-v2-deployment")])
    with pytest.raises(RolloutRefusedError, match="update Deployment canary-v2-deployment"):
        rollout(stack, gates())[0].run(promote=False, retire=False)
    assert stack.log == []


def test_a_stack_without_a_canary_is_refused():
    stack = FakeStack()
    del stack.config["canary"]
    with pytest.raises(RolloutRefusedError, match="no canary"):
        rollout(stack, gates())[0].run(promote=False, retire=False)


ROUTES_UPDATE = Change("update", "kubernetes:networking.istio.io/v1:VirtualService", "nginx-virtualservice")


def test_after_a_recovery_the_interrupted_steps_route_update_is_applied_by_the_first_step():
    stack = FakeStack(weight=10, pending=[ROUTES_UPDATE])
    stack.recovered = ["found operations an interrupted update left pending (updating nginx-virtualservice): ..."]
    engine, view = rollout(stack, gates())
    report = engine.run(promote=False, retire=False)
    assert report.outcome == "completed" and [s.weight for s in report.steps] == [10, 50]
    assert stack.log[:2] == ["weight 10", "up: canary rollout: v2 at 10%"]
    assert any("interrupted update (update VirtualService nginx-virtualservice)" in event for event in view.events)


@pytest.mark.parametrize(
    ("recovered", "weight", "pending"),
    [
        ([], 10, [ROUTES_UPDATE]),  # nothing was interrupted: a routes change is someone's edit
        (["found ..."], 0, [ROUTES_UPDATE]),  # no step was under way
        (["found ..."], 10, [ROUTES_UPDATE, Change("update", "kubernetes:apps/v1:Deployment", "nginx-v2")]),
    ],
)
def test_other_pending_changes_still_refuse_the_rollout(recovered, weight, pending):
    stack = FakeStack(weight=weight, pending=pending)
    stack.recovered = recovered
    with pytest.raises(RolloutRefusedError, match="run `pulumi up` for them first"):
        rollout(stack, gates())[0].run(promote=False, retire=False)
    assert stack.log == []
