"""Each command's --help: rollout's gives every default as docs/rollout.md's table does, and every
command ends with a few examples, each of which its own parser accepts."""

from __future__ import annotations

import argparse
import io
import re
import shlex
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from canary.cli.flags import parse_flags
from canary.cli.render import parser as render_parser
from canary.cli.rollout_flags import parser as rollout_parser
from canary.cli.traffic import traffic_parser, verify_parser
from canary.config import parse_settings
from canary.config.files import as_config_strings
from canary.rollout.overrides import resolve_policy
from tests.support.project import BASELINE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rollout.md"
PARSERS = {"render": render_parser, "verify": verify_parser, "traffic": traffic_parser, "rollout": rollout_parser}


def _help(parser: argparse.ArgumentParser) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert parse_flags(parser, ["--help"]) == 0
    return out.getvalue()


def _option_help(parser: argparse.ArgumentParser, flag: str) -> str:
    (action,) = [a for a in parser._actions if flag in a.option_strings]
    return " ".join((action.help or "").split())


def _documented_defaults() -> dict[str, str]:
    """docs/rollout.md's flag table: each flag and its default column, as written there."""
    table = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and (flag := re.match(r"`(--[a-z0-9-]+)", cells[0])):
            table[flag.group(1)] = cells[2]
    return table


def test_the_docs_table_is_read():
    assert _documented_defaults()["--step-duration"] == "`2m`"


# The flags the table gives a default for (not --stack, required, nor the actions such as --dry-run).
DEFAULTED = sorted(flag for flag, default in _documented_defaults().items() if default not in ("", "required"))


def test_most_of_the_table_has_a_default():
    assert len(DEFAULTED) >= 15 and "--steps" in DEFAULTED and "--notify" in DEFAULTED


@pytest.mark.parametrize("flag", DEFAULTED)
def test_rollout_help_gives_each_default_the_docs_give(flag: str):
    documented = _documented_defaults()[flag]
    given = _option_help(rollout_parser(), flag)
    shown = re.findall(r"\(default: ([^)]*)\)", given)
    assert shown, f"{flag}: {given!r}"
    if documented.startswith("`"):
        assert documented.strip("`") in shown[-1].split(", "), f"{flag}: {given!r}"
    elif documented in ("off", "none"):
        assert shown[-1].endswith(documented), f"{flag}: {given!r}"


def test_every_rollout_option_that_takes_a_value_names_its_default():
    missing = [
        action.option_strings[0]
        for action in rollout_parser()._actions
        if action.option_strings and action.nargs != 0 and not action.required
        if "(default: " not in " ".join((action.help or "").split())
    ]
    assert missing == []


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_help_ends_with_two_or_three_examples_the_command_accepts(command: str):
    text = _help(PARSERS[command]())
    assert "\nExamples:\n" in text
    examples = text[text.index("\nExamples:\n") :]
    commands = [line.strip() for line in examples.splitlines() if line.strip().startswith("canary ")]
    assert 2 <= len(commands) <= 3, examples
    # Nothing but the examples after the heading: comments, commands, blank lines.
    assert all(
        not line.strip() or line.strip().startswith(("#", "canary ", "Examples:")) for line in examples.splitlines()
    )
    for line in commands:
        words = shlex.split(line)
        assert words[:2] == ["canary", command], line
        flags = parse_flags(PARSERS[command](), words[2:])
        assert isinstance(flags, argparse.Namespace), line


@pytest.mark.parametrize(
    ("parser", "flag", "text", "seconds"),
    [
        (verify_parser, "--timeout", "5s", 5.0),
        (verify_parser, "--timeout", "1m", 60.0),
        (verify_parser, "--timeout", "2.5", 2.5),
        (traffic_parser, "--interval", "2s", 2.0),
        (traffic_parser, "--interval", "0.5", 0.5),
        (traffic_parser, "--duration", "90s", 90.0),
        (traffic_parser, "--duration", "2m", 120.0),
    ],
)
def test_a_time_flag_takes_a_duration_or_plain_seconds(parser, flag: str, text: str, seconds: float):
    flags = parse_flags(parser(), ["--stack", "dev", flag, text])
    assert not isinstance(flags, int)
    assert getattr(flags, flag.removeprefix("--")) == seconds


@pytest.mark.parametrize("flag", ["--step-duration", "--analysis-interval", "--hold-limit"])
@pytest.mark.parametrize("text", ["90s", "2m", "120"])
def test_rollout_time_flags_take_a_duration_or_plain_seconds(flag: str, text: str):
    flags = parse_flags(rollout_parser(), ["--stack", "dev", flag, text])
    assert not isinstance(flags, int)
    settings = parse_settings(as_config_strings({**BASELINE, "canary": {"version": "v2"}}))
    policy = resolve_policy(flags, settings)
    seconds = {"90s": 90.0, "2m": 120.0, "120": 120.0}[text]
    field = {
        "--step-duration": "step_seconds",
        "--analysis-interval": "analysis_seconds",
        "--hold-limit": "hold_seconds",
    }
    assert getattr(policy, field[flag]) == seconds
