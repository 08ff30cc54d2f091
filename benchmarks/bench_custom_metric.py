"""A ratio metric of the team's own (`rollout.metrics`, kind ratio): its false rollbacks and its
detection time, simulated, judged by the product's own comparison.

    nice -n 19 venv/bin/python benchmarks/bench_custom_metric.py [--rollouts 500] [--seed 1] [--families all|clean|real]

The metric is a business counter beside the mesh's: checkouts and failed checkouts per version,
a few per second where requests are hundreds (R = 2, 10, 50 checkouts a second in total), stable
failing 2 % of them (payment declines: a business failure rate is rarely as low as a 5xx rate).
Its judge is `canary.rollout.custom_metrics.ratio_comparison`, the one the rollout builds for each
ratio metric, at its share of the default alpha with one ratio metric: 0.01 / 6. It is given the
cumulative counts at every analysis interval, as `MetricsWatch` gives them.

- Healthy (the canary failing as often as stable): the share of rollouts falsely rolled back over
  the default schedule (5, 10, 25, 50 %, 120 s each) and held at 5 % and 10 % as long. The bound
  is alpha's share, 0.17 %.
- Bad (the canary failing 1.5, 2, 5 times as often, or every checkout), held at 10 % for up to
  15 minutes: seconds to rollback, median and 95th percentile, and the share never rolled back.

`--families real` (part of `all`): the production scenarios of `benchmarks/real_traffic.py`
(shared outages, blips at a weight change, bursts, a load ramp, bad and dead canaries) on the
engine's own timeline (`benchmarks/engine_timeline.py`: updates, the split gate, a poll just after
each change, holds for thin evidence), the scenario's requests and failures read as the metric's
events, judged by the ratio metric alone (calibrated on stable's history before the rollout, as
the rollout calibrates it): what it would do without the mesh's tests beside it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import engine_timeline, real_traffic
from benchmarks.simulated_traffic import Traffic, schedule, simulate
from canary.policy import Limits, Policy
from canary.rollout.analysis import Counts, Decision
from canary.rollout.custom_metrics import RatioComparison, RatioCounts, ratio_comparison
from canary.rollout.gates import alpha_shares

RATES = (2, 10, 50)
"""Checkouts per second, both versions together."""
STABLE_FAILURES = 0.02
BAD_TIMES = (1.5, 2.0, 5.0)
HELD_WEIGHT = 10
HORIZON_SECONDS = 900.0
ALPHA_EACH = Limits().alpha / alpha_shares(1)


def rollback_seconds(traffic: Traffic) -> npt.NDArray[np.float64]:
    """Per rollout, the poll at which the ratio metric rolls back (inf: none)."""
    result = np.full(traffic.rollouts, np.inf)
    totals = [
        np.cumsum(counts, axis=1).tolist()
        for counts in (traffic.canary_requests, traffic.canary_errors, traffic.stable_requests, traffic.stable_errors)
    ]
    for rollout in range(traffic.rollouts):
        comparison = ratio_comparison("checkout-failures", ALPHA_EACH)
        c_n, c_x, s_n, s_x = (total[rollout] for total in totals)
        for k, weight in enumerate(traffic.weights):
            test = comparison.observe(weight, RatioCounts(c_x[k], c_n[k]), RatioCounts(s_x[k], s_n[k]))
            if test.e_value >= test.threshold:
                result[rollout] = (k + 1) * traffic.bin_seconds
                break
    return result


class RatioJudge:
    """The ratio metric alone as the engine's judge: its comparison, a rollback when it says so."""

    def __init__(self, weight: int) -> None:
        self.comparison: RatioComparison = ratio_comparison("checkout-failures", ALPHA_EACH, weight)

    def observe(self, weight: int, canary: Counts, stable: Counts) -> Decision:
        test = self.comparison.observe(
            weight, RatioCounts(canary.errors, canary.requests), RatioCounts(stable.errors, stable.requests)
        )
        crossed = test.e_value >= test.threshold
        return Decision(rollback=crossed, reasons=(f"{test.test}: crossed",) if crossed else (), tests=(test,))


class RatioSimulation(engine_timeline.Simulation):
    def judge(self) -> engine_timeline.Judge:
        # Calibrated on stable's history before the rollout, as `MetricsWatch.calibrate` does.
        judge = RatioJudge(weight=0)
        judge.comparison.calibrate(self.history())
        return judge


def production(rollouts: int, seed: int) -> None:
    """The production scenarios (errors only: the latency ones say nothing of a ratio)."""
    policy = Policy()
    print()
    print(
        f"The production scenarios on the engine's timeline, judged by the ratio metric alone "
        f"({rollouts} rollouts each, held at most {real_traffic.HOLD_SECONDS:g} s a step)"
    )
    print(f"  {'family':<16} {'scenario':<44} {'req/s':>6}  {'rolled back':>12}  {'seconds to it, median / p95':>28}")
    for index, scenario in enumerate(real_traffic.SCENARIOS):
        if scenario.latency:
            continue
        outcomes = engine_timeline.simulate(
            scenario, policy, real_traffic.HOLD_SECONDS, rollouts, seed * 1000 + index, lambda _: None, RatioSimulation
        )
        back = [o.seconds for o in outcomes if o.kind == "rolled back"]
        share = len(back) / len(outcomes)
        times = "-"
        if back and not scenario.healthy:
            every = np.array([o.seconds if o.kind == "rolled back" else np.inf for o in outcomes])
            median, p95 = (float(np.percentile(every, q, method="higher")) for q in (50, 95))
            times = f"{seconds_text(median)} / {seconds_text(p95)}"
        verdict = "false" if scenario.healthy else "caught"
        print(
            f"  {scenario.family:<16} {scenario.label:<44} {scenario.rate:>6g}  "
            f"{100 * share:6.2f} % {verdict:<6} {times:>22}"
        )


def seconds_text(value: float) -> str:
    return "never" if value == np.inf else f"{value:.0f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rollouts", type=int, default=500, help="simulated rollouts per cell (default 500)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--families", choices=("clean", "real", "all"), default="all")
    args = p.parse_args(argv)
    if args.families == "real":
        production(args.rollouts, args.seed)
        return 0
    policy = Policy()
    started = time.perf_counter()
    steps = schedule(policy.steps, policy.step_seconds, policy.analysis_seconds)
    print(
        f"{args.rollouts} rollouts per cell, seed {args.seed}, polls every {policy.analysis_seconds:g} s, "
        f"alpha for the metric {ALPHA_EACH:.3g}; stable fails {100 * STABLE_FAILURES:g} % of checkouts"
    )
    print()
    print("A healthy canary (failing as often as stable): the share falsely rolled back")
    worst = 0.0
    index = 0
    for rate in RATES:
        for label, weights in (
            ("steps", steps),
            ("held at 5 %", (5,) * len(steps)),
            (f"held at {HELD_WEIGHT} %", (HELD_WEIGHT,) * len(steps)),
        ):
            rng = np.random.default_rng([args.seed, index])
            index += 1
            traffic = simulate(
                rng, args.rollouts, weights, policy.analysis_seconds, rate, STABLE_FAILURES, STABLE_FAILURES
            )
            share = float(np.mean(np.isfinite(rollback_seconds(traffic))))
            worst = max(worst, share)
            print(f"  {rate:>3} checkouts/s  {label:<12} {100 * share:6.2f} %")
    print()
    print(f"A bad canary held at {HELD_WEIGHT} % for {HORIZON_SECONDS:g} s: seconds to rollback, median / p95")
    held = (HELD_WEIGHT,) * round(HORIZON_SECONDS / policy.analysis_seconds)
    for rate in RATES:
        for times in (*BAD_TIMES, None):
            canary = 1.0 if times is None else STABLE_FAILURES * times
            rng = np.random.default_rng([args.seed, index])
            index += 1
            traffic = simulate(rng, args.rollouts, held, policy.analysis_seconds, rate, canary, STABLE_FAILURES)
            seconds = rollback_seconds(traffic)
            never = float(np.mean(~np.isfinite(seconds)))
            median, p95 = (float(np.percentile(seconds, q, method="higher")) for q in (50, 95))
            floor = 3 / (rate * HELD_WEIGHT / 100 * canary)
            what = "every checkout fails" if times is None else f"{100 * canary:g} % ({times:g}x)"
            print(
                f"  {rate:>3} checkouts/s  canary {what:<22} floor {floor:6.1f}  "
                f"{seconds_text(median):>5} / {seconds_text(p95):>5}  never {100 * never:3.0f} %"
            )
    print()
    bound = ALPHA_EACH
    print(
        f"worst false-rollback share {100 * worst:.2f} % (alpha's share {100 * bound:.2f} %; "
        f"{'within' if worst <= 3 * bound + 3 / args.rollouts else 'ABOVE'} it, up to sampling error)"
    )
    if args.families == "all":
        production(args.rollouts, args.seed)
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
