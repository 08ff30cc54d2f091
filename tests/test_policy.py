"""`canary/policy.py`: the rollout's Args (`Policy`, `Limits`) hold their numbers to the ranges the
flags and the stack's `rollout` keys are held to, for the same reason."""

from __future__ import annotations

import math

import pytest

from canary.plan.rules.checks import ArgsError
from canary.policy import Limits, Policy

# (Args field, bad value, the reason `canary rollout` gives for the same value as a flag or a key).
ROWS = [
    ("Policy.step_seconds", 0, "must be more than zero"),
    ("Policy.step_seconds", 99999999999999 * 3600, "must be at most 24h"),
    ("Policy.analysis_seconds", 2 * 3600, "must be at most 1h"),
    ("Policy.hold_seconds", 99 * 3600, "must be at most 24h"),
    ("Policy.min_requests", 20_000_000, "must be an integer from 1 to 10000000"),
    ("Policy.verify_requests", 999_999_999_999, "must be a whole number from 1 to 1000000"),
    ("Policy.steps", (10, 5), "must rise step by step (e.g. 5,10,25,50)"),
    ("Policy.webhook", "hooks.example.com", "must be an http:// or https:// URL"),
    ("Limits.max_p99_ms", math.inf, "must be a number above 0 and at most 60000"),
    ("Limits.max_p99_ratio", 0.01, "must be a number from 1 to 100"),
    ("Limits.max_error_rate", 0, "must be a percentage above 0 and at most 100"),
    ("Limits.alpha", math.nan, "must be a probability above 0 and below 0.5"),
    ("Limits.split_tolerance", 50, "must be percentage points from 0 to below 50"),
]


@pytest.mark.parametrize(("field", "bad", "reason"), ROWS, ids=[f"{r[0]}={r[1]!r}" for r in ROWS])
def test_the_rollouts_args_refuse_what_its_flags_and_keys_refuse(field, bad, reason):
    owner, name = field.split(".")
    with pytest.raises(ArgsError) as raised:
        (Policy if owner == "Policy" else Limits)(**{name: bad})
    assert str(raised.value).startswith(f"{field} {reason}, got "), raised.value


def test_the_defaults_are_within_every_range():
    assert Policy() == Policy(limits=Limits())
