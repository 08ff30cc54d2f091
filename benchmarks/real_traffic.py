"""The scenario families of real traffic, on the engine's timeline (`benchmarks/engine_timeline.py`),
with their targets. `bench_analysis.py --families real` prints them; each cell with its 95 % interval.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from benchmarks.engine_timeline import Incident, Outcome, Scenario, simulate
from canary.policy import Limits, Policy

# How long a step may be held (shared incidents, thin evidence) before the rollout stops, held.
HOLD_SECONDS = 600.0

SCENARIOS = (
    Scenario("clean", "both 0.1 %", 100),
    Scenario("clean", "both 0.1 %", 1000),
    Scenario("shared outage", "20 % 5xx for 30 s at a random time", 100, incident=Incident(0.2, 30)),
    Scenario("shared outage", "20 % 5xx for 30 s at a random time", 1000, incident=Incident(0.2, 30)),
    Scenario(
        "shared outage", "20 % 5xx for 30 s from a weight change", 100, incident=Incident(0.2, 30, at_change=True)
    ),
    Scenario(
        "shared outage", "20 % 5xx for 30 s from a weight change", 1000, incident=Incident(0.2, 30, at_change=True)
    ),
    Scenario(
        "shared blip",
        "5 % for 15 s at a weight change, no limit",
        100,
        incident=Incident(0.05, 15, at_change=True),
        limits=Limits(max_error_rate=100),
    ),
    Scenario(
        "shared blip",
        "5 % for 15 s at a weight change, no limit",
        1000,
        incident=Incident(0.05, 15, at_change=True),
        limits=Limits(max_error_rate=100),
    ),
    Scenario("bursts", "runs of 20 per version, both 0.1 %", 100, burst=20),
    Scenario("bursts", "runs of 20 per version, both 0.5 %", 100, 0.005, 0.005, burst=20),
    Scenario("bursts", "runs of 20 per version, both 0.5 %", 1000, 0.005, 0.005, burst=20),
    Scenario("bursts", "runs of 20 in the mixed stream, 0.5 %", 1000, 0.005, 0.005, burst=20, mixed_bursts=True),
    Scenario("load ramp", "100 to 500 req/s, 5xx 0.05 % x load^1.5", 100, 0.0005, 0.0005, ramp_to=500),
    Scenario("shared slowdown", "both 3x slower from minute 5", 100, latency=True, slowdown_from=300),
    Scenario("p99", "canary 1.1x slower", 100, latency=True, canary_slower=1.1),
    Scenario("bad canary", "1.2x: 0.6 % against 0.5 %", 100, 0.006, 0.005, healthy=False),
    Scenario("bad canary", "2x: 1 % against 0.5 %", 100, 0.01, 0.005, healthy=False),
    Scenario("bad canary", "2x: 0.2 % against 0.1 %", 1000, 0.002, 0.001, healthy=False),
    Scenario("bad canary", "5 % against 0.1 %", 100, 0.05, healthy=False),
    Scenario("p99", "canary 2.5x slower (limit 2x)", 100, latency=True, canary_slower=2.5, healthy=False),
    Scenario("p99", "canary 3x slower (limit 2x)", 100, latency=True, canary_slower=3.0, healthy=False),
    Scenario("dead canary", "every request fails", 1, 1.0, healthy=False),
    Scenario("dead canary", "every request fails", 10, 1.0, healthy=False),
)


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion."""
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    outcomes: list[Outcome]

    def share(self, kind: str) -> tuple[float, float, float]:
        hits = sum(o.kind == kind for o in self.outcomes)
        low, high = wilson(hits, len(self.outcomes))
        return hits / len(self.outcomes), low, high

    def p95_rollback_seconds(self) -> float:
        seconds = [o.seconds if o.kind == "rolled back" else math.inf for o in self.outcomes]
        return float(np.percentile(seconds, 95, method="higher"))


def run(rollouts: int, seed: int) -> list[Row]:
    policy = Policy()
    rows = []
    for index, scenario in enumerate(SCENARIOS):
        outcomes = simulate(scenario, policy, HOLD_SECONDS, rollouts, seed * 1000 + index, lambda _: None)
        rows.append(Row(scenario, outcomes))
        print(f"  {index + 1}/{len(SCENARIOS)} {scenario.family}", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return rows


def _percent(share: tuple[float, float, float]) -> str:
    value, low, high = share
    return f"{100 * value:5.1f}% [{100 * low:4.1f}, {100 * high:5.1f}]"


def print_rows(rows: list[Row]) -> None:
    policy = Policy()
    print(
        f"Real traffic on the engine's timeline: steps {','.join(map(str, policy.steps))} %, "
        f"{policy.step_seconds:g} s each, polls every {policy.analysis_seconds:g} s, holds up to "
        f"{HOLD_SECONDS:g} s a step; rolled back and held with their 95 % intervals"
    )
    print(f"{'family':<16} {'scenario':<42} {'req/s':>6} | {'rolled back':^22} | {'held':^22} | p95 rollback")
    for row in rows:
        s = row.scenario
        p95 = row.p95_rollback_seconds()
        rolled = _percent(row.share("rolled back"))
        held = _percent(row.share("held"))
        print(
            f"{s.family:<16} {s.label:<42} {s.rate:>6g} | {rolled} | {held} | "
            f"{'never' if p95 == math.inf else f'{p95:.0f} s'}"
        )


def find(rows: list[Row], label: str, rate: float) -> Row:
    return next(row for row in rows if row.scenario.label == label and row.scenario.rate == rate)


def print_targets(rows: list[Row]) -> bool:
    """The targets, met or not; all met?"""
    print()
    print("Targets (real traffic)")
    results = []
    healthy = [row for row in rows if row.scenario.healthy]
    worst = max(healthy, key=lambda row: row.share("rolled back")[2])
    share = worst.share("rolled back")
    met = all(row.share("rolled back")[0] < 0.01 for row in healthy)
    results.append(met)
    print(
        f"  every healthy scenario rolled back < 1%: worst upper bound {100 * share[2]:.2f}% "
        f"({worst.scenario.label}, {worst.scenario.rate:g} req/s, {100 * share[0]:.2f}%): {'met' if met else 'NOT met'}"
    )
    checks = (
        ("5 % against 0.1 %", 100, "p95", 60.0),
        ("every request fails", 1, "p95", 120.0),
        ("2x: 1 % against 0.5 %", 100, "share", 0.80),
        ("2x: 0.2 % against 0.1 %", 1000, "share", 0.80),
        ("canary 2.5x slower (limit 2x)", 100, "share", 0.80),
        ("canary 3x slower (limit 2x)", 100, "share", 0.95),
    )
    for label, rate, kind, target in checks:
        row = find(rows, label, rate)
        if kind == "p95":
            value = row.p95_rollback_seconds()
            met = value <= target
            text = f"rolled back within {target:g} s at p95: {'never' if value == math.inf else f'{value:.0f} s'}"
        else:
            value, low, high = row.share("rolled back")
            met = value >= target
            text = f"rolled back in at least {100 * target:g}%: {100 * value:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"
        results.append(met)
        print(f"  {label}, {rate:g} req/s, {text}: {'met' if met else 'NOT met'}")
    return all(results)
