"""How a rollout proceeds and what a canary must meet: every default, defined once.

Both the stack config (`rollout:` keys) and `canary rollout` (its flags) read their defaults
here, so this module sits below both and imports neither. Flags override the stack's settings,
which default from these dataclasses.
"""

from __future__ import annotations

import itertools
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from canary.config.steps import Pause

from canary.plan.rules.checks import ArgsError
from canary.plan.rules.names import MAX_DNS_NAME_LENGTH

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(s|m|h)?")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, None: 1}


# The ranges of the rollout's numbers, the same whether a flag or a `rollout:` key gives them.
MAX_STEP_SECONDS = 24 * 3600
"""A step watched for longer than a day is a release left unattended, not a canary step."""
MAX_ANALYSIS_SECONDS = 3600
MAX_HOLD_SECONDS = 24 * 3600
"""A step held longer than a day for thin evidence is a rollout waiting on nobody."""
MAX_PAUSE_SECONDS = 7 * 24 * 3600
"""A timed pause longer than a week is an approval nobody gives: `pause` (until approved) says so."""
MAX_MIN_REQUESTS = 10_000_000
MAX_SPLIT_REQUESTS = 1_000_000
"""Requests per route of one split test (`rollout --requests`, `verify --requests`)."""
MAX_P99_MS = 60_000
"""A p99 above a minute is a timeout, not a latency to compare."""
MAX_P99_RATIO = 100


def _seconds(text: str) -> float | None:
    match = _DURATION.fullmatch(text)
    return None if match is None else float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_duration(text: str) -> float | None:
    """Seconds in `90`, `90s`, `2m` or `1h`; None when it is not such a duration or not positive."""
    seconds = _seconds(text)
    return seconds if seconds is not None and seconds > 0 else None


def seconds_problem(seconds: float, most_seconds: float) -> str | None:
    """Why `seconds` is not a time above zero and at most `most_seconds`, or None (NaN fails too)."""
    if not seconds > 0:
        return "must be more than zero"
    if not seconds <= most_seconds:
        return f"must be at most {format_duration(most_seconds)}"
    return None


def duration_problem(text: str, most_seconds: float) -> str | None:
    """Why `text` is not a duration above zero and at most `most_seconds`, or None."""
    seconds = _seconds(text)
    if seconds is None:
        return "must be a duration such as 90s, 2m or 1h"
    return seconds_problem(seconds, most_seconds)


def step_duration_problem(text: str) -> str | None:
    return duration_problem(text, MAX_STEP_SECONDS)


def analysis_interval_problem(text: str) -> str | None:
    return duration_problem(text, MAX_ANALYSIS_SECONDS)


def hold_limit_problem(text: str) -> str | None:
    return duration_problem(text, MAX_HOLD_SECONDS)


def p99_ms_problem(value: float) -> str | None:
    """Why `value` cannot be the most milliseconds a canary's p99 may take, or None (NaN fails too)."""
    return None if 0 < value <= MAX_P99_MS else f"must be a number above 0 and at most {MAX_P99_MS}"


def p99_ratio_problem(value: float) -> str | None:
    """Why `value` cannot be how many times stable's p99 the canary's may be: below 1, a canary as
    fast as stable would fail."""
    return None if 1 <= value <= MAX_P99_RATIO else f"must be a number from 1 to {MAX_P99_RATIO}"


def min_requests_problem(value: int) -> str | None:
    # Worded as the stack's `between` words an integer range.
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_MIN_REQUESTS
    return None if ok else f"must be an integer from 1 to {MAX_MIN_REQUESTS}"


def split_requests_problem(value: int) -> str | None:
    return None if 1 <= value <= MAX_SPLIT_REQUESTS else f"must be a whole number from 1 to {MAX_SPLIT_REQUESTS}"


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


_HTTP_URL = re.compile(r"https?://[^\s/\x00-\x1f\x7f]+(/[^\s\x00-\x1f\x7f]*)?")


def url_problem(url: str) -> str | None:
    """Why `url` is not an http(s) URL to send requests to, or None: one the HTTP client can open
    (a host, a numeric port in range), so that no request ends in the client's own exception."""
    if not _HTTP_URL.fullmatch(url):
        return "must be an http:// or https:// URL"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return "must be an http:// or https:// URL with a host and a port from 1 to 65535"
    if not parts.hostname or port == 0:
        return "must be an http:// or https:// URL with a host and a port from 1 to 65535"
    if len(parts.hostname) > MAX_DNS_NAME_LENGTH:
        return f"must be an http:// or https:// URL whose host is at most {MAX_DNS_NAME_LENGTH} characters"
    return None


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

    def __post_init__(self) -> None:
        # The ranges the flags and the stack's `rollout` keys are held to: the third door.
        _refuse(
            self,
            max_error_rate=percent_problem,
            max_p99_ms=p99_ms_problem,
            max_p99_ratio=p99_ratio_problem,
            min_p99_gap_ms=p99_ms_problem,
            alpha=alpha_problem,
            split_tolerance=tolerance_problem,
        )


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
    """How long a step may be extended beyond its duration, for thin evidence, shared incidents
    (both versions failing alike) and threshold metrics out of bounds together, before the rollout
    stops, held."""
    limits: Limits = field(default_factory=Limits)
    prometheus: str | None = None
    """Prometheus' base URL; without it the health analysis is off."""
    webhook: str | None = None
    """Where to POST each step's figures; a non-2xx answer fails the step."""
    verify_requests: int = 200
    """Requests per route that the split gate sends."""
    pauses: tuple[Pause, ...] = ()
    """Waits between the steps (`canary.config.steps`): for an approval, or a time."""
    confirm: str | None = None
    """A URL asked after each step passes, before the next weight or the promotion: the rollout
    holds until it answers 2xx (it never rolls back for it)."""
    notify: tuple[str, ...] = ()
    """Apprise URLs every event of the rollout is sent to."""

    def __post_init__(self) -> None:
        # The ranges the flags and the stack's `rollout` keys are held to: the third door.
        _refuse(
            self,
            steps=lambda steps: steps_problem(list(steps)),
            step_seconds=lambda seconds: seconds_problem(seconds, MAX_STEP_SECONDS),
            analysis_seconds=lambda seconds: seconds_problem(seconds, MAX_ANALYSIS_SECONDS),
            hold_seconds=lambda seconds: seconds_problem(seconds, MAX_HOLD_SECONDS),
            min_requests=min_requests_problem,
            verify_requests=split_requests_problem,
            prometheus=lambda url: None if url is None else url_problem(url),
            webhook=lambda url: None if url is None else url_problem(url),
            confirm=lambda url: None if url is None else url_problem(url),
        )

    def remaining(self, current_weight: int) -> tuple[int, ...]:
        """The steps still to take from `current_weight`: a step at the current weight is judged again.

        A rollout interrupted during a step resumes by watching that step anew; a release at 0
        starts at the first step.
        """
        return tuple(step for step in self.steps if step >= current_weight)


def _refuse(args: object, **rules: Callable[[Any], str | None]) -> None:
    """ArgsError (the components' Args error) naming `Class.field` for the first field whose rule gives a reason."""
    for name, rule in rules.items():
        value = getattr(args, name)
        try:
            reason = rule(value)
        except TypeError:
            reason = "must be a number"
        if reason is not None:
            raise ArgsError(f"{type(args).__name__}.{name}", value, reason)
