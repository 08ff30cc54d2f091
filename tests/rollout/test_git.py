"""`--git-commit`/`--git-push` and `--decide`, against real Git repositories in a temporary folder:
a bare repository as the remote, a checkout the rollout commits in, and a fresh clone per push as
CI would check it out. The backend's tags are kept in memory (`MemoryTags`)."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.config import StackSettings, parse_settings
from canary.config.files import stack_config
from canary.rollout import release_tags
from canary.rollout.decide import decide, last_record
from canary.rollout.engine import Rollout
from canary.rollout.git_record import SKIP_CI, CommittingStack, GitRecorder
from canary.rollout.interfaces import Gates
from canary.rollout.lock import ReleaseLock
from canary.rollout.policy import Policy
from canary.rollout.pulumi_stack import Change, Update
from canary.support import exit_status
from tests.support.memory_tags import MemoryTags
from tests.support.rollout_cli import project
from tests.support.rollout_fakes import FakeClock, Recorder, passing

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


def remote_and_checkout(tmp_path: Path, **config: Any) -> tuple[Path, Path]:
    """A bare repository holding the project, and a checkout of it tracking main."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    (tmp_path / "work").mkdir()
    checkout = project(tmp_path / "work", **config)
    git(checkout, "init", "--quiet", "--initial-branch=main")
    git(checkout, "add", ".")
    git(checkout, "commit", "--quiet", "-m", "the project")
    git(checkout, "remote", "add", "origin", str(remote))
    git(checkout, "push", "--quiet", "-u", "origin", "main")
    return remote, checkout


class FileStack:
    """The stack file on disk, edited as `pulumi config set` would; `up` deploys nothing."""

    name = "prod"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "Pulumi.prod.yaml"

    def _edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        document = yaml.safe_load(self.path.read_text())
        change(document["config"])
        self.path.write_text(yaml.safe_dump(document, sort_keys=False))

    def settings(self) -> StackSettings:
        return parse_settings(stack_config(self.path.parent, self.name))

    def pending(self) -> list[Change]:
        return []

    def recover(self) -> list[str]:
        return []

    def set_weight(self, weight: int) -> None:
        self._edit(lambda config: config["istio-canary:canary"].__setitem__("weight", weight))

    def promote(self, version: str) -> None:
        def change(config: dict[str, Any]) -> None:
            config["istio-canary:stable"] = version
            del config["istio-canary:canary"]

        self._edit(change)

    def retire(self, version: str) -> None:
        def change(config: dict[str, Any]) -> None:
            config["istio-canary:versions"] = [v for v in config["istio-canary:versions"] if v["name"] != version]

        self._edit(change)

    def up(self, message: str, on_output: Callable[[str], None] | None = None) -> Update:
        return Update(changes={"update": 1})


def run_rollout(checkout: Path, steps: tuple[int, ...], push: bool = True, retire: bool = True) -> Any:
    clock = FakeClock()
    recorder = GitRecorder(checkout, "prod", push=push)
    assert recorder.problem() is None
    engine = Rollout(
        stack=CommittingStack(FileStack(checkout), recorder),
        policy=Policy(steps=steps, step_seconds=30),
        gates=Gates(split=passing("split"), webhook=passing("webhook")),
        view=Recorder(),
        sleep=clock.sleep,
        clock=clock,
    )
    return engine.run(promote=True, retire=retire)


def subjects(repository: Path) -> list[str]:
    return git(repository, "log", "--format=%s", "main").splitlines()


def test_each_change_the_rollout_writes_is_one_pushed_commit_of_the_stack_file_only(tmp_path):
    remote, checkout = remote_and_checkout(tmp_path)
    (checkout / "notes.txt").write_text("work in progress\n")
    git(checkout, "add", "notes.txt")  # staged, and none of the rollout's business
    report = run_rollout(checkout, (10, 25, 50))
    assert report.outcome == "retired"
    assert subjects(remote) == [
        "canary rollout prod: retire v1",
        "canary rollout prod: promote v2",
        "canary rollout prod: v2 at 50%",
        "canary rollout prod: v2 at 25%",
        "canary rollout prod: v2 at 10%",
        "the project",
    ]
    for commit in git(remote, "log", "--format=%H", "-5", "main").splitlines():
        assert git(remote, "show", "--format=", "--name-only", commit) == "Pulumi.prod.yaml"
        assert SKIP_CI in git(remote, "log", "-1", "--format=%b", commit)
    at_25 = git(remote, "show", "main~3:Pulumi.prod.yaml")
    assert yaml.safe_load(at_25)["config"]["istio-canary:canary"]["weight"] == 25
    assert git(checkout, "status", "--porcelain") == "A  notes.txt"


def test_without_push_the_commits_stay_in_the_checkout(tmp_path):
    remote, checkout = remote_and_checkout(tmp_path)
    run_rollout(checkout, (10, 50), push=False, retire=False)
    assert subjects(remote) == ["the project"]
    assert subjects(checkout)[:3] == ["canary rollout prod: promote v2", "canary rollout prod: v2 at 50%",
                                      "canary rollout prod: v2 at 10%"]  # fmt: skip


def test_a_checkout_that_cannot_record_each_step_is_refused_before_anything_changes(tmp_path):
    (tmp_path / "plain").mkdir()
    outside = project(tmp_path / "plain")
    assert GitRecorder(outside, "prod").problem() == f"--git-commit: {outside} is not in a Git checkout"
    _, checkout = remote_and_checkout(tmp_path)
    (checkout / "Pulumi.prod.yaml").write_text((checkout / "Pulumi.prod.yaml").read_text() + "# edited\n")
    assert GitRecorder(checkout, "prod").problem() == (
        "--git-commit: Pulumi.prod.yaml has changes not committed; commit them first, so that each commit is one step"
    )
    git(checkout, "checkout", "Pulumi.prod.yaml")
    git(checkout, "branch", "--unset-upstream")
    assert GitRecorder(checkout, "prod", push=True).problem() == (
        "--git-push: the checked-out branch has no upstream to push to (git push -u REMOTE BRANCH once)"
    )


def git_printing_without_end_for(command: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `git` first on PATH that prints endlessly for `command` and is the real one otherwise."""
    real = shutil.which("git")
    folder.mkdir()
    fake = folder / "git"
    fake.write_text(
        f'#!/bin/sh\nif [ "$1" = {command} ]; then while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done; fi\n'
        f'exec {real} "$@"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")


def test_a_git_that_prints_without_end_is_stopped_and_said_in_one_line(tmp_path, monkeypatch):
    _, checkout = remote_and_checkout(tmp_path)
    git_printing_without_end_for("rev-parse", tmp_path / "endless-rev-parse", monkeypatch)
    assert GitRecorder(checkout, "prod").problem() == (
        "--git-commit: `git rev-parse --is-inside-work-tree` wrote more than 16 MiB, and was stopped"
    )
    monkeypatch.setenv("PATH", os.environ["PATH"].split(":", 1)[1])
    git_printing_without_end_for("push", tmp_path / "endless-push", monkeypatch)
    warnings: list[str] = []
    recorder = GitRecorder(checkout, "prod", push=True, warn=warnings.append)
    FileStack(checkout).set_weight(10)
    recorder.commit("canary rollout prod: v2 at 10%")
    assert subjects(checkout)[0] == "canary rollout prod: v2 at 10%"
    assert warnings == ["warning: `git push --quiet` wrote more than 16 MiB, and was stopped; the rollout goes on"]


def test_a_push_after_someone_else_pushed_replays_the_step_on_their_commit(tmp_path):
    remote, checkout = remote_and_checkout(tmp_path)
    colleague = tmp_path / "colleague"
    git(tmp_path, "clone", "--quiet", str(remote), str(colleague))
    (colleague / "README.md").write_text("notes\n")
    git(colleague, "add", "README.md")
    git(colleague, "commit", "--quiet", "-m", "notes")
    git(colleague, "push", "--quiet")
    warnings: list[str] = []
    recorder = GitRecorder(checkout, "prod", push=True, warn=warnings.append)
    FileStack(checkout).set_weight(10)
    recorder.commit("canary rollout prod: v2 at 10%")
    assert warnings == []
    assert subjects(remote) == ["canary rollout prod: v2 at 10%", "notes", "the project"]


def test_a_push_that_fails_is_a_warning_and_the_rollout_goes_on(tmp_path):
    _, checkout = remote_and_checkout(tmp_path)
    warnings: list[str] = []
    recorder = GitRecorder(checkout, "prod", push=True, warn=warnings.append)
    git(checkout, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    stack = FileStack(checkout)
    stack.set_weight(10)
    recorder.commit("canary rollout prod: v2 at 10%")
    assert subjects(checkout)[0] == "canary rollout prod: v2 at 10%"
    assert len(warnings) == 1 and warnings[0].startswith("warning: git pull: ") and "the rollout goes on" in warnings[0]


# --- the CI decision, on three pushes ----------------------------------------------------------


def ci_decides(remote: Path, tmp_path: Path, tags: MemoryTags, wall: Callable[[], datetime.datetime]) -> Any:
    """What CI does on a push: a fresh clone of main, its stack file, the backend's tags."""
    clone = tmp_path / f"ci-{len(list(tmp_path.glob('ci-*')))}"
    git(tmp_path, "clone", "--quiet", str(remote), str(clone))
    settings = parse_settings(stack_config(clone, "prod"))
    return decide(settings, tags.read(), ReleaseLock(tags, "prod", holder="", wall=wall).stale)


def push_change(checkout: Path, path: str, edit: Callable[[str], str], message: str) -> None:
    file = checkout / path
    file.write_text(edit(file.read_text() if file.exists() else ""))
    git(checkout, "add", path)
    git(checkout, "commit", "--quiet", "-m", message)
    git(checkout, "push", "--quiet")


def test_ci_starts_on_a_new_canary_image_refuses_during_a_rollout_and_ignores_an_unrelated_commit(tmp_path):
    now = datetime.datetime(2026, 12, 7, 4, 0, tzinfo=datetime.UTC)
    wall = lambda: now  # noqa: E731
    tags = MemoryTags()
    remote, checkout = remote_and_checkout(tmp_path)
    # The release before: v2 with image 2.0 was rolled out and rolled back.
    settings = parse_settings(stack_config(checkout, "prod"))
    tags.write(release_tags.LAST, release_tags.encode(last_record(settings, "rolled back", "2026-12-06T10:00:00Z")))
    first = ci_decides(remote, tmp_path, tags, wall)
    assert (first.action, first.exit_code) == ("nothing", exit_status.OK)

    # Push 1: the canary's image changes. CI starts a rollout.
    push_change(checkout, "Pulumi.prod.yaml", lambda text: text.replace("web:2.0", "web:2.1"), "web 2.1 as canary")
    start = ci_decides(remote, tmp_path, tags, wall)
    assert (start.action, start.exit_code) == ("start", exit_status.START)
    assert start.reason == "v2 with this image has not been rolled out: start"

    # The rollout runs (it holds the lock) when push 2 arrives: refused, naming the rollout.
    lock = ReleaseLock(tags, "prod", holder="ci@runner-1 pid 40", wall=wall, sleep=lambda s: None).acquire()
    push_change(checkout, "README.md", lambda text: text + "More words.\n", "docs: more words")
    refused = ci_decides(remote, tmp_path, tags, wall)
    assert (refused.action, refused.exit_code) == ("locked", exit_status.LOCKED)
    assert refused.reason.startswith(
        "refused: a rollout of this stack is running (ci@runner-1 pid 40, since 2026-12-07T04:00:00Z)"
    )

    # It ends rolled back (its record names the canary); the lock is released.
    rolled_back = parse_settings(stack_config(tmp_path / "ci-1", "prod"))
    tags.write(release_tags.LAST, release_tags.encode(last_record(rolled_back, "rolled back", "2026-12-07T04:00:00Z")))
    lock.release()

    # Push 3: unrelated to the canary. Nothing to do: v2 with 2.1 was judged already.
    push_change(checkout, "README.md", lambda text: text + "Even more.\n", "docs: even more")
    quiet = ci_decides(remote, tmp_path, tags, wall)
    assert (quiet.action, quiet.exit_code) == ("nothing", exit_status.OK)
    assert "v2 with this image was already rolled out (rolled back" in quiet.reason
    assert json.loads(json.dumps(quiet.to_json()))["exit_status"] == 0


def test_ci_resumes_a_rollout_left_part_way_and_does_nothing_once_promoted(tmp_path):
    now = datetime.datetime(2026, 12, 7, 4, 0, tzinfo=datetime.UTC)
    tags = MemoryTags()
    remote, checkout = remote_and_checkout(tmp_path)
    push_change(
        checkout, "Pulumi.prod.yaml", lambda text: text.replace("version: v2", "version: v2\n    weight: 25"), "at 25"
    )
    resume = ci_decides(remote, tmp_path, tags, lambda: now)
    assert (resume.action, resume.exit_code) == ("resume", exit_status.RESUME)
    # A lock left by a runner that died 20 minutes ago is stale: resume, not refused.
    ReleaseLock(tags, "prod", holder="ci@gone", wall=lambda: now - datetime.timedelta(minutes=20),
                sleep=lambda s: None).acquire()  # fmt: skip
    assert ci_decides(remote, tmp_path, tags, lambda: now).action == "resume"
    run_rollout(checkout, (25, 50))  # promotes and retires, pushing each step
    done = ci_decides(remote, tmp_path, tags, lambda: now)
    assert (done.action, done.reason) == ("nothing", "no canary in the stack file (stable v2)")
