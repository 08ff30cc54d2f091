"""Operating a rollout for real: a pause approved from a second process, an abort while paused, the
notifications a receiver on loopback gets, and `--git-push`/`--decide` against a local bare
repository. The real CLI, the local backend's stack tags, the local cluster, a real Prometheus."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.support.rollout import Mesh, assert_all_agree, command, messages, stack_file
from tests.support.loopback_http import serving
from tests.support.stack import Result, Workspace, run

WAITING = "canary-rollout:waiting"


def tags(workspace: Workspace) -> dict[str, str]:
    """The stack's tags as the backend holds them."""
    listed = json.loads(workspace.pulumi("stack", "tag", "ls", "--json").check().stdout)
    return {key: value for key, value in listed.items()}


def wait_for_tag(workspace: Workspace, key: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = tags(workspace).get(key)
        if value:
            return json.loads(value)  # type: ignore[no-any-return]
        time.sleep(1)
    raise AssertionError(f"no tag {key} within {timeout}s")


def canary(workspace: Workspace, *flags: str, cwd: Path | None = None) -> Result:
    """A second process: `canary rollout --stack S <flags>`."""
    python = str(workspace.root / "venv" / "bin" / "python")
    return run([python, "-m", "canary", "rollout", "--stack", workspace.stack, *flags], cwd=cwd or workspace.root)


def start(workspace: Workspace, mesh: Mesh, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(workspace, mesh, *flags),
        cwd=workspace.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(running: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    out, err = running.communicate(timeout=600)
    return running.returncode, (json.loads(out) if out.strip() else {}), err


def ok(_: Any) -> tuple[int, dict[str, Any]]:
    return 200, {}


def test_a_pause_approved_from_a_second_process_promotes_and_each_event_is_notified(
    release: Workspace, mesh: Mesh
) -> None:
    with serving(ok) as (receiver, received):
        notify = receiver.replace("http://", "json://") + "/events"
        running = start(release, mesh, "--steps", "10,pause,50", "--promote", "--notify", notify)
        waiting = wait_for_tag(release, WAITING)
        assert (waiting["step"], waiting["weight"]) == (1, 10)
        assert waiting["what"] == "an approval (canary rollout --approve)" and waiting["since"].endswith("Z")
        # Paused: the weight holds at 10 % while nobody approves.
        time.sleep(8)
        assert stack_file(release)["canary"]["weight"] == 10
        approved = canary(release, "--approve")
        assert approved.returncode == 0, approved.output
        assert approved.stdout.startswith(f"approved: the rollout of stack {release.stack} waiting since")
        code, report, log = finish(running)
    print(log)
    assert (code, report["outcome"]) == (0, "promoted"), log
    (wait,) = report["waits"]
    assert (wait["kind"], wait["outcome"], wait["weight"]) == ("approval", "approved", 10)
    assert "@" in wait["by"] and wait["ended"] > wait["since"]
    assert report["waiting"] is None
    # The analysis kept polling while it waited.
    paused = [p for p in report["polls"] if p["seconds"] > report["steps"][0]["ended_seconds"] + 1]
    assert paused and paused[0]["weight"] == 10
    assert messages(release)[-3:] == [
        "canary rollout: v2 at 10%",
        "canary rollout: v2 at 50%",
        "canary rollout: promote v2",
    ]
    assert WAITING not in tags(release) and "canary-rollout:lock" not in tags(release)
    # What the receiver on loopback heard, in order.
    events = [body for path, body in received if path == "/events"]
    titles = [event["title"].removeprefix(f"{release.stack}: canary v2 ") for event in events]
    # A hold (the analysis' own call on thin or shared evidence) may come in between; it is its event.
    assert [title for title in titles if title != "held"] == [
        "started", "step passed", "waiting", "step passed", "promoted",
    ]  # fmt: skip
    waiting = next(event for event in events if event["title"].endswith(" waiting"))
    assert waiting["message"].startswith("Waiting at 10% for an approval (canary rollout --approve) since ")
    assert f"canary rollout --stack {release.stack} --approve" in waiting["message"]
    assert events[-1]["message"].startswith("Verdict: promoted: v2 is the stable version.")
    assert events[-1]["type"] == "success"


def test_an_abort_while_paused_rolls_back_now_naming_who(release: Workspace, mesh: Mesh, tmp_path: Path) -> None:
    with serving(ok) as (receiver, received):
        notify = receiver.replace("http://", "json://") + "/events"
        running = start(release, mesh, "--steps", "10,pause,50", "--promote", "--notify", notify)
        wait_for_tag(release, WAITING)
        seen = canary(release, "--status")
        assert seen.returncode == 0 and f"a rollout of stack {release.stack} is running: " in seen.stdout, seen.output
        assert "; waiting at step 1 (10%) for an approval (canary rollout --approve) since " in seen.stdout
        # A second rollout meanwhile, from another copy of the project (another machine: the local
        # lock file is not there), sharing the backend: refused by the lock in the stack's tags.
        elsewhere = tmp_path / "elsewhere"
        shutil.copytree(release.root, elsewhere, symlinks=True, ignore=shutil.ignore_patterns(".canary-rollout.*"))
        second = subprocess.run(
            command(release, mesh), cwd=elsewhere, capture_output=True, text=True, timeout=300, check=False
        )
        assert second.returncode == 2, second.stderr
        assert f"a rollout of stack {release.stack} is running (" in second.stderr, second.stderr
        assert f"stop it with `canary rollout --stack {release.stack} --abort`" in second.stderr
        aborted = canary(release, "--abort")
        assert aborted.returncode == 0 and "with the reason 'aborted by " in aborted.stdout, aborted.output
        code, report, log = finish(running)
    assert (code, report["outcome"]) == (1, "rolled back"), log
    assert report["reason"].startswith("aborted by ") and "@" in report["reason"]
    assert report["waits"][0]["outcome"] == "aborted"
    assert stack_file(release)["canary"]["weight"] == 0
    assert_all_agree(release, {"v1": 100}, "canary rollout: roll back v2")
    last = [body for path, body in received if path == "/events"][-1]
    assert last["title"].endswith("rolled back to 0%") and last["message"].startswith("Verdict: rolled back after ")
    assert "aborted by " in last["message"] and last["type"] == "failure"
    # Nothing waits any more: an approval now is refused, naming the stack.
    late = canary(release, "--approve")
    assert late.returncode == 2 and f"no rollout of stack {release.stack} is waiting" in late.stderr


def test_a_webhook_kept_as_a_stack_secret_with_its_credentials_in_the_url_approves_each_step_unseen(
    release: Workspace, mesh: Mesh, tmp_path: Path
) -> None:
    token = "tok-" + secrets.token_hex(12)
    password = "pw-" + secrets.token_hex(8)
    basic = "Basic " + base64.b64encode(f"gate:{password}".encode()).decode()
    heard: list[tuple[str, str, str | None]] = []

    def gatekeeper(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        # Approves only a POST that carries both credentials, as a hosted gate would.
        heard.append((request.command, request.path, request.headers.get("Authorization")))
        approved = request.path == f"/gate?token={token}" and request.headers.get("Authorization") == basic
        return (200, {}) if approved else (401, {})

    with serving(gatekeeper) as (receiver, _):
        webhook = receiver.replace("http://", f"http://gate:{password}@") + f"/gate?token={token}"
        release.pulumi("config", "set", "--secret", "--path", "istio-canary:rollout.webhook", webhook).check()
        assert token not in release.stack_file.read_text() and password not in release.stack_file.read_text()
        page = tmp_path / "rollout.html"
        code, report, log = finish(start(release, mesh, "--promote", "--report", str(page)))
    print(log)
    assert (code, report["outcome"]) == (0, "promoted"), log
    # Reached before anything moved (the preflight's HEAD), then asked once a step, each time with
    # the secret's token and password, and approved each.
    asked = (f"/gate?token={token}", basic)
    assert heard == [("HEAD", *asked), ("POST", *asked), ("POST", *asked)], heard
    for step in report["steps"]:
        webhook_gate = next(gate for gate in step["gates"] if gate["gate"] == "webhook")
        assert webhook_gate["ok"] and webhook_gate["figures"] == {"status": 200}, webhook_gate
    assert_all_agree(release, {"v2": 100}, "canary rollout: promote v2")
    html = page.read_text()
    for shown in (log, json.dumps(report), html):
        assert token not in shown and password not in shown and basic.split()[1] not in shown


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "Dev",
           "GIT_COMMITTER_EMAIL": "dev@example.com"}  # fmt: skip
    return run(["git", *args], cwd=cwd, env=env).check().stdout.strip()


def decide(workspace: Workspace, clone: Path) -> Result:
    """CI on a push: `--decide` in a fresh checkout of the pushed commit, the same backend."""
    (clone / "venv").symlink_to(workspace.root / "venv")
    return canary(workspace, "--decide", cwd=clone)


def test_git_push_leaves_a_commit_per_step_and_decide_answers_three_pushes(
    release: Workspace, mesh: Mesh, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    (release.root / ".gitignore").write_text("venv\n__pycache__/\n*.lock\n")
    git(release.root, "init", "--quiet", "--initial-branch=main")
    # The rollout commits with the checkout's own identity, as a CI job sets it.
    git(release.root, "config", "user.name", "canary rollout")
    git(release.root, "config", "user.email", "canary-rollout@example.com")
    git(release.root, "add", ".")
    git(release.root, "commit", "--quiet", "-m", "the release")
    git(release.root, "remote", "add", "origin", str(remote))
    git(release.root, "push", "--quiet", "-u", "origin", "main")
    clones = iter(range(10))

    def push_and_decide(path: str, edit: Any, message: str) -> Result:
        developer = tmp_path / f"dev-{next(clones)}"
        git(tmp_path, "clone", "--quiet", str(remote), str(developer))
        target = developer / path
        target.write_text(edit(target.read_text() if target.exists() else ""))
        git(developer, "add", path)
        git(developer, "commit", "--quiet", "-m", message)
        git(developer, "push", "--quiet")
        ci = tmp_path / f"ci-{message.replace(' ', '-')}"
        git(tmp_path, "clone", "--quiet", str(remote), str(ci))
        return decide(release, ci)

    # Push 1: the canary's image changes. CI: start (10).
    image = yaml.safe_load(release.stack_file.read_text())["config"]["istio-canary:versions"][1]["image"]
    first = push_and_decide(
        release.stack_file.name, lambda text: text.replace(image, image + "-rc2"), "v2 rc2 as the canary"
    )
    assert (first.returncode, first.stdout.split(":")[0]) == (10, "start"), first.output
    git(release.root, "pull", "--quiet")
    release.up().check()  # the new canary image at 0 %, as the pipeline runs it before the rollout

    running = start(release, mesh, "--steps", "10,pause,50", "--promote", "--git-push")
    wait_for_tag(release, WAITING)
    # Push 2, during the rollout: refused by the lock (75), naming the rollout.
    second = push_and_decide("README.md", lambda text: text + "Notes.\n", "notes")
    assert second.returncode == 75, second.output
    assert second.stdout.startswith("locked: refused: a rollout of this stack is running ("), second.stdout
    assert canary(release, "--approve").returncode == 0
    code, report, log = finish(running)
    assert (code, report["outcome"]) == (0, "promoted"), log
    subjects = git(remote, "log", "--format=%s", "main").splitlines()
    # One commit per change the rollout wrote; the developers' notes commit is in between (pulled on push).
    rollout_commits = [s for s in subjects if s.startswith("canary rollout ")]
    assert rollout_commits == [
        f"canary rollout {release.stack}: promote v2",
        f"canary rollout {release.stack}: v2 at 50%",
        f"canary rollout {release.stack}: v2 at 10%",
    ], subjects
    # Push 3: unrelated. CI: nothing (0): the canary was promoted.
    third = push_and_decide("README.md", lambda text: text + "More notes.\n", "more notes")
    assert (third.returncode, third.stdout.strip()) == (0, "nothing: no canary in the stack file (stable v2)")
