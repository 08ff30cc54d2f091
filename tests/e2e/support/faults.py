"""What the fault tests share: waiting for a condition, what the file backend holds while an
update runs (its lock, the stack's pending operations), whether a process still runs, and a
rollout started in the background.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.support.rollout import Mesh, command, stack_file
from tests.support.stack import Workspace


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"no {what} within {timeout}s")


def backend_locks(workspace: Workspace) -> list[Path]:
    """The lock files the file backend holds for this stack (one while an update runs)."""
    backend = Path(os.environ["PULUMI_BACKEND_URL"].removeprefix("file://"))
    return sorted((backend / ".pulumi" / "locks").glob(f"*/*/{workspace.stack}/*.json"))


def pending_operations(workspace: Workspace) -> list[dict[str, Any]]:
    return workspace.exported_state()["deployment"].get("pending_operations") or []


def weight_in_stack_file(workspace: Workspace) -> int:
    return int((stack_file(workspace).get("canary") or {}).get("weight", 0))


def is_running(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie has, whoever reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def start_rollout(workspace: Workspace, mesh: Mesh, tmp_path: Path, *flags: str) -> subprocess.Popen[bytes]:
    """The rollout in a process group of its own (the Pulumi CLI joins it; its plugins each get
    a group of their own), its output to files: a pipe left unread for a minute could fill and
    stall it."""
    return subprocess.Popen(
        command(workspace, mesh, *flags),
        cwd=workspace.root,
        stdout=(tmp_path / "rollout.json").open("wb"),
        stderr=(tmp_path / "rollout.log").open("wb"),
        start_new_session=True,
    )
