"""How a rollout proceeds and what a canary must meet: every default, defined once.

Both the stack config (`rollout:` keys) and `canary rollout` (its flags) read their defaults
here, so this module sits below both and imports neither. Flags override the stack's settings,
which default from these dataclasses.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(s|m|h)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, None: 1}


def parse_duration(text: str) -> float | None:
    """Seconds in `90`, `90s`, `2m` or `1h`; None when it is not such a duration or not positive."""
    match = _DURATION.match(text.strip())
    if match is None:
        return None
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return seconds if seconds > 0 else None


def format_duration(seconds: float) -> str:
    """The shortest of `90s`, `2m`, `1h` that `parse_duration` reads back as `seconds`."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


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


def percent_problem(value: float) -> str | None:
    """Why `value` is not a percentage above zero and at most 100, or None."""
    return None if 0 < value <= 100 else "must be a percentage above 0 and at most 100"


def alpha_problem(value: float) -> str | None:
    """Why `value` cannot be a false-rollback probability, or None."""
    return None if 0 < value < 0.5 else "must be a probability above 0 and below 0.5"


def tolerance_problem(value: float) -> str | None:
    """Why `value` cannot be a split tolerance in percentage points, or None."""
    return None if 0 <= value < 50 else "must be percentage points from 0 to below 50"


@dataclass(frozen=True)
class Limits:
    """What a canary must meet, and how sure the rollout must be before it says it does not."""

    max_error_rate: float = 1.0
    """Percent of the canary's requests that may fail with a 5xx."""
    max_p99_ms: float = 500.0
    max_p99_ratio: float = 2.0
    """How many times stable's p99 the canary's may be."""
    min_p99_gap_ms: float = 5.0
    """Latency gaps smaller than this are histogram resolution, not a slower canary."""
    alpha: float = 0.01
    """The most the chance may be, over the whole release, that a canary as good as stable is rolled
    back, under the assumptions in docs/rollout.md (every test, step and run together)."""
    split_tolerance: float = 2.0
    """Percentage points by which a route's observed split may differ from the one configured
    before the split gate fails (10 % seen as 9.2 % is a correct split)."""


@dataclass(frozen=True)
class Policy:
    steps: tuple[int, ...] = (5, 10, 25, 50)
    """The canary weights to walk through, in percent."""
    step_seconds: float = 120.0
    """How long each step is watched before it may be promoted."""
    analysis_seconds: float = 10.0
    """How often the health analysis asks Prometheus during a step."""
    min_requests: int = 50
    """Canary requests a step must have seen before it is promoted; a step with fewer is held
    (extended) up to `hold_seconds`, then the rollout stops, held, its weight kept."""
    hold_seconds: float = 600.0
    """How long a step may be extended beyond its duration, for thin evidence and for shared
    incidents (both versions failing alike) together, before the rollout stops, held."""
    limits: Limits = field(default_factory=Limits)
    prometheus: str | None = None
    """Prometheus' base URL; without it the health analysis is off."""
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
