"""The figures of a rollout report as the page shows them.

The report is typed, but three of its parts are free-form records (each test's result, each of
the team's metrics, each hold), read here key by key: a field that is missing, null, not a number
or not finite shows as "-" or as a gap in a chart, never as an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from canary.rollout.report.svg import clock


def at(seconds: float) -> float:
    """Seconds since the start to the millisecond, as the JSON report gives them: the page and
    `--json` then say the same."""
    return round(seconds, 3)


def finite(value: float | None) -> float | None:
    """The value, or None for a NaN or an infinity (a rate over no requests, say)."""
    return float(value) if value is not None and math.isfinite(value) else None


def listed(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def text(value: Any) -> str:
    return "" if value is None else str(value)


def number(value: Any) -> float | None:
    """A finite number, or None for null, a bool, a string or an infinity."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return finite(float(value))


def whole(value: Any) -> int | None:
    found = number(value)
    return None if found is None else round(found)


def count(value: Any) -> str:
    found = whole(value)
    return "-" if found is None else f"{found:,}"


def significant(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def clock_or_dash(seconds: float | None) -> str:
    return "-" if seconds is None else clock(seconds)


def records(value: Any) -> list[Mapping[str, Any]]:
    """The records of a free-form list (a poll's tests or metrics), leaving out anything else."""
    return [item for item in listed(value) if isinstance(item, Mapping)]
