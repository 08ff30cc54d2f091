"""The Pulumi stack a rollout drives (`ReleaseStack`), and the Automation API's LocalWorkspace that drives it.

Every change is a stack config change written to `Pulumi.<stack>.yaml` (as `pulumi config set`
writes it) followed by `pulumi up`; the stack file is always where the release stands.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from canary.config import PROJECT, StackSettings, parse_settings
from canary.config.files import stack_config
from canary.rollout.lock import process_alive
from canary.rollout.release_tags import AutomationTags


class UpdateFailedError(Exception):
    """`pulumi up` failed (the cluster unreachable, say); the message is the engine's error line."""


class StackError(Exception):
    """The stack cannot be read, or is in a state a person must resolve; nothing was changed.
    The message is one line and names the command to run where one is needed."""


@dataclass(frozen=True)
class StackLockHolder:
    """One lock on the stack: the update that took it, as the lock file names it."""

    user: str
    host: str
    pid: int
    since: str

    def __str__(self) -> str:
        return f"pulumi, pid {self.pid} on {self.host} as {self.user}, since {self.since}"


def file_backend_lock_holders(backend_url: str, project: str, stack: str) -> list[StackLockHolder]:
    """Who holds the stack's locks in a file backend (`file://PATH`): one JSON file per lock under
    `.pulumi/locks/`, as the CLI writes it (pid, username, hostname, timestamp). Other backends keep
    their locks where only the CLI reads them: none are listed for them."""
    if not backend_url.startswith("file://"):
        return []
    root = Path(os.path.expanduser(urllib.parse.unquote(backend_url.removeprefix("file://")))) / ".pulumi" / "locks"
    # Project-scoped stacks (`<org>/<project>/<stack>`), then the older layout without projects.
    files = sorted(root.glob(f"*/{project}/{stack}/*.json")) or sorted((root / stack).glob("*.json"))
    holders = []
    for path in files:
        try:
            lock = json.loads(path.read_text())
            holders.append(
                StackLockHolder(str(lock["username"]), str(lock["hostname"]), int(lock["pid"]), str(lock["timestamp"]))
            )
        except (OSError, ValueError, KeyError, TypeError):
            holders.append(StackLockHolder("?", "?", 0, f"unreadable lock file {path}"))
    return holders


def stale(holders: Iterable[StackLockHolder], host: str, alive: Callable[[int], bool] = process_alive) -> bool:
    """Whether every lock was left by a process of this machine that no longer runs: only then is
    removing the lock safe without asking anyone."""
    holders = list(holders)
    return bool(holders) and all(h.host == host and not alive(h.pid) for h in holders)


def error_line(text: str) -> str:
    """The line of the CLI's output that says what failed, rather than that something did."""
    lines = [line.strip() for line in text.replace("\\n", "\n").splitlines()]
    errors = []
    for index, line in enumerate(lines):
        if found := re.search(r"\berror: (.*)", line):
            error = found[1].strip()
            # "1 error occurred:" names its error on the next line ("* the API server ...").
            following = next((rest for rest in lines[index + 1 :] if rest), "")
            errors.append(f"{error} {following.lstrip('* ')}" if error.endswith(":") and following else error)
    specific = [error for error in errors if not re.fullmatch(r"(update|preview|refresh) failed", error)]
    return (specific or errors or [line for line in lines if line] or ["no output"])[0]


@dataclass(frozen=True)
class Change:
    """One step of an update the engine plans: `update` of `VirtualService` `nginx-virtualservice`."""

    op: str
    type: str
    name: str

    def __str__(self) -> str:
        return f"{self.op} {self.type.rsplit(':', 1)[-1]} {self.name}"


@dataclass(frozen=True)
class Update:
    """What one `pulumi up` did, and the stack's outputs after it."""

    changes: dict[str, int]
    """Resources per operation, `same` left out."""
    outputs: dict[str, Any] = field(default_factory=dict)


class ReleaseStack(Protocol):
    name: str

    def settings(self) -> StackSettings:
        """The stack config as it stands, validated."""
        ...

    def pending(self) -> list[Change]:
        """What an update would change now (a preview)."""
        ...

    def set_weight(self, weight: int) -> None: ...

    def promote(self, version: str) -> None:
        """Make `version` the stable one and end the canary."""
        ...

    def retire(self, version: str) -> None:
        """Remove `version` from the versions deployed."""
        ...

    def up(self, message: str, on_output: Callable[[str], None] | None = None) -> Update:
        """Raises UpdateFailedError when the update fails."""
        ...

    def recover(self) -> list[str]:
        """Clear what an interrupted update left (the stack's lock, pending operations), before any
        change; what was found and done, a line each. Raises StackError when a person must act."""
        ...


class AutomationStack:
    """A stack of this project, selected in a LocalWorkspace on the project directory."""

    def __init__(self, project_dir: Path, name: str) -> None:
        # Imported here: the Automation API is only needed once a rollout really runs.
        from pulumi import automation

        from canary.rollout.bounded_pulumi import BoundedPulumiCommand

        self.name = name
        self._project_dir = project_dir
        self._automation = automation
        # Every CLI command it runs is bounded: a stack output, export or tag list printing
        # without end stops with an error naming it, instead of filling the memory.
        try:
            command = BoundedPulumiCommand()
        except (automation.CommandError, automation.errors.InvalidVersionError) as err:
            raise StackError(f"cannot run the Pulumi CLI: {error_line(str(err))}") from None
        workspace = automation.LocalWorkspaceOptions(pulumi_command=command)
        self._stack = automation.select_stack(stack_name=name, work_dir=str(project_dir), opts=workspace)

    def settings(self) -> StackSettings:
        return parse_settings(stack_config(self._project_dir, self.name))

    def pending(self) -> list[Change]:
        changes: list[Change] = []

        def collect(event: Any) -> None:
            pre = event.resource_pre_event
            if pre is not None and pre.metadata.op.value != "same":
                metadata = pre.metadata
                changes.append(Change(op=metadata.op.value, type=metadata.type, name=metadata.urn.rsplit("::", 1)[-1]))

        try:
            self._stack.preview(on_event=collect, color="never")
        except self._automation.CommandError as err:
            raise StackError(f"cannot preview stack {self.name}: {error_line(str(err))}; nothing changed") from None
        return changes

    def _set(self, key: str, value: str, *, path: bool = False) -> None:
        self._stack.set_config(f"{PROJECT}:{key}", self._automation.ConfigValue(value=value), path=path)

    def set_weight(self, weight: int) -> None:
        self._set("canary.weight", str(weight), path=True)

    def promote(self, version: str) -> None:
        self._set("stable", version)
        # Pulumi.yaml's default for `canary` is {}: without the key there is no canary.
        self._stack.remove_config(f"{PROJECT}:canary")

    def retire(self, version: str) -> None:
        names = [v.name for v in self.settings().versions]
        self._stack.remove_config(f"{PROJECT}:versions[{names.index(version)}]", path=True)

    def config_value(self, key: str) -> tuple[str, bool] | None:
        """A config key's value as the CLI decrypts it, and whether it is stored as a secret."""
        found = self._stack.get_all_config().get(key)
        return None if found is None else (found.value, bool(found.secret))

    def tags(self) -> AutomationTags:
        """The stack's tags in its backend: where the release's shared records live."""
        return AutomationTags(self._stack.workspace, self.name)

    def who(self) -> str:
        """Who runs this, for "aborted by ...": the backend's user (`pulumi whoami`) at this host."""
        try:
            user = self._stack.workspace.who_am_i().user
        except Exception:  # whoami fails only on a backend it cannot reach; the tags would fail after it
            user = getpass.getuser()
        return f"{user}@{socket.gethostname()}"

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs as the last update left them (empty for a stack never deployed)."""
        try:
            outputs = self._stack.outputs()
        except self._automation.CommandError as err:
            raise StackError(f"cannot read the outputs of stack {self.name}: {error_line(str(err))}") from None
        return {key: output.value for key, output in outputs.items()}

    def up(self, message: str, on_output: Callable[[str], None] | None = None) -> Update:
        try:
            result = self._stack.up(message=message, on_output=on_output, color="never")
        except self._automation.CommandError as err:
            raise UpdateFailedError(error_line(str(err))) from None
        changes = {str(op): n for op, n in (result.summary.resource_changes or {}).items() if op != "same" and n}
        outputs = {key: output.value for key, output in result.outputs.items()}
        return Update(changes=changes, outputs=outputs)

    def recover(self) -> list[str]:
        notes: list[str] = []
        automation = self._automation
        try:
            backend_url = self._stack.workspace.who_am_i().url or ""
            project = self._stack.workspace.project_settings().name
        except automation.CommandError as err:
            raise StackError(f"cannot read stack {self.name}: {error_line(str(err))}") from None
        # A lock in another kind of backend shows at the first update, which then fails closed.
        if holders := file_backend_lock_holders(backend_url, project, self.name):
            described = "; ".join(str(holder) for holder in holders)
            if not stale(holders, socket.gethostname()):
                raise StackError(
                    f"stack {self.name} is locked by {described}: wait for that update to end; if it is gone, "
                    f"run `pulumi cancel --stack {self.name} --yes`, then the rollout again"
                )
            self._stack.cancel()
            notes.append(
                f"found stack {self.name} locked by an update that no longer runs ({described}): "
                "lock removed (`pulumi cancel`)"
            )
        deployment = self._stack.export_stack().deployment or {}
        pending = deployment.get("pending_operations") or []
        if pending:
            described = ", ".join(
                f"{op.get('type', '?')} {op.get('resource', {}).get('urn', '?').rsplit('::', 1)[-1]}" for op in pending
            )
            if any(op.get("type") == "creating" for op in pending):
                raise StackError(
                    f"stack {self.name} has operations an interrupted update left pending ({described}): check "
                    "whether those objects exist, then run "
                    f"`pulumi refresh --stack {self.name} --clear-pending-creates` (or --import-pending-creates), "
                    "then the rollout again"
                )
            try:
                self._stack.refresh(color="never", message="canary rollout: clear an interrupted update")
            except automation.CommandError as err:
                raise StackError(
                    f"stack {self.name} has operations an interrupted update left pending ({described}), and "
                    f"`pulumi refresh` failed: {error_line(str(err))}"
                ) from None
            notes.append(
                f"found operations an interrupted update left pending ({described}): "
                "the stack's state read back from the cluster (`pulumi refresh`), which clears them"
            )
        return notes
