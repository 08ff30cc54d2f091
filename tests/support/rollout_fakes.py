"""Stand-ins for what the rollout engine drives: the stack, the clock, the health gate, a recorder."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from canary.config import StackSettings, parse_settings
from canary.config.files import as_config_strings
from canary.rollout.gates import GateResult
from canary.rollout.prometheus import PrometheusError
from canary.rollout.pulumi_stack import Change, StackError, Update, UpdateFailedError
from canary.rollout.watch import Poll, Sent, VersionPoll
from tests.support.project import BASELINE


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
        self.failing: dict[str, int] = {}
        """Updates whose message holds the key fail that many times (the cluster unreachable)."""
        self.recovered: list[str] = []
        self.recover_refuses: str | None = None

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
        for key, left in self.failing.items():
            if key in message and left > 0:
                self.failing[key] = left - 1
                self.log.append(f"failed: {message}")
                raise UpdateFailedError("configured Kubernetes cluster is unreachable")
        self.deployed.append(json.loads(json.dumps(self.config)))
        self.log.append(f"up: {message}")
        return Update(changes={"update": 1}, outputs={"routes": []})

    def recover(self) -> list[str]:
        if self.recover_refuses is not None:
            raise StackError(self.recover_refuses)
        return self.recovered


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.gates: list[GateResult] = []
        self.polls: list[Poll] = []

    def event(self, message: str) -> None:
        self.events.append(message)

    def watching(self, step: int, steps: int, weight: int, seconds_left: float) -> None:
        pass

    def poll(self, poll: Poll) -> None:
        self.polls.append(poll)

    def gate(self, result: GateResult) -> None:
        self.gates.append(result)


def passing(name: str) -> Callable[[Any], GateResult]:
    return lambda _: GateResult(name, True, (), {"seen": True})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "the engine must never spin"
        self.now += seconds


class FakeHealth:
    """The analysis on a script: the canary gains `rate` requests a second; `rollback_at` seconds
    since the start is the first poll whose decision says roll back; `fail_at` raises."""

    def __init__(
        self,
        clock: FakeClock,
        rate: float = 10.0,
        rollback_at: float | None = None,
        fail_at: float | None = None,
        begin_fails: bool = False,
        held: tuple[float, float] | None = None,
        hold_reason: str = "error rate limit: stable too at or above the limit",
        resumed_note: str = "",
        fail_only_at: tuple[float, ...] = (),
    ) -> None:
        self.clock, self.rate, self.rollback_at, self.fail_at = clock, rate, rollback_at, fail_at
        self.fail_only_at = fail_only_at
        self.held, self.hold_reason = held, hold_reason
        self.resumed_note = resumed_note
        self.calibration = "stable's 5xx over 60 intervals before the rollout vary 1 times as much"
        self.kept: list[str] = []
        """Each keep (`keep 10% at 30`) and forget, in order."""
        self.begin_fails = begin_fails
        self.begun = False
        self.polled: list[tuple[float, int, dict[str, Sent]]] = []

    def keep(self, weight: int, saved_at: str) -> str | None:
        self.kept.append(f"keep {weight}% at {self.clock.now:g}")
        return None

    def forget(self) -> str | None:
        self.kept.append(f"forget at {self.clock.now:g}")
        return None

    def begin(self) -> None:
        if self.begin_fails:
            raise PrometheusError("Prometheus at http://prometheus:9090 is unreachable: refused")
        self.begun = True

    def canary_requests(self) -> int:
        return int(self.rate * self.clock.now)

    def poll(self, weight: int, seconds: float, sent: Mapping[str, Sent]) -> Poll:
        self.polled.append((seconds, weight, dict(sent)))
        if (self.fail_at is not None and seconds >= self.fail_at) or round(seconds, 6) in self.fail_only_at:
            raise PrometheusError("Prometheus at http://prometheus:9090 answered 503 Service Unavailable")
        rollback = self.rollback_at is not None and seconds >= self.rollback_at
        test = {"test": "error rate limit", "e_value": 600.0 if rollback else 1.0, "p_value": 0.5,
                "threshold": 500.0, "alpha": 0.002}  # fmt: skip
        figures = VersionPoll(requests=self.canary_requests(), errors=0, error_rate=0.0, p99_ms=5.0)
        stable = VersionPoll(requests=9 * self.canary_requests(), errors=90, error_rate=20.0, p99_ms=5.0)
        held = self.held is not None and self.held[0] <= seconds <= self.held[1]
        return Poll(
            seconds=seconds,
            weight=weight,
            versions={"v2": figures, "v1": stable},
            holds=(self.hold_reason,) if held else (),
            unattributed_errors=0,
            tests=(test,),
            rollback=rollback,
            reasons=("error rate limit: e-value 600 >= 500",) if rollback else (),
        )
