"""One rollout per stack at a time: an exclusive lock on a file beside the stack file.

The lock is the kernel's (flock), so a rollout that crashes or is killed releases it with its
process; the file itself stays, naming the last holder.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import IO


class LockedError(Exception):
    """Another rollout of the stack holds the lock; the message is one line."""


class StackLock:
    def __init__(self, project_dir: Path, stack: str) -> None:
        self.path = project_dir / f".canary-rollout.{stack}.lock"
        self._file: IO[str] | None = None

    def __enter__(self) -> StackLock:
        # Never through a link (a planted `.canary-rollout.prod.lock -> ../victim` would be
        # truncated), and only a regular file: a FIFO or a device is no lock.
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            descriptor = os.open(self.path, flags, 0o644)
        except OSError as err:
            reason = "is a link" if err.errno == errno.ELOOP else (err.strerror or str(err))
            raise LockedError(f"cannot take the lock {self.path}: {reason}; remove it") from None
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise LockedError(f"cannot take the lock {self.path}: it is not a regular file; remove it")
        os.set_blocking(descriptor, True)
        handle = os.fdopen(descriptor, "r+")
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
