"""Rollouts on the engine's own timeline, judged by the product's `SequentialAnalysis`.

The timeline is the engine's (`canary/rollout/step.py`): before each step an update
(`UPDATE_SECONDS`, the new weight taking effect at a random moment inside it) and the split gate
(`GATE_SECONDS`); then a poll at once (the poll just after the change), polls every
`analysis_seconds`, the step's end a poll too. A poll whose decision is a hold extends the step by
its interval; a step ending with fewer than `min_requests` canary requests is extended one interval
at a time; neither beyond `hold_seconds`, after which the rollout stops, held, its weight kept.

Traffic is drawn in slices of at most `SLICE_SECONDS` in which nothing changes: Poisson requests
split by the weight in force, 5xx per version from the scenario (a shared rate that may move, a
canary's own rate, bursts of consecutive failures per version or in the mixed stream), and, for
latency scenarios, a lognormal latency per version counted into Istio's histogram buckets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from canary.policy import Limits, Policy
from canary.rollout.analysis import Counts, Decision, SequentialAnalysis

UPDATE_SECONDS = 15.0
GATE_SECONDS = 5.0
SLICE_SECONDS = 2.0
# Stable's history read before the rollout (`SequentialAnalysis` calibrates its dispersion on it).
HISTORY_SECONDS = 600.0
# Istio's default request-duration buckets, in ms (+Inf left out, as the analysis is given them).
ISTIO_BUCKETS = (0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)
# Stable's latency: lognormal, median 20 ms, p99 about 80 ms.
MEDIAN_MS = 20.0
SIGMA = 0.6


class Judge(Protocol):
    def observe(self, weight: int, canary: Counts, stable: Counts) -> Decision: ...


@dataclass(frozen=True)
class Incident:
    """A shared error rate `rate` on both versions for `seconds`, from `start` (seconds since the
    rollout began), or from the beginning of a random step's update when `at_change`."""

    rate: float
    seconds: float
    start: float | None = None
    at_change: bool = False


@dataclass(frozen=True)
class Scenario:
    family: str
    label: str
    rate: float
    """Requests per second, both versions together (at the start, for a ramp)."""
    canary_errors: float = 0.001
    stable_errors: float = 0.001
    healthy: bool = True
    incident: Incident | None = None
    burst: int = 0
    """Failures come in runs of this many consecutive requests (0: independent)."""
    mixed_bursts: bool = False
    """Runs in the stream of both versions together (a shared cause), not per version."""
    ramp_to: float | None = None
    """The rate at the end of the default schedule, rising linearly; 5xx rise with load to the power 1.5."""
    latency: bool = False
    canary_slower: float = 1.0
    """The canary's latency is stable's times this."""
    slowdown_from: float | None = None
    """From then on both versions are `slowdown` times slower."""
    slowdown: float = 3.0
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class Outcome:
    kind: str
    """`rolled back`, `held` or `completed`."""
    seconds: float
    """When it ended, from the rollout's start."""
    holds: int
    """Polls held for a shared incident."""
    tests: tuple[str, ...] = ()
    """The tests that rolled it back."""


def _bucket_shares(scale: float) -> np.ndarray:
    """Per bucket (and the +Inf one), the share of requests landing in it, latency scaled by `scale`."""
    mu = math.log(MEDIAN_MS * scale)
    cdf = [0.5 * math.erfc(-(math.log(edge) - mu) / (SIGMA * math.sqrt(2))) for edge in ISTIO_BUCKETS]
    cumulative = np.array([*cdf, 1.0])
    return np.diff(np.concatenate(([0.0], cumulative)))


class _Version:
    """One version's cumulative counts and its burst still in progress."""

    def __init__(self, latency: bool) -> None:
        self.requests = 0
        self.errors = 0
        self.buckets = np.zeros(len(ISTIO_BUCKETS) + 1, dtype=np.int64) if latency else None
        self.burst_left = 0

    def counts(self) -> Counts:
        if self.buckets is None:
            return Counts(self.requests, self.errors)
        at_most = np.cumsum(self.buckets)[:-1]
        return Counts(self.requests, self.errors, dict(zip(ISTIO_BUCKETS, (int(n) for n in at_most), strict=True)))


class Simulation:
    """One rollout of a scenario, driven by `run`."""

    def __init__(self, scenario: Scenario, policy: Policy, hold_seconds: float, rng: np.random.Generator) -> None:
        self.s, self.policy, self.hold_seconds, self.rng = scenario, policy, hold_seconds, rng
        self.t = 0.0
        self.weight = 0
        self.canary = _Version(scenario.latency)
        self.stable = _Version(scenario.latency)
        self.mixed_left = 0
        self._shares: dict[float, np.ndarray] = {}
        self.schedule_seconds = len(policy.steps) * (UPDATE_SECONDS + GATE_SECONDS + policy.step_seconds)
        incident = scenario.incident
        self.incident_start = None if incident is None or incident.at_change else incident.start
        if incident is not None and not incident.at_change and incident.start is None:
            self.incident_start = float(rng.uniform(0, self.schedule_seconds))

    # -- traffic ---------------------------------------------------------------------------------
    def _shared_rate(self, t: float) -> float:
        s = self.s
        start = self.incident_start
        if s.incident and start is not None and start <= t < start + s.incident.seconds:
            return s.incident.rate
        return 0.0

    def _load(self, t: float) -> float:
        s = self.s
        if s.ramp_to is None:
            return s.rate
        return s.rate + (s.ramp_to - s.rate) * min(t / self.schedule_seconds, 1.0)

    def _error_rate(self, version_rate: float, t: float) -> float:
        s = self.s
        if s.ramp_to is not None:  # errors rise with load, shared by both versions
            version_rate *= (self._load(t) / s.rate) ** 1.5
        shared = self._shared_rate(t)
        return 1 - (1 - min(version_rate, 1.0)) * (1 - shared)

    def _fail(self, version: _Version, requests: int, rate: float, alone: bool = False) -> int:
        """Failures among `requests`: independent at `rate`, or in runs of `burst` per version (or
        in the stream of a version `alone`, for runs in the mixed stream)."""
        burst = self.s.burst
        if burst == 0 or (self.s.mixed_bursts and not alone):
            return int(self.rng.binomial(requests, rate))
        carried = min(version.burst_left, requests)
        fresh = requests - carried
        # Runs start at rate / burst per request, so the mean failure rate stays `rate`.
        starts = int(self.rng.binomial(fresh, min(rate / burst, 1.0)))
        wanted = version.burst_left + starts * burst
        failed = min(wanted, requests)
        version.burst_left = wanted - failed
        return failed

    def _scale(self, t: float, version: _Version) -> float:
        s = self.s
        scale = s.canary_slower if version is self.canary else 1.0
        if s.slowdown_from is not None and t >= s.slowdown_from:
            scale *= s.slowdown
        return scale

    def _slice(self, seconds: float) -> None:
        t = self.t
        share = self.weight / 100
        expected = self._load(t) * seconds
        n_c = int(self.rng.poisson(expected * share))
        n_s = int(self.rng.poisson(expected * (1 - share)))
        if self.s.mixed_bursts and self.s.burst:
            # Runs of consecutive failures in the stream of both versions, each request routed by the weight.
            total = n_c + n_s
            carried = min(self.mixed_left, total)
            run_rate = min(self._error_rate(self.s.stable_errors, t) / self.s.burst, 1.0)
            starts = int(self.rng.binomial(total - carried, run_rate))
            wanted = self.mixed_left + starts * self.s.burst
            failed = min(wanted, total)
            self.mixed_left = wanted - failed
            x = int(self.rng.hypergeometric(n_c, n_s, failed)) if failed else 0
            y = failed - x
        else:
            x = self._fail(self.canary, n_c, self._error_rate(self.s.canary_errors, t))
            y = self._fail(self.stable, n_s, self._error_rate(self.s.stable_errors, t))
        for version, n, bad in ((self.canary, n_c, x), (self.stable, n_s, y)):
            version.requests += n
            version.errors += bad
            if version.buckets is not None and n:
                scale = round(self._scale(t, version), 6)
                if scale not in self._shares:
                    self._shares[scale] = _bucket_shares(scale)
                version.buckets += self.rng.multinomial(n, self._shares[scale])

    def advance(self, until: float) -> None:
        while self.t < until - 1e-9:
            step = min(SLICE_SECONDS, until - self.t)
            incident_start = self.incident_start
            if incident_start is not None and self.t < incident_start < self.t + step:
                step = incident_start - self.t  # slices never straddle an incident's start
            self._slice(step)
            self.t += step

    def history(self) -> list[tuple[int, int]]:
        """Stable alone before the rollout, as the engine reads it from Prometheus: (5xx, requests)
        per analysis interval over `HISTORY_SECONDS`, with the scenario's bursts but no incident."""
        before = _Version(latency=False)
        pairs = []
        for _ in range(round(HISTORY_SECONDS / self.policy.analysis_seconds)):
            requests, errors = before.requests, before.errors
            for _ in range(round(self.policy.analysis_seconds / SLICE_SECONDS)):
                n = int(self.rng.poisson(self.s.rate * SLICE_SECONDS))
                before.requests += n
                before.errors += self._fail(before, n, self.s.stable_errors, alone=True)
            pairs.append((before.errors - errors, before.requests - requests))
        return pairs

    # -- the engine ------------------------------------------------------------------------------
    def judge(self) -> Judge:
        """What judges each poll: the product's analysis, calibrated on stable's history (a
        benchmark of another judge, a custom metric's, overrides this)."""
        analysis = SequentialAnalysis(self.s.limits, weight=0)
        analysis.errors_vs_stable.calibrate(self.history())
        return analysis

    def run(self) -> Outcome:
        policy, s = self.policy, self.s
        analysis = self.judge()
        change_step = int(self.rng.integers(len(policy.steps))) if s.incident and s.incident.at_change else -1
        holds = 0
        fired: list[str] = []

        def poll() -> str:
            decision = analysis.observe(weight=self.weight, canary=self.canary.counts(), stable=self.stable.counts())
            fired[:] = [reason.split(":")[0] for reason in decision.reasons]
            return "rollback" if decision.rollback else "hold" if decision.hold else "ok"

        for index, weight in enumerate(policy.steps):
            update_start = self.t
            if index == change_step:
                self.incident_start = update_start
            self.advance(update_start + float(self.rng.uniform(0, UPDATE_SECONDS)))
            self.weight = weight
            self.advance(update_start + UPDATE_SECONDS + GATE_SECONDS)
            if poll() == "rollback":
                return Outcome("rolled back", self.t, holds, tuple(fired))
            began, canary_before = self.t, self.canary.requests
            deadline, last_call = began + policy.step_seconds, began + policy.step_seconds + self.hold_seconds
            while True:
                previous = self.t
                self.advance(min(self.t + policy.analysis_seconds, deadline))
                verdict = poll()
                if verdict == "rollback":
                    return Outcome("rolled back", self.t, holds, tuple(fired))
                if verdict == "hold":
                    holds += 1
                    deadline = min(deadline + (self.t - previous), last_call)
                if self.t >= deadline - 1e-9:
                    if self.canary.requests - canary_before >= policy.min_requests and verdict != "hold":
                        break
                    if self.t >= last_call - 1e-9:
                        return Outcome("held", self.t, holds)
                    deadline = min(self.t + policy.analysis_seconds, last_call)
        return Outcome("completed", self.t, holds)


def simulate(
    scenario: Scenario,
    policy: Policy,
    hold_seconds: float,
    rollouts: int,
    seed: int,
    progress: Callable[[int], None],
    simulation: type[Simulation] = Simulation,
) -> list[Outcome]:
    rng = np.random.default_rng(seed)
    outcomes = []
    for index in range(rollouts):
        outcomes.append(simulation(scenario, policy, hold_seconds, rng).run())
        progress(index)
    return outcomes
