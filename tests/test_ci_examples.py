"""examples/ci: the GitHub Actions workflow and the GitLab CI job run commands this project accepts,
branch on the exit statuses it documents, and take their credentials from the CI's secrets."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from canary.cli.rollout_flags import parser
from canary.support import exit_status
from tests.support.project import PROJECT_DIR

EXAMPLES = sorted((PROJECT_DIR / "examples" / "ci").glob("*.yml"))


def rollout_commands(path: Path) -> list[list[str]]:
    """Each `python -m canary rollout ...` of the file, its CI variables replaced by placeholders."""
    text = path.read_text().replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        if "-m canary rollout" not in line:
            continue
        line = re.sub(r"\$\{\{[^}]*\}\}|\$[A-Z_]+", "VALUE", line.split("#")[0])
        words = shlex.split(line)
        start = words.index("rollout") + 1
        end = words.index(">") if ">" in words else len(words)
        commands.append(words[start:end])
    return commands


def test_there_is_a_github_actions_workflow_and_a_gitlab_job():
    assert [path.name for path in EXAMPLES] == ["github-actions.yml", "gitlab-ci.yml"]
    for path in EXAMPLES:
        assert isinstance(yaml.safe_load(path.read_text()), dict)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_rollout_command_is_one_the_cli_accepts(path):
    commands = rollout_commands(path)
    assert [command[command.index("--stack") + 2] for command in commands][:1] == ["--decide"]
    assert len(commands) == 2
    for command in commands:
        parser().parse_args(command)  # raises UsageError on a flag that does not exist


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_it_branches_on_the_documented_exit_statuses(path):
    text = path.read_text()
    # Each status is a branch: a shell `case` label (`10)`, `10|11)`) or a step's `if:` ('10').
    for code in (exit_status.START, exit_status.RESUME):
        assert re.search(rf"(\b{code}[)|]|'{code}')", text), code
    # Anything else (75 while a rollout holds the lock, 2 for a bad stack file) fails the job, with
    # the command's own message in its log.
    assert "*) exit $status ;;" in text


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_the_passphrase_and_prometheus_token_are_the_cis_secrets(path):
    text = path.read_text()
    for name in ("PULUMI_CONFIG_PASSPHRASE", "CANARY_PROMETHEUS_TOKEN"):
        assert name in text
        # Never a value written in the file: GitHub's from its secrets, GitLab's from CI/CD variables.
        for line in text.splitlines():
            code = line.split("#")[0]
            if re.search(rf"\b{name}\s*[:=]", code):
                assert code.split(":", 1)[1].strip() == f"${{{{ secrets.{name} }}}}", line
