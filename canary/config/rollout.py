"""The `rollout:` key of the stack config: what `canary rollout` does when its flags do not say.

Every default comes from `canary.policy`, which `canary rollout` reads too: defined once.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictInt, StrictStr

from canary.config.value_types import ConfigModel, Number, args_default, between, checked
from canary.policy import (
    Limits,
    Policy,
    alpha_problem,
    analysis_interval_problem,
    format_duration,
    hold_limit_problem,
    p99_ms_problem,
    p99_ratio_problem,
    percent_problem,
    step_duration_problem,
    steps_problem,
    tolerance_problem,
    url_problem,
)


def _seconds_as_duration(value: Any) -> Any:
    # `stepDuration: 120` reads as `--step-duration 120` does: seconds.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return value


Duration = Annotated[StrictStr, BeforeValidator(_seconds_as_duration)]


def _url_or_empty(value: str) -> str | None:
    # "" turns the gate or the webhook off.
    return url_problem(value) if value else None


class RolloutSettings(ConfigModel):
    """What `canary rollout` does when its flags do not say."""

    steps: Annotated[list[StrictInt], checked(steps_problem)] = Field(
        default_factory=lambda: list(args_default(Policy, "steps")),
        description="The canary weights to walk through, in percent, rising (`--steps`).",
    )
    step_duration: Annotated[Duration, checked(step_duration_problem)] = Field(
        default=format_duration(args_default(Policy, "step_seconds")),
        alias="stepDuration",
        description="How long each step is watched before it is judged: `90s`, `2m`, `1h`, or a number of seconds; "
        "at most `24h` (`--step-duration`).",
    )
    analysis_interval: Annotated[Duration, checked(analysis_interval_problem)] = Field(
        default=format_duration(args_default(Policy, "analysis_seconds")),
        alias="analysisInterval",
        description="How often the sequential health analysis asks Prometheus during a step, at most `1h` "
        "(`--analysis-interval`).",
    )
    min_requests: Annotated[StrictInt, between(1, 10_000_000)] = Field(
        default=args_default(Policy, "min_requests"),
        alias="minRequests",
        description="Canary requests a step must see before it is promoted; a step with fewer is held (extended) "
        "up to `holdLimit`, then the rollout stops, held, its weight kept (`--min-requests`).",
    )
    hold_limit: Annotated[Duration, checked(hold_limit_problem)] = Field(
        default=format_duration(args_default(Policy, "hold_seconds")),
        alias="holdLimit",
        description="How long a step may be extended for thin evidence or a shared incident (both versions failing "
        "alike) before the rollout stops, held, with exit status 3 and its weight kept (`--hold-limit`).",
    )
    alpha: Annotated[Number, checked(alpha_problem)] = Field(
        default=args_default(Limits, "alpha"),
        description="The most the chance may be, over the whole release, that a canary as good as stable is rolled "
        "back, under the assumptions in docs/rollout.md (`--alpha`).",
    )
    split_tolerance: Annotated[Number, checked(tolerance_problem)] = Field(
        default=args_default(Limits, "split_tolerance"),
        alias="splitTolerance",
        description="Percentage points by which a route's observed split may differ from its weights before the "
        "split gate fails (`--split-tolerance`).",
    )
    max_error_rate: Annotated[Number, checked(percent_problem)] = Field(
        default=args_default(Limits, "max_error_rate"),
        alias="maxErrorRate",
        description="Percent of the canary's requests that may fail with a 5xx (`--max-error-rate`).",
    )
    max_p99_ms: Annotated[Number, checked(p99_ms_problem)] = Field(
        default=args_default(Limits, "max_p99_ms"),
        alias="maxP99Ms",
        description="Most the canary's p99 latency may be, in milliseconds: above 0, at most 60000 (`--max-p99-ms`).",
    )
    max_p99_ratio: Annotated[Number, checked(p99_ratio_problem)] = Field(
        default=args_default(Limits, "max_p99_ratio"),
        alias="maxP99Ratio",
        description="Most the canary's p99 may be, in times stable's over the same step: 1 to 100 (`--max-p99-ratio`).",
    )
    prometheus: Annotated[StrictStr, checked(_url_or_empty)] = Field(
        default="",
        description='Prometheus\' base URL, for the health gate; `""` turns the gate off (`--prometheus`).',
    )
    webhook: Annotated[StrictStr, checked(_url_or_empty)] = Field(
        default="",
        description="A URL to POST each step's figures to; a non-2xx answer fails the step (`--webhook`). Like "
        "every `rollout` key, it may be a Pulumi secret.",
    )
