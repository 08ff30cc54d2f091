"""The `rollout:` key of the stack config: what `canary rollout` does when its flags do not say.

Every default comes from `canary.policy`, which `canary rollout` reads too: defined once.
"""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from pydantic import BeforeValidator, Field, StrictBool, StrictInt, StrictStr

from canary.config.metrics import MetricSettings, metrics_problem
from canary.config.prometheus_auth import PrometheusAuthSettings
from canary.config.steps import StepsError, from_items
from canary.config.value_types import ConfigModel, Number, args_default, between, checked
from canary.policy import (
    MAX_MIN_REQUESTS,
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
    tolerance_problem,
    url_problem,
)


def _seconds_as_duration(value: Any) -> Any:
    # `stepDuration: 120` reads as `--step-duration 120` does: seconds.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return value


Duration = Annotated[StrictStr, BeforeValidator(_seconds_as_duration)]


def _steps(value: object) -> object:
    # The whole grammar is checked here, before pydantic tries the item types one by one: one
    # message naming the item, not one per type it is not.
    if isinstance(value, list):
        try:
            from_items(value)
        except StepsError as err:
            raise ValueError(str(err)) from None
    return value


class PauseStep(ConfigModel):
    """`{pause: true}` waits for an approval; `{pause: 10m}` waits that long (an approval ends it early)."""

    pause: StrictBool | StrictStr | StrictInt


def _notify_urls(urls: list[str]) -> str | None:
    # An Apprise URL is scheme://...; which schemes exist is Apprise's to say, when the rollout starts.
    for url in urls:
        if "://" not in url:
            return "must be Apprise URLs such as slack://..., mailto://... or json://host/path"
    return None


def _url_or_empty(value: str) -> str | None:
    # "" turns the gate or the webhook off.
    return url_problem(value) if value else None


class RolloutSettings(ConfigModel):
    """What `canary rollout` does when its flags do not say."""

    steps: Annotated[list[StrictInt | PauseStep], BeforeValidator(_steps)] = Field(
        default_factory=lambda: list(args_default(Policy, "steps")),
        description="The canary weights to walk through, in percent, rising, and pauses between them: "
        "`{pause: true}` waits for `canary rollout --approve`, `{pause: 10m}` waits ten minutes (`--steps`).",
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
    min_requests: Annotated[StrictInt, between(1, MAX_MIN_REQUESTS)] = Field(
        default=args_default(Policy, "min_requests"),
        alias="minRequests",
        description="Canary requests a step must see before it is promoted; a step with fewer is held (extended) "
        "up to `holdLimit`, then the rollout stops, held, its weight kept (`--min-requests`).",
    )
    hold_limit: Annotated[Duration, checked(hold_limit_problem)] = Field(
        default=format_duration(args_default(Policy, "hold_seconds")),
        alias="holdLimit",
        description="How long a step may be extended for thin evidence, a shared incident (both versions failing "
        "alike) or a threshold metric out of bounds short of its failureLimit, before the rollout stops, held, with "
        "exit status 3 and its weight kept (`--hold-limit`).",
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
    prometheus_auth: PrometheusAuthSettings = Field(
        default_factory=PrometheusAuthSettings,
        alias="prometheusAuth",
        description="How to authenticate to Prometheus: `bearerTokenEnv` or `bearerTokenFile`, or `basicAuth` "
        "(`username`, and `passwordEnv` or `passwordSecret`); `headers` to add; `caFile` to verify it with. "
        "Never a credential in plain text.",
    )
    metrics: list[MetricSettings] = Field(
        default_factory=list,
        max_length=20,
        description="The team's own PromQL, judged at every poll beside the 5xx rate and p99: "
        "`{name, kind: ratio, bad, total}` against stable, or `{name, kind: threshold, query, min, max, "
        "failureLimit}`; `{{ namespace }}`, `{{ app }}` and `{{ version }}` are filled in.",
    )
    webhook: Annotated[StrictStr, checked(_url_or_empty)] = Field(
        default="",
        description="A URL to POST each step's figures to; a non-2xx answer fails the step (`--webhook`). Like "
        "every `rollout` key, it may be a Pulumi secret.",
    )
    confirm: Annotated[StrictStr, checked(_url_or_empty)] = Field(
        default="",
        description="A URL asked (POST) after each step passes, before the next weight or the promotion: the "
        "rollout holds until it answers 2xx, and never rolls back for it (`--confirm`).",
    )
    notify: Annotated[list[StrictStr], checked(_notify_urls)] = Field(
        default_factory=list,
        description="Apprise URLs (Slack, Teams, e-mail, JSON POST, ...) that every event of the rollout is "
        "sent to (`--notify`, repeatable).",
    )

    @pydantic.field_validator("metrics")
    @classmethod
    def _metric_names_unique(cls, metrics: list[MetricSettings]) -> list[MetricSettings]:
        if (problem := metrics_problem(metrics)) is not None:
            raise problem
        return metrics
