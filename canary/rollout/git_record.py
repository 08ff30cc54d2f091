"""`--git-commit` and `--git-push`: each change the rollout writes to `Pulumi.<stack>.yaml` (a weight,
the promotion, the retirement, the rollback) becomes one commit, pushed when asked.

A pipeline or a Pulumi Kubernetes Operator that applies the repository then applies what the
rollout did, instead of reverting it to the weight of the last human commit. The commit follows
the step's `pulumi up`, so the repository never says more than the cluster was given. Only the
stack file is committed (`git commit --only`): whatever else is staged or edited in the checkout
stays as it was. Each commit says `[skip ci]`, which GitHub Actions and GitLab CI read as "start
no pipeline": the rollout's own pushes must not start a second rollout. When the remote moved on meanwhile (a
colleague pushed), the commit is replayed on it (`git pull --rebase`) and pushed again, once.

Git is run as a subprocess (`git` on PATH), with the checkout's own identity and remotes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from canary.config import StackSettings
from canary.rollout.pulumi_stack import Change, ReleaseStack, Update
from canary.support.bounded_run import MEBIBYTE, CommandOutputError, Finished, run_bounded

SKIP_CI = "[skip ci]"


class GitError(Exception):
    """Git cannot do what was asked; the message is one line."""


Runner = Callable[[Sequence[str], Path], Finished]
MAX_OUTPUT_BYTES = 16 * MEBIBYTE
"""Far more than the quiet commands here write; what a git gone astray (a hook printing without
end, say) may write before it is stopped."""
TIMEOUT = 120


def _git(args: Sequence[str], cwd: Path) -> Finished:
    try:
        return run_bounded(["git", *args], limit=MAX_OUTPUT_BYTES, timeout=TIMEOUT, cwd=cwd)
    except (CommandOutputError, OSError) as err:
        raise GitError(str(err)) from None


def _last_line(result: Finished) -> str:
    text = (result.stderr or result.stdout).strip()
    return text.splitlines()[-1].strip() if text else f"exit status {result.returncode}"


@dataclass
class GitRecorder:
    """Commits the stack file of `stack` in the checkout holding `project_dir`."""

    project_dir: Path
    stack: str
    push: bool = False
    warn: Callable[[str], None] = lambda line: None
    run: Runner = _git

    @property
    def stack_file(self) -> Path:
        return self.project_dir / f"Pulumi.{self.stack}.yaml"

    def _ok(self, *args: str) -> Finished:
        result = self.run(args, self.project_dir)
        if result.returncode != 0:
            raise GitError(f"git {args[0]}: {_last_line(result)}")
        return result

    def problem(self) -> str | None:
        """Why the rollout could not commit (and push) its changes, checked before anything changes."""
        flag = "--git-push" if self.push else "--git-commit"
        try:
            return self._problem(flag)
        except GitError as err:
            return f"{flag}: {err}"

    def _problem(self, flag: str) -> str | None:
        inside = self.run(["rev-parse", "--is-inside-work-tree"], self.project_dir)
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return f"{flag}: {self.project_dir} is not in a Git checkout"
        name = self.stack_file.name
        if self.run(["ls-files", "--error-unmatch", name], self.project_dir).returncode != 0:
            return f"{flag}: {name} is not tracked by Git; commit it first"
        if self.run(["diff", "--quiet", "HEAD", "--", name], self.project_dir).returncode != 0:
            return f"{flag}: {name} has changes not committed; commit them first, so that each commit is one step"
        identity = self.run(["var", "GIT_COMMITTER_IDENT"], self.project_dir)
        if identity.returncode != 0:
            return f"{flag}: Git has no committer identity here: set user.name and user.email"
        if self.push and self.run(["rev-parse", "--abbrev-ref", "@{upstream}"], self.project_dir).returncode != 0:
            return f"{flag}: the checked-out branch has no upstream to push to (git push -u REMOTE BRANCH once)"
        return None

    def commit(self, subject: str) -> None:
        """One commit of the stack file, if it changed; then a push when asked. A failure is a warning:
        the rollout's verdict matters more than its record, and the next commit carries this change."""
        name = self.stack_file.name
        try:
            if self.run(["diff", "--quiet", "HEAD", "--", name], self.project_dir).returncode == 0:
                return
            body = f"Written by `canary rollout --git-commit`: {name} says where the release stands.\n\n{SKIP_CI}"
            self._ok("commit", "--only", "--quiet", "-m", subject, "-m", body, "--", name)
            if self.push:
                self._push()
        except GitError as err:
            self.warn(f"warning: {err}; the rollout goes on")

    def _push(self) -> None:
        """Push; when the remote moved on (someone pushed meanwhile), replay this commit on it once."""
        if self.run(["push", "--quiet"], self.project_dir).returncode == 0:
            return
        self._ok("pull", "--rebase", "--autostash", "--quiet")
        self._ok("push", "--quiet")


def commit_subject(stack: str, message: str) -> str:
    """The engine's update message as a commit subject naming the stack:
    `canary rollout: v2 at 10%` -> `canary rollout prod: v2 at 10%`."""
    return message.replace("canary rollout:", f"canary rollout {stack}:", 1)


class CommittingStack:
    """A `ReleaseStack` whose every update is followed by a commit of the stack file."""

    def __init__(self, stack: ReleaseStack, recorder: GitRecorder) -> None:
        self._stack = stack
        self._recorder = recorder
        self.name = stack.name

    def settings(self) -> StackSettings:
        return self._stack.settings()

    def pending(self) -> list[Change]:
        return self._stack.pending()

    def recover(self) -> list[str]:
        return self._stack.recover()

    def set_weight(self, weight: int) -> None:
        self._stack.set_weight(weight)

    def promote(self, version: str) -> None:
        self._stack.promote(version)

    def retire(self, version: str) -> None:
        self._stack.retire(version)

    def up(self, message: str, on_output: Callable[[str], None] | None = None) -> Update:
        update = self._stack.up(message, on_output)
        self._recorder.commit(commit_subject(self.name, message))
        return update
