"""The argparse types the commands share, so a flag is read and bounded alike in each of them.

Each raises `argparse.ArgumentTypeError`, which the commands' parsers word as one line:
`argument --requests: must be a whole number from 1 to 1000000, got '0'`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from canary.policy import duration_problem, parse_duration


def shown(path: Path | str) -> str:
    """A path as a message shows it: as it is, or quoted when it holds a line break or another
    control character, which would split the message's one line."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def path_flag(text: str) -> Path:
    """A path, never "": `--out "$OUT"` with OUT unset would be the working folder (`Path("")`)."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty (an unset variable?)")
    return Path(text)


def whole_number(minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be a whole number from {minimum} to {maximum}, got {text!r}")
        return value

    return parse


def duration(most_seconds: float) -> Callable[[str], float]:
    """Seconds in `90`, `90s`, `2m` or `1h`, above zero and at most `most_seconds`."""

    def parse(text: str) -> float:
        reason = duration_problem(text, most_seconds)
        seconds = parse_duration(text)
        if reason is not None or seconds is None:
            raise argparse.ArgumentTypeError(f"{reason}, got {text!r}")
        return seconds

    return parse


def host_header(text: str) -> str:
    """A Host header's value: no whitespace or control character (a CR LF would start a header of
    its own), no path."""
    if not text or "/" in text or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise argparse.ArgumentTypeError(f"must be a host name such as app.example.com, got {text!r}")
    return text
