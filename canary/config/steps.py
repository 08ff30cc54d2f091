"""The rollout's step grammar: weights, and pauses between them, as Argo Rollouts writes steps.

In the stack config, `rollout.steps: [5, {pause: true}, 25, 50]` waits for an approval after the
5 % step, and `{pause: 10m}` waits ten minutes (an approval ends it early). `--steps` takes the
same in one word: `5,pause,25,50`, `5,pause=10m,25`. A pause first waits before any weight
changes; a pause last waits before promotion.

Pure: both the stack config (`canary.config.rollout`) and `canary rollout` read steps here, so
every problem is worded once, naming the item and its value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from canary.plan.rules.checks import shortened
from canary.policy import MAX_PAUSE_SECONDS, format_duration, parse_duration, seconds_problem, steps_problem

ITEM_FORMS = "a weight from 1 to 100, {pause: true} or {pause: <duration such as 10m>}"
FLAG_FORMS = "a weight from 1 to 100, pause or pause=<duration such as 10m>"


@dataclass(frozen=True)
class Pause:
    """A wait between steps: after the step at weight `after` (0: before the first step)."""

    after: int
    seconds: float | None = None
    """None: until approved; else this long, or until approved if sooner."""

    def describe(self) -> str:
        return "approval" if self.seconds is None else f"timer {format_duration(self.seconds)}"

    def to_item(self) -> Any:
        """As the stack config writes it."""
        return {"pause": True if self.seconds is None else format_duration(self.seconds)}


@dataclass(frozen=True)
class Steps:
    weights: tuple[int, ...]
    pauses: tuple[Pause, ...] = ()

    def items(self) -> list[Any]:
        """Back in the stack config's form, weights and pauses in order."""
        out: list[Any] = [pause.to_item() for pause in self.pauses if pause.after == 0]
        for weight in self.weights:
            out.append(weight)
            out.extend(pause.to_item() for pause in self.pauses if pause.after == weight)
        return out


class StepsError(ValueError):
    """A step list that cannot be: the message names the item and its value."""


def _pause_seconds(value: Any) -> float | None:
    """The seconds of a pause's value; None for `true` (until approved). Raises ValueError."""
    if value is True:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        # Compared as a whole number first: 10**400 is past a float's range, and past any limit.
        return float(value) if value <= MAX_PAUSE_SECONDS else math.inf
    if isinstance(value, str) and (seconds := parse_duration(value)) is not None:
        return seconds
    raise ValueError


def _show(item: Any) -> str:
    """An item as the stack file spells it (`{pause: true}`), cut short: messages stay one line."""
    return shortened(_spelled(item))


def _spelled(item: Any) -> str:
    if isinstance(item, dict):
        return "{" + ", ".join(f"{key}: {_spelled(value)}" for key, value in item.items()) + "}"
    if isinstance(item, bool):
        return "true" if item else "false"
    return repr(item) if isinstance(item, str) else str(item)


def _assemble(parsed: Sequence[int | float | str], where: Sequence[str]) -> Steps:
    """Weights and pauses in order (a pause is its seconds, or "pause" for until approved)."""
    weights: list[int] = []
    pauses: list[Pause] = []
    previous_was_pause = False
    for label, entry in zip(where, parsed, strict=True):
        if isinstance(entry, int) and not isinstance(entry, bool):
            weights.append(entry)
            previous_was_pause = False
            continue
        if previous_was_pause:
            raise StepsError(f"{label}: two pauses in a row; make it one")
        seconds = None if isinstance(entry, str) else float(entry)
        pauses.append(Pause(after=weights[-1] if weights else 0, seconds=seconds))
        previous_was_pause = True
    if (reason := steps_problem(weights)) is not None:
        raise StepsError(reason)
    return Steps(tuple(weights), tuple(pauses))


def from_items(items: Sequence[Any]) -> Steps:
    """The stack config's list (`[5, {pause: true}, 25, 50]`); StepsError names the bad item."""
    parsed: list[int | float | str] = []
    labels = []
    for index, item in enumerate(items):
        label = f"item [{index}] {_show(item)}"
        labels.append(label)
        if isinstance(item, int) and not isinstance(item, bool):
            if not 1 <= item <= 100:
                raise StepsError(f"{label}: must be {ITEM_FORMS}")
            parsed.append(item)
        elif isinstance(item, dict) and set(item) == {"pause"}:
            try:
                seconds = _pause_seconds(item["pause"])
            except ValueError:
                raise StepsError(f"{label}: pause must be true or a duration such as 90s, 10m or 1h") from None
            if seconds is not None and (problem := seconds_problem(seconds, MAX_PAUSE_SECONDS)) is not None:
                raise StepsError(f"{label}: pause {problem}")
            parsed.append("pause" if seconds is None else seconds)
        else:
            raise StepsError(f"{label}: must be {ITEM_FORMS}")
    return _assemble(parsed, labels)


def from_flag(text: str) -> Steps:
    """`--steps` (`5,pause,25,50`, `5,pause=10m,25`); StepsError names the bad item."""
    parsed: list[int | float | str] = []
    labels = []
    for part in (word.strip() for word in text.split(",")):
        label = f"item {shortened(repr(part))}"
        labels.append(label)
        # ASCII digits, at most three: `int()` refuses "²" and a word of 5,000 digits with a ValueError.
        if part.isascii() and part.isdigit():
            if len(part) > 3 or not 1 <= int(part) <= 100:
                raise StepsError(f"{label}: must be {FLAG_FORMS}")
            parsed.append(int(part))
        elif part == "pause":
            parsed.append("pause")
        elif part.startswith("pause="):
            seconds = parse_duration(part.removeprefix("pause="))
            if seconds is None:
                raise StepsError(f"{label}: pause= takes a duration such as 90s, 10m or 1h")
            if (problem := seconds_problem(seconds, MAX_PAUSE_SECONDS)) is not None:
                raise StepsError(f"{label}: pause= {problem}")
            parsed.append(seconds)
        else:
            raise StepsError(f"{label}: must be {FLAG_FORMS}")
    return _assemble(parsed, labels)


def pauses_after(pauses: Sequence[Pause], weight: int) -> list[Pause]:
    return [pause for pause in pauses if pause.after == weight]


def describe(steps: Steps, current_weight: int) -> list[str]:
    """The steps still to take from `current_weight`, pauses included, in order: `5%`, `pause (approval)`.

    A pause before the first step applies only to a release at 0 %."""
    out = [f"pause ({p.describe()})" for p in pauses_after(steps.pauses, 0)] if current_weight == 0 else []
    for weight in (w for w in steps.weights if w >= current_weight):
        out.append(f"{weight}%")
        out.extend(f"pause ({p.describe()})" for p in pauses_after(steps.pauses, weight))
    return out
