"""`canary/support/exit_status.py`: one exit status per kind of outcome, the same in every command."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
import yaml

from canary.__main__ import main
from canary.rollout import run_report
from canary.support import exit_status
from tests.support.project import BASELINE, PROJECT_DIR

# The commands that read a stack file themselves, with what each needs to stop before any change.
# A dry run checks that the split gate's URL resolves: a loopback one does, with no server behind it.
READS_STACK_FILE = {"render": ["--out", "{tmp}/m"], "rollout": ["--dry-run", "--url", "http://127.0.0.1:8080/"]}


def project(folder: Path, **config: object) -> Path:
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", folder)
    values = {**BASELINE, "canary": {"version": "v2"}, **config}
    stack = {"config": {f"istio-canary:{key}": value for key, value in values.items()}}
    (folder / "Pulumi.s.yaml").write_text(yaml.safe_dump(stack))
    return folder


def run(command: str, folder: Path, *flags: str) -> int:
    extra = [flag.format(tmp=folder) for flag in READS_STACK_FILE[command]]
    return main([command, "--stack", "s", "-C", str(folder), *extra, *flags])


@pytest.mark.parametrize("command", READS_STACK_FILE)
def test_a_valid_stack_is_ok_in_every_command(tmp_path, command, capsys):
    assert run(command, project(tmp_path)) == exit_status.OK, capsys.readouterr().err


@pytest.mark.parametrize("command", READS_STACK_FILE)
@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"port": 70000}, "port"),
        ({"canary": {"version": "v2", "weight": 150}}, "canary.weight"),
        ({"canary": {"version": "v2", "cookie": {"secure": "AAABAKq0"}}}, "stored as a secret"),
    ],
)
def test_an_invalid_or_secret_value_is_the_same_status_in_every_command(tmp_path, capsys, command, config, reason):
    assert run(command, project(tmp_path, **config)) == exit_status.USAGE
    assert reason in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("command", READS_STACK_FILE)
def test_a_stack_file_that_is_not_there_is_the_same_status_in_every_command(tmp_path, capsys, command):
    (tmp_path / "Pulumi.s.yaml").unlink(missing_ok=True)
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path)
    assert run(command, tmp_path) == exit_status.USAGE
    assert "no stack file Pulumi.s.yaml" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["render", "--stack", "dev", "--out", "m", "--bogus"],
        ["verify", "--routes", "r.json", "--bogus"],
        ["traffic", "--routes", "r.json", "--bogus"],
        ["rollout", "--stack", "dev", "--bogus"],
        ["bogus"],
    ],
)
def test_a_bad_flag_or_command_is_one_line_and_the_usage_status(argv, capsys):
    assert main(argv) == exit_status.USAGE
    err = capsys.readouterr().err
    assert "--bogus" in err or "'bogus'" in err
    if argv != ["bogus"]:
        assert err.count("\n") == 1, err


def test_every_command_names_its_statuses_from_the_one_table():
    assert (
        run_report.EXIT_DONE,
        run_report.EXIT_ROLLED_BACK,
        run_report.EXIT_REFUSED,
        run_report.EXIT_HELD,
        run_report.EXIT_UNSETTLED,
        run_report.EXIT_INTERRUPTED,
    ) == (
        exit_status.OK,
        exit_status.FAILED,
        exit_status.USAGE,
        exit_status.HELD,
        exit_status.UNSETTLED,
        exit_status.INTERRUPTED,
    )


@pytest.mark.parametrize("flag", ["--cwd", "-C", "--project-dir"])
def test_rollout_takes_the_project_folder_with_cwd_like_pulumi(tmp_path, monkeypatch, capsys, flag):
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    project(elsewhere)
    monkeypatch.chdir(tmp_path)  # the working folder holds no project
    assert (
        main(["rollout", "--stack", "s", flag, str(elsewhere), "--dry-run", "--url", "http://127.0.0.1:8080/"])
        == exit_status.OK
    )
    assert "canary v2 at 0%" in capsys.readouterr().out


def test_the_readmes_table_lists_each_status_once():
    readme = (PROJECT_DIR / "README.md").read_text().splitlines()
    start = readme.index("| exit | every command (`canary/support/exit_status.py`) |")
    rows = list(itertools.takewhile(lambda line: line.startswith("|"), readme[start + 2 :]))
    statuses = sorted(value for name, value in vars(exit_status).items() if name.isupper())
    assert [int(row.split("|")[1]) for row in rows] == statuses


HUGE = "9" * 5000


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        ("rollout", ["--steps", f"5,{HUGE}"]),
        ("rollout", ["--steps", f"5,pause={HUGE}h"]),
        ("rollout", ["--step-duration", f"{HUGE}s"]),
        ("rollout", ["--min-requests", HUGE]),
        ("rollout", ["--host", f"{HUGE} x"]),
        ("rollout", ["--url", f"http://user:pw@{HUGE}/"]),
    ],
)
def test_a_huge_flag_value_is_named_cut_short_on_one_line(tmp_path, capsys, command, flags):
    # Before, --steps with a word of 5,000 digits raised a traceback (int() refuses it), and every
    # flag echoed its whole value: a page of digits for one mistyped flag.
    assert run(command, project(tmp_path), *flags) == exit_status.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 300 and f"argument {flags[0]}: " in err, err
    assert "pw" not in err
