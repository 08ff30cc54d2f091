"""One rollout per stack at a time: on this machine, an exclusive lock on a file beside the stack
file; across machines, a lease in the stack's tags, where the release's shared state lives.

The file lock is the kernel's (flock), so a rollout that crashes or is killed releases it with its
process; the file itself stays, naming the last holder. The file cannot be seen from another
machine (a CI runner, a colleague's laptop), so the release lock (`ReleaseLock`) is kept in the
stack's backend too.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from canary.rollout import release_tags
from canary.rollout.release_tags import TagStore, decode, encode


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


LEASE_SECONDS = 900.0
"""A release lock not renewed for this long is stale: its holder died without releasing it (a
killed runner, a machine gone). Longer than any one `pulumi up` or split gate, between which the
running rollout renews it."""
RENEW_SECONDS = 60.0
SETTLE_SECONDS = 5.0
"""After writing the lock, how long to wait before reading it back. Tags have no compare-and-swap,
so two rollouts starting together could both find it free; the one whose record was overwritten
sees so on reading back and gives up before changing anything. This holds when a tag write lands
within this time of the read before it (each is one Pulumi CLI call, about a second)."""


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


# How a rollout names itself as a lock's holder: `user@host pid N`.
_HOLDER = re.compile(r"@(?P<host>[^\s@]+) pid (?P<pid>\d+)\Z")


def holder_gone(holder: str, host: str, alive: Callable[[int], bool] = process_alive) -> bool:
    """Whether a lock's holder ran on this machine and no longer runs (killed, crashed): its lock
    is stale at once, with no lease to wait out."""
    found = _HOLDER.search(holder)
    return found is not None and found["host"] == host and not alive(int(found["pid"]))


def _iso(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse(text: object) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def describe_holder(record: dict[str, Any]) -> str:
    return f"{record.get('holder', 'someone')}, since {record.get('since', '?')}"


class ReleaseLock:
    """One rollout per stack across machines: a lease kept in the stack's tags (`release_tags`).

    The record names the holder and its run id (which `--abort` addresses); the holder renews it
    while it runs (`renew`, called by the control loop) and removes it when done. A record not
    renewed for LEASE_SECONDS is stale and may be taken over, and so at once is a record whose
    holder ran on this machine and no longer runs (`holder_gone`).
    """

    def __init__(
        self,
        tags: TagStore,
        stack: str,
        holder: str,
        wall: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        sleep: Callable[[float], None] = time.sleep,
        run: str | None = None,
        host: str | None = None,
        alive: Callable[[int], bool] = process_alive,
    ) -> None:
        self._tags, self._stack, self._holder = tags, stack, holder
        self._host, self._alive = host or socket.gethostname(), alive
        self._wall, self._sleep = wall, sleep
        self.run = run or secrets.token_hex(6)
        self._since = ""
        self._renewed: datetime.datetime | None = None
        self.took_over: dict[str, Any] | None = None
        """The stale record this lock replaced, if any."""

    def _record(self) -> str:
        now = self._wall()
        self._renewed = now
        return encode({"run": self.run, "holder": self._holder, "since": self._since, "renewed": _iso(now)})

    def current(self) -> dict[str, Any] | None:
        return decode(self._tags.read().get(release_tags.LOCK))

    def stale(self, record: dict[str, Any]) -> bool:
        renewed = _parse(record.get("renewed"))
        if renewed is None or (self._wall() - renewed).total_seconds() > LEASE_SECONDS:
            return True
        return holder_gone(str(record.get("holder", "")), self._host, self._alive)

    def acquire(self) -> ReleaseLock:
        held = self.current()
        if held is not None and not self.stale(held):
            raise LockedError(
                f"a rollout of stack {self._stack} is running ({describe_holder(held)}; "
                f"lock renewed {held.get('renewed', '?')}): wait for it, or stop it with "
                f"`canary rollout --stack {self._stack} --abort`"
            )
        self.took_over = held
        self._since = _iso(self._wall())
        self._tags.write(release_tags.LOCK, self._record())
        self._sleep(SETTLE_SECONDS)
        back = self.current()
        if back is None or back.get("run") != self.run:
            other = describe_holder(back) if back else "a rollout that has already ended"
            raise LockedError(f"another rollout of stack {self._stack} took the lock at the same moment ({other})")
        return self

    def renew(self, tags: Mapping[str, str] | None = None) -> None:
        """Check the lock is still this run's (LockLostError if not), and renew it when due."""
        record = decode((tags if tags is not None else self._tags.read()).get(release_tags.LOCK))
        if record is None or record.get("run") != self.run:
            taker = describe_holder(record) if record else "removed with --unlock"
            raise LockLostError(
                f"the lock of stack {self._stack} is no longer this rollout's ({taker}): stopped, "
                "the weight left where the stack file says"
            )
        if self._renewed is None or (self._wall() - self._renewed).total_seconds() >= RENEW_SECONDS:
            self._tags.write(release_tags.LOCK, self._record())

    def release(self) -> None:
        record = self.current()
        if record is not None and record.get("run") == self.run:
            self._tags.remove(release_tags.LOCK)


class LockLostError(KeyboardInterrupt):
    """The release lock was taken from this rollout: it stops as an interruption does (the weight
    stays where the stack file says), so that two rollouts never step the same stack."""


def unlock(tags: TagStore, stack: str) -> str:
    """Remove the release lock by hand (its holder is gone); the line to print."""
    record = decode(tags.read().get(release_tags.LOCK))
    if record is None:
        raise LockedError(f"stack {stack} has no rollout lock to remove")
    tags.remove(release_tags.LOCK)
    return f"removed the rollout lock of stack {stack} ({describe_holder(record)})"
