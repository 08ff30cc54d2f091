"""The flag parser and the flag types every command shares, so a flag is read, bounded and refused alike in each.

Each type raises `argparse.ArgumentTypeError`, which `CommandParser` words as one line:
`argument --requests: must be a whole number from 1 to 1000000, got '0'`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from canary.plan.rules.checks import show
from canary.policy import duration_problem, parse_duration
from canary.support import exit_status


class UsageError(Exception):
    """A flag, a path or a value the command cannot use; the message is one line."""


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, but a text of several lines (the examples that end each --help, as kubectl's
    do) keeps its lines as written; a one-line description is still wrapped to the terminal."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" not in text:
            return super()._fill_text(text, width, indent)
        return "".join(indent + line if line.strip() else line for line in text.splitlines(keepends=True))


class CommandParser(argparse.ArgumentParser):
    """argparse's parser, but a bad flag raises `UsageError` instead of printing the usage and
    exiting: every command prints one line and returns exit status 2 itself."""

    def __init__(self, *, prog: str, description: str | None = None, examples: str = "") -> None:
        super().__init__(prog=prog, description=description, epilog=examples or None, formatter_class=HelpFormatter)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        # argparse's own "invalid int value: '...'" quotes the whole word given: a word of
        # thousands of characters would fill the screen. Shown cut short, as every message does.
        try:
            return super()._get_value(action, arg_string)
        except argparse.ArgumentError as err:
            raise argparse.ArgumentError(action, err.message.replace(repr(arg_string), show(arg_string))) from None


def examples(*pairs: tuple[str, str]) -> str:
    """The end of a --help: each example's comment, then the command, as kubectl shows them."""
    return "Examples:\n" + "\n\n".join(f"  # {comment}\n  {command}" for comment, command in pairs) + "\n"


def parse_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    """The flags, or the exit status once `--help` has been printed; UsageError for a bad flag."""
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else exit_status.OK


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
            raise argparse.ArgumentTypeError(f"must be a whole number from {minimum} to {maximum}, got {show(text)}")
        return value

    return parse


def duration(most_seconds: float) -> Callable[[str], float]:
    """Seconds in `90`, `90s`, `2m` or `1h`, above zero and at most `most_seconds`."""

    def parse(text: str) -> float:
        reason = duration_problem(text, most_seconds)
        seconds = parse_duration(text)
        if reason is not None or seconds is None:
            raise argparse.ArgumentTypeError(f"{reason}, got {show(text)}")
        return seconds

    return parse


def host_header(text: str) -> str:
    """A Host header's value: no whitespace or control character (a CR LF would start a header of
    its own), no path."""
    if not text or "/" in text or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise argparse.ArgumentTypeError(f"must be a host name such as app.example.com, got {show(text)}")
    return text
