"""An engine whose waits an operator answers (approve, abort) from another thread, over stack tags in memory."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from canary.config.steps import from_flag
from canary.rollout import release_tags
from canary.rollout.control import TagControl, Wait, abort, approve
from canary.rollout.engine import Rollout
from canary.rollout.gates import GateResult
from canary.rollout.interfaces import Gates
from canary.rollout.policy import Policy
from tests.support.memory_tags import MemoryTags
from tests.support.rollout_fakes import FakeClock, FakeStack, Recorder, passing

START = datetime.datetime(2026, 12, 7, 4, 0, tzinfo=datetime.UTC)


class WaitingRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def waiting(self, step: int, steps: int, wait: Wait, seconds_left: float | None) -> None:
        self.lines.append(f"{step}/{steps} {wait.weight}% {wait.kind} since {wait.since} left {seconds_left}")


class Operator:
    """Another process: at given times of the fake clock, it approves or aborts through the tags."""

    def __init__(self, tags: MemoryTags, clock: FakeClock) -> None:
        self.tags, self.clock = tags, clock
        self.plan: list[tuple[float, str, str, bool]] = []
        self.answers: list[str] = []
        self.before_sleep: list[Callable[[], None]] = []

    def at(self, seconds: float, action: str, who: str = "alice@laptop", full: bool = False) -> Operator:
        self.plan.append((seconds, action, who, full))
        return self

    def sleep(self, seconds: float) -> None:
        for hook in self.before_sleep:
            hook()
        self.clock.sleep(seconds)
        due = [entry for entry in self.plan if entry[0] <= self.clock.now]
        for entry in due:
            self.plan.remove(entry)
            _, action, who, full = entry
            now = f"t={self.clock.now:g}"
            answer = (
                approve(self.tags, "prod", who, now, full)
                if action == "approve"
                else abort(self.tags, "prod", who, now)
            )
            self.answers.append(answer)


def engine(
    steps: str,
    clock: FakeClock,
    tags: MemoryTags,
    operator: Operator,
    health: Any = None,
    confirm: Callable[[Any], GateResult] | None = None,
    stack: FakeStack | None = None,
) -> tuple[Rollout, WaitingRecorder, list[tuple[str, str]]]:
    parsed = from_flag(steps)
    view = WaitingRecorder()
    heard: list[tuple[str, str]] = []
    # The lock's record, as the command writes it before the engine runs: --abort names its run.
    tags.write(release_tags.LOCK, release_tags.encode({"run": "run-1", "holder": "ci@runner", "since": "t=0"}))
    rollout = Rollout(
        stack=stack or FakeStack(),
        policy=Policy(steps=parsed.weights, pauses=parsed.pauses, step_seconds=30, analysis_seconds=10),
        gates=Gates(split=passing("split"), webhook=passing("webhook"), health=health, confirm=confirm),
        view=view,
        sleep=operator.sleep,
        clock=clock,
        wall=lambda: START + datetime.timedelta(seconds=clock.now),
        control=TagControl(tags, "run-1", clock=clock),
        notify=lambda kind, report, text: heard.append((kind, text)),
        run_id="run-1",
    )
    return rollout, view, heard
