"""The rollout engine on a stack and gates that stand in for the real ones: every path, no cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from canary.rollout.engine import Gates, Rollout, RolloutRefusedError
from canary.rollout.gates import GateResult
from canary.rollout.policy import Policy
from canary.rollout.stack import Change, Update
from canary.settings import StackSettings, parse_settings
from canary.stack_file import as_config_strings
from tests.conftest import BASELINE


class FakeStack:
    """A stack file in memory: config changes edit it, `up` records the weight it deployed."""

    name = "prod"

    def __init__(self, weight: int = 0, pending: list[Change] | None = None) -> None:
        self.config: dict[str, Any] = json.loads(json.dumps(BASELINE))
        self.config["canary"]["weight"] = weight
        self._pending = pending or []
        self.log: list[str] = []
        self.deployed: list[dict[str, Any]] = []
        self.interrupt_on_up: int | None = None

    def settings(self) -> StackSettings:
        return parse_settings(as_config_strings(self.config))

    def pending(self) -> list[Change]:
        return self._pending

    def set_weight(self, weight: int) -> None:
        self.config["canary"]["weight"] = weight
        self.log.append(f"weight {weight}")

    def promote(self, version: str) -> None:
        self.config["stable"] = version
        del self.config["canary"]
        self.log.append(f"promote {version}")

    def retire(self, version: str) -> None:
        self.config["versions"] = [v for v in self.config["versions"] if v["name"] != version]
        self.log.append(f"retire {version}")

    def up(self, message: str, on_output: Callable[[str], None] | None = None) -> Update:
        if self.interrupt_on_up is not None and len(self.deployed) == self.interrupt_on_up:
            raise KeyboardInterrupt
        self.deployed.append(json.loads(json.dumps(self.config)))
        self.log.append(f"up: {message}")
        return Update(changes={"update": 1}, outputs={"routes": []})


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.gates: list[GateResult] = []

    def event(self, message: str) -> None:
        self.events.append(message)

    def watching(self, step: int, steps: int, weight: int, seconds_left: float) -> None:
        pass

    def gate(self, result: GateResult) -> None:
        self.gates.append(result)


def passing(name: str) -> Callable[[Any], GateResult]:
    return lambda _: GateResult(name, True, (), {"seen": True})


def gates(**overrides: Callable[[Any], GateResult]) -> Gates:
    chosen = {"split": passing("split"), "health": passing("health"), "webhook": passing("webhook"), **overrides}
    return Gates(**chosen)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def rollout(stack: FakeStack, the_gates: Gates, steps: tuple[int, ...] = (10, 50)) -> tuple[Rollout, Recorder]:
    clock = FakeClock()
    view = Recorder()
    engine = Rollout(
        stack=stack,
        policy=Policy(steps=steps, step_seconds=30),
        gates=the_gates,
        view=view,
        sleep=clock.sleep,
        clock=clock,
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


def test_each_step_is_watched_for_its_duration_before_it_is_judged():
    stack = FakeStack()
    windows: list[float] = []

    def health(seconds: float) -> GateResult:
        windows.append(seconds)
        return GateResult("health", True)

    rollout(stack, gates(health=health))[0].run(promote=False, retire=False)
    assert windows == [30, 30]


def test_a_failed_gate_rolls_back_to_zero_in_one_update_and_names_the_gate():
    stack = FakeStack()
    failing = lambda _: GateResult("health", False, ("canary error rate 5.00% is above the limit 1%",))  # noqa: E731
    engine, _ = rollout(stack, gates(health=failing))
    report = engine.run(promote=True, retire=True)
    assert (report.outcome, report.exit_code) == ("rolled back", 1)
    assert stack.log[-2:] == ["weight 0", "up: canary rollout: roll back v2"]
    assert stack.config["canary"] == {"version": "v2", "cookie": "version=v2", "weight": 0}
    assert report.reason == "health gate failed at 10%: canary error rate 5.00% is above the limit 1%"
    # No promotion, no second step.
    assert "promote v2" not in stack.log and [s.weight for s in report.steps] == [10]


def test_both_kinds_of_evidence_are_logged_and_the_webhook_hears_only_of_passed_steps():
    stack = FakeStack()
    heard: list[Any] = []

    def webhook(payload: Any) -> GateResult:
        heard.append(payload)
        return GateResult("webhook", True)

    failing_split = lambda _: GateResult("split", False, ("plain: split differs",))  # noqa: E731
    engine, view = rollout(stack, gates(split=failing_split, webhook=webhook))
    report = engine.run(promote=False, retire=False)
    assert [g.gate for g in view.gates] == ["split", "health"]
    assert heard == [] and report.outcome == "rolled back"


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
