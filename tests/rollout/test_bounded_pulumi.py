"""The Automation API's CLI runs, bounded: a fake `pulumi` on PATH that prints without end or
hangs, behind the rollout's real `AutomationStack` and its LocalWorkspace."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from canary.rollout import bounded_pulumi
from canary.rollout.pulumi_stack import AutomationStack, StackError
from canary.rollout.release_tags import TagStoreError
from tests.support.rollout_cli import project, run

ENDLESS = "while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done"


def project_with_fake_pulumi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reading: str, version: str = "echo v3.211.0"
) -> Path:
    """A project folder, and a `pulumi` first on PATH: `version` (sh) for its version, a stack
    to select, and `reading` (sh) for every other command."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: istio-canary\nruntime: python\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pulumi = bin_dir / "pulumi"
    pulumi.write_text(
        f'#!/bin/sh\ncase "$*" in\n  version) {version} ;;\n  *"stack select"*) ;;\n  *) {reading} ;;\nesac\n'
    )
    pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", "true")
    return project


def test_stack_outputs_printed_without_end_are_stopped_naming_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = AutomationStack(project_with_fake_pulumi(tmp_path, monkeypatch, ENDLESS), "dev")
    with pytest.raises(StackError) as caught:
        stack.outputs()
    assert str(caught.value) == (
        "cannot read the outputs of stack dev: `pulumi --non-interactive stack output --json --stack dev` "
        "wrote more than 64 MiB, and was stopped"
    )


def test_stack_tags_printed_without_end_are_stopped_naming_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = AutomationStack(project_with_fake_pulumi(tmp_path, monkeypatch, ENDLESS), "dev")
    with pytest.raises(TagStoreError) as caught:
        stack.tags().read()
    assert str(caught.value) == (
        "cannot read the tags of stack dev: error: `pulumi --non-interactive stack tag ls --json --stack dev` "
        "wrote more than 64 MiB, and was stopped"
    )


def test_a_cli_that_hangs_while_the_stack_is_read_is_stopped_after_the_read_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = AutomationStack(project_with_fake_pulumi(tmp_path, monkeypatch, "exec sleep 60"), "dev")
    monkeypatch.setattr(bounded_pulumi, "READ_TIMEOUT", 0.5)
    with pytest.raises(StackError) as caught:
        stack.recover()
    assert str(caught.value).startswith("cannot read stack dev: `pulumi --non-interactive whoami")
    assert str(caught.value).endswith("` ran over 0.5 s, and was stopped")


def test_a_command_that_ends_is_handed_on_as_the_automation_api_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    printed = 'echo \'{"urls": ["http://a.example.com/"]}  \'; echo "warning: old CLI" >&2'
    stack = AutomationStack(project_with_fake_pulumi(tmp_path, monkeypatch, printed), "dev")
    lines: list[str] = []
    result = stack._stack.workspace.pulumi_command.run(["stack", "output", "--json"], str(tmp_path), {}, lines.append)
    assert (result.stdout, result.stderr, result.code) == ('{"urls": ["http://a.example.com/"]}', "warning: old CLI", 0)
    assert lines == ['{"urls": ["http://a.example.com/"]}']


def test_a_dry_run_whose_stack_outputs_never_end_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project_with_fake_pulumi(tmp_path, monkeypatch, ENDLESS)
    code, out, err = run(capsys, project(tmp_path / "project"), "--dry-run")
    assert (code, out) == (2, "")
    assert err == (
        "canary rollout: error: cannot read the outputs of stack prod: "
        "`pulumi --non-interactive stack output --json --stack prod` wrote more than 64 MiB, and was stopped\n"
    )


@pytest.mark.parametrize(
    ("version", "timeout", "stopped"),
    [
        (ENDLESS, bounded_pulumi.VERSION_TIMEOUT, "wrote more than 1 MiB, and was stopped"),
        ("exec sleep 60", 0.5, "ran over 0.5 s, and was stopped"),
    ],
    ids=["endless", "hanging"],
)
def test_a_cli_whose_version_never_ends_is_stopped_before_any_stack_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, timeout: float, stopped: str
) -> None:
    # The Automation API reads `pulumi version` whole before anything else, the version check off or on.
    project = project_with_fake_pulumi(tmp_path, monkeypatch, "true", version=version)
    monkeypatch.setattr(bounded_pulumi, "VERSION_TIMEOUT", timeout)
    with pytest.raises(StackError) as caught:
        AutomationStack(project, "dev")
    assert str(caught.value) == f"cannot run the Pulumi CLI: `pulumi version` {stopped}"


def test_the_cli_version_is_still_checked_as_the_automation_api_checks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_with_fake_pulumi(tmp_path, monkeypatch, "true", version="echo v2.0.0")
    monkeypatch.delenv("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK")
    with pytest.raises(StackError) as caught:
        AutomationStack(project, "dev")
    assert str(caught.value).startswith("cannot run the Pulumi CLI: Minimum version requirement failed.")
