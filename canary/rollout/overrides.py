"""The stack's `rollout` keys with `canary rollout`'s flags laid over them: the one Policy a rollout runs by.

A flag is validated by the same model as the key it overrides, so it is held to the key's rules
and refused for the key's reason, named as the flag.
"""

from __future__ import annotations

import argparse
from typing import Any

import pydantic

from canary.config import RolloutSettings, StackSettings
from canary.config import steps as steps_module
from canary.config.messages import describe
from canary.plan.rules.checks import show
from canary.policy import Limits, Policy, parse_duration, url_problem
from canary.support.redact import redact_url


class FlagError(ValueError):
    """A flag's value that its `rollout` key refuses; one line naming the flag."""


# Each flag that overrides a `rollout:` key, and the key, as the stack file spells it.
FLAG_KEYS = {
    "steps": "steps",
    "step_duration": "stepDuration",
    "analysis_interval": "analysisInterval",
    "min_requests": "minRequests",
    "alpha": "alpha",
    "split_tolerance": "splitTolerance",
    "max_error_rate": "maxErrorRate",
    "max_p99_ms": "maxP99Ms",
    "max_p99_ratio": "maxP99Ratio",
    "hold_limit": "holdLimit",
    "prometheus": "prometheus",
    "webhook": "webhook",
    "confirm": "confirm",
    "notify": "notify",
}


def rollout_settings(args: argparse.Namespace, settings: StackSettings) -> RolloutSettings:
    """The stack's `rollout` keys with the flags given laid over them, validated once by the same
    model: a flag is held to the key's rules, and refused for the key's reason."""
    given: dict[str, Any] = {}
    for name, key in FLAG_KEYS.items():
        value = getattr(args, name)
        if value is not None:
            given[key] = value
    if args.steps is not None:
        try:
            given["steps"] = steps_module.from_flag(args.steps).items()
        except steps_module.StepsError as err:
            raise FlagError(f"argument --steps: {err}, got {show(args.steps)}") from None
    if args.notify is not None:
        # An empty URL (a CI secret left unset) sends nothing, rather than failing the rollout.
        given["notify"] = [url for url in args.notify if url.strip()]
    try:
        return RolloutSettings.model_validate({**settings.rollout.model_dump(by_alias=True), **given})
    except pydantic.ValidationError as err:
        # The stack's own values passed this model already: what fails is a flag.
        error = err.errors()[0]
        key = str(error["loc"][0])
        flag = next((name for name, spelled in FLAG_KEYS.items() if spelled == key), None)
        if flag is None:  # a rule across keys that a flag's value broke
            raise FlagError(f"rollout.{describe(error)}") from None
        reason = describe(error).partition(": ")[2]
        if flag == "steps":
            reason = reason.rpartition(", got ")[0] + f", got {show(args.steps)}"
        raise FlagError(f"argument --{flag.replace('_', '-')}: {reason}") from None


def configured_steps(config: RolloutSettings) -> steps_module.Steps:
    """`rollout.steps` (flag laid over), weights and pauses (validated with the model)."""
    return steps_module.from_items([item if isinstance(item, int) else item.model_dump() for item in config.steps])


def resolve_policy(args: argparse.Namespace, settings: StackSettings) -> Policy:
    """The stack's `rollout` config, overridden by the flags given; UsageError for a bad flag."""
    for flag in ("url",):
        value = getattr(args, flag)
        if value is not None and (reason := url_problem(value)) is not None:
            raise FlagError(f"argument --{flag}: {reason}, got {show(redact_url(value))}")
    rollout = rollout_settings(args, settings)
    step_seconds = parse_duration(rollout.step_duration)
    analysis_seconds = parse_duration(rollout.analysis_interval)
    hold_seconds = parse_duration(rollout.hold_limit)
    # The model held each to a duration above zero.
    assert step_seconds is not None and analysis_seconds is not None and hold_seconds is not None
    steps = configured_steps(rollout)
    return Policy(
        steps=steps.weights,
        pauses=steps.pauses,
        step_seconds=step_seconds,
        analysis_seconds=analysis_seconds,
        min_requests=rollout.min_requests,
        hold_seconds=hold_seconds,
        limits=Limits(
            max_error_rate=rollout.max_error_rate,
            max_p99_ms=rollout.max_p99_ms,
            max_p99_ratio=rollout.max_p99_ratio,
            alpha=rollout.alpha,
            split_tolerance=rollout.split_tolerance,
        ),
        prometheus=rollout.prometheus or None,
        webhook=rollout.webhook or None,
        confirm=rollout.confirm or None,
        notify=tuple(url for url in rollout.notify if url.strip()),
        verify_requests=args.requests if args.requests is not None else Policy.verify_requests,
    )


# What only the health analysis reads: given while it is off (no Prometheus), each is reported.
HEALTH_ONLY = (
    "max_error_rate",
    "max_p99_ms",
    "max_p99_ratio",
    "analysis_interval",
    "min_requests",
    "hold_limit",
    "prometheus_auth",
    "metrics",
)


def unused_health_settings(args: argparse.Namespace, settings: StackSettings, policy: Policy) -> list[str]:
    """The health thresholds given, as flags or `rollout` keys, while the health gate is off. A
    key counts when its value is not the default: the project file declares every key's default,
    so a stack's config always holds them all."""
    if policy.prometheus:
        return []
    rollout = settings.rollout
    unused = []
    for field in HEALTH_ONLY:
        if getattr(args, field, None) is not None:  # the keys without a flag have none
            unused.append(f"--{field.replace('_', '-')}")
        elif getattr(rollout, field) != (model := type(rollout).model_fields[field]).get_default(
            call_default_factory=True
        ):
            unused.append(f"rollout.{model.alias or field}")
    return unused
