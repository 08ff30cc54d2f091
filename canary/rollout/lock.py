"""One rollout per stack at a time: an exclusive lock on a file beside the stack file.

The lock is the kernel's (flock), so a rollout that crashes or is killed releases it with its
process; the file itself stays, naming the last holder.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO


class LockedError(Exception):
    """Another rollout of the stack holds the lock; the message is one line."""


class StackLock:
    def __init__(self, project_dir: Path, stack: str) -> None:
        self.path = project_dir / f".canary-rollout.{stack}.lock"
        self._file: IO[str] | None = None

    def __enter__(self) -> StackLock:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise LockedError(f"another rollout of this stack is running ({holder}, lock {self.path})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
