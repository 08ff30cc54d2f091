"""How a rollout proceeds: its steps, how long each is watched, and what it must meet."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from canary.rollout.health import Limits

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(s|m|h)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, None: 1}


def parse_duration(text: str) -> float | None:
    """Seconds in `90`, `90s`, `2m` or `1h`; None when it is not such a duration or not positive."""
    match = _DURATION.match(text.strip())
    if match is None:
        return None
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return seconds if seconds > 0 else None


def steps_problem(steps: list[int]) -> str | None:
    """Why a list of canary weights cannot be a rollout's steps, or None."""
    if not steps:
        return "must list at least one weight"
    if any(not 1 <= step <= 100 for step in steps):
        return "must be weights from 1 to 100"
    if any(b <= a for a, b in itertools.pairwise(steps)):
        return "must rise step by step (e.g. 5,10,25,50)"
    return None


_HTTP_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


def url_problem(url: str) -> str | None:
    """Why `url` is not an http(s) URL to send requests to, or None."""
    return None if _HTTP_URL.match(url) else "must be an http:// or https:// URL"


@dataclass(frozen=True)
class Policy:
    steps: tuple[int, ...] = (5, 10, 25, 50)
    """The canary weights to walk through, in percent."""
    step_seconds: float = 120.0
    """How long each step is watched before it is judged."""
    limits: Limits = field(default_factory=Limits)
    prometheus: str | None = None
    """Prometheus' base URL; without it the health gate is off."""
    webhook: str | None = None
    """Where to POST each step's figures; a non-2xx answer fails the step."""
    verify_requests: int = 200
    """Requests per route that the split gate sends."""

    def remaining(self, current_weight: int) -> tuple[int, ...]:
        """The steps still to take from `current_weight`: a step at the current weight is judged again.

        A rollout interrupted during a step resumes by watching that step anew; a release at 0
        starts at the first step.
        """
        return tuple(step for step in self.steps if step >= current_weight)
