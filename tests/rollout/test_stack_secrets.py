"""`canary/rollout/stack_secrets.py`: secrets put back where they stood, and never shown."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from canary.rollout.gates import GateResult
from canary.rollout.stack_secrets import MaskedView, Masker, SecretUnavailableError, reveal, with_secrets

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


def fake_pulumi(folder: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pulumi = folder / "pulumi"
    pulumi.write_text("#!/bin/sh\n" + script)
    pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")


def test_a_secret_is_read_with_pulumi_config_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pulumi(tmp_path, f'echo "$@" > {tmp_path}/args\necho "{SECRET}"\n', monkeypatch)
    assert reveal(tmp_path, "dev", "rollout.webhook") == SECRET
    assert (tmp_path / "args").read_text().split() == [
        "config", "get", "--path", "istio-canary:rollout.webhook", "--stack", "dev"
    ]  # fmt: skip


def test_a_pulumi_config_get_that_never_ends_is_stopped_naming_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_pulumi(
        tmp_path, "while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done\n", monkeypatch
    )
    with pytest.raises(SecretUnavailableError) as caught:
        reveal(tmp_path, "dev", "rollout.webhook")
    assert str(caught.value) == (
        "rollout.webhook is a secret, and reading it failed: "
        "`pulumi config get --path istio-canary:rollout.webhook --stack dev` wrote more than 1 MiB, and was stopped"
    )
