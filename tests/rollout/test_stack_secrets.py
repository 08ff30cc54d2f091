"""`canary/rollout/stack_secrets.py`: secrets put back where they stood, and never shown."""

from __future__ import annotations

import json
from typing import Any

from canary.rollout.gates import GateResult
from canary.rollout.stack_secrets import MaskedView, Masker, with_secrets

SECRET = "https://hooks.example.com/services/T0/B0/s3cret"


def test_each_secret_goes_back_to_its_path():
    values = {"rollout": json.dumps({"steps": [5, 50]}), "app": "web"}
    merged = with_secrets(values, {"rollout.webhook": SECRET, "rollout.steps[1]": "10"})
    assert json.loads(merged["rollout"]) == {"steps": [5, "10", 50], "webhook": SECRET}
    assert merged["app"] == "web"
    assert with_secrets({}, {"rollout": '{"webhook": "x"}'}) == {"rollout": '{"webhook": "x"}'}


def test_the_longest_secret_is_masked_whole():
    masker = Masker(("s3cret", SECRET))
    assert masker.text(f"webhook {SECRET} answered 500") == "webhook [secret] answered 500"
    assert masker.document({"gates": {"webhook": SECRET, "list": [SECRET]}}) == {
        "gates": {"webhook": "[secret]", "list": ["[secret]"]}
    }


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def event(self, message: str) -> None:
        self.seen.append(message)

    def watching(self, step: int, steps: int, weight: int, seconds_left: float) -> None:
        self.seen.append((step, steps, weight, seconds_left))

    def poll(self, poll: Any) -> None:
        self.seen.append(poll)

    def gate(self, result: GateResult) -> None:
        self.seen.append(result)


def test_the_live_view_shows_no_secret():
    inner = Recorder()
    view = MaskedView(inner, Masker((SECRET,)))
    view.event(f"Prometheus at {SECRET} is unreachable")
    view.gate(GateResult("webhook", False, (f"webhook {SECRET} answered 500",), {"url": SECRET}))
    view.watching(1, 4, 5, 30.0)
    assert SECRET not in repr(inner.seen)
    assert inner.seen[0] == "Prometheus at [secret] is unreachable"
    assert inner.seen[1].problems == ("webhook [secret] answered 500",) and inner.seen[2] == (1, 4, 5, 30.0)
