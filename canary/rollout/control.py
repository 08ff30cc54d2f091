"""A person in the loop: what a running rollout waits for, and the approve and abort that reach it
from another shell, machine or CI job (`canary rollout --stack S --approve | --abort`).

Both sides meet in the stack's tags (`release_tags`): the rollout publishes what it waits for
(`canary-rollout:waiting`); `--approve` answers that wait by its id, so an approval never carries
over to a later pause; `--abort` names the run it stops (the lock's run id), so a stale abort never
stops a later rollout. The running rollout reads the tags every few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from canary.rollout import release_tags
from canary.rollout.release_tags import TagStore, TagStoreError, decode, encode

READ_EVERY_SECONDS = 5.0
"""How often a running rollout reads the tags for an approval or an abort: each read is a Pulumi
CLI call, and five seconds is well inside what a person waits after typing `--approve`."""

WaitKind = Literal["approval", "timer", "confirm"]


@dataclass
class Wait:
    """One wait of a rollout: what it awaits and since when, then how it ended."""

    id: str
    kind: WaitKind
    what: str
    """What is awaited, in words: `approval (canary rollout --approve)`, `10m or an approval`, `confirm URL`."""
    step: int
    weight: int
    since: str
    """UTC, ISO 8601."""
    until: str | None = None
    """A timed pause's end."""
    ended: str | None = None
    outcome: str = ""
    """approved, timer, confirmed, aborted, rolled back or interrupted."""
    by: str = ""
    """Who approved or aborted."""
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "what": self.what,
            "step": self.step,
            "weight": self.weight,
            "since": self.since,
            "until": self.until,
            "ended": self.ended,
            "outcome": self.outcome,
            "by": self.by,
            **({"figures": self.figures} if self.figures else {}),
        }


@dataclass(frozen=True)
class Command:
    action: Literal["approve", "abort"]
    by: str
    at: str
    full: bool = False
    """An approval that also skips the steps left (Argo's `promote --full`)."""


class Control(Protocol):
    def waiting(self, wait: Wait | None) -> None:
        """Publish what the rollout waits for now (None: nothing)."""
        ...

    def command(self) -> Command | None:
        """An abort of this run, or an approval of the current wait, if one was given."""
        ...


class NoControl:
    """No one can approve or abort from elsewhere (only the timer, the webhook, or Ctrl-C)."""

    def waiting(self, wait: Wait | None) -> None:
        return None

    def command(self) -> Command | None:
        return None


class Lease(Protocol):
    def renew(self, tags: dict[str, str]) -> None:
        """Given the tags just read: raise if the lock is no longer this run's, renew it when due."""
        ...


class ControlError(Exception):
    """An approve or abort that has nothing to act on; the message is one line."""


class TagControl:
    """The running rollout's side, on the stack's tags."""

    def __init__(
        self,
        tags: TagStore,
        run: str,
        clock: Callable[[], float] = time.monotonic,
        every: float = READ_EVERY_SECONDS,
        lease: Lease | None = None,
        warn: Callable[[str], None] = lambda line: None,
    ) -> None:
        self._lease = lease
        self._warn = warn
        self._tags = tags
        self._run = run
        self._clock = clock
        self._every = every
        self._wait: Wait | None = None
        self._last_read: float | None = None

    def waiting(self, wait: Wait | None) -> None:
        self._wait = wait
        self._last_read = None  # read at once: an approval must be of this wait, by its id
        try:
            if wait is None:
                self._tags.remove(release_tags.WAITING)
                return
            record = {"run": self._run, "id": wait.id, "what": wait.what, "step": wait.step, "weight": wait.weight}
            self._tags.write(release_tags.WAITING, encode({**record, "since": wait.since, "until": wait.until or ""}))
        except TagStoreError as err:
            # The backend is unreachable for now: the rollout waits all the same, and a timer, the
            # webhook or Ctrl-C still end the wait; --approve cannot see it until the next write.
            self._warn(f"warning: {err}")

    def command(self) -> Command | None:
        now = self._clock()
        if self._last_read is not None and now - self._last_read < self._every:
            return None
        self._last_read = now
        try:
            tags = self._tags.read()
        except TagStoreError as err:
            self._warn(f"warning: {err}; approvals and aborts are read again in {self._every:g}s")
            return None
        if self._lease is not None:
            self._lease.renew(tags)
        abort = decode(tags.get(release_tags.ABORT))
        if abort is not None and abort.get("run") == self._run:
            return Command("abort", str(abort.get("by", "someone")), str(abort.get("at", "")))
        approve = decode(tags.get(release_tags.APPROVE))
        if approve is not None and self._wait is not None and approve.get("wait") == self._wait.id:
            by, at = str(approve.get("by", "someone")), str(approve.get("at", ""))
            return Command("approve", by, at, full=approve.get("full") is True)
        return None

    def close(self) -> None:
        """The run is over: its wait, and any approve or abort addressed to it, are cleared."""
        tags = self._tags.read()
        for key in (release_tags.WAITING, release_tags.APPROVE, release_tags.ABORT):
            if key in tags:
                self._tags.remove(key)


def approve(tags: TagStore, stack: str, who: str, now: str, full: bool = False) -> str:
    """Approve what the running rollout of `stack` waits for (`full`: and skip the steps left, to
    the promotion); the line to print."""
    current = tags.read()
    waiting = decode(current.get(release_tags.WAITING))
    if waiting is None or decode(current.get(release_tags.LOCK)) is None:
        raise ControlError(f"no rollout of stack {stack} is waiting for an approval")
    if str(waiting.get("what", "")).startswith("confirm"):
        raise ControlError(
            f"the rollout of stack {stack} waits for its confirm webhook ({waiting.get('what')}), "
            "which an approval does not replace; --abort stops it"
        )
    tags.write(release_tags.APPROVE, encode({"wait": waiting.get("id"), "by": who, "at": now, "full": full}))
    verb, skip = ("approved in full", ", skipping the steps left,") if full else ("approved", "")
    return (
        f"{verb}: the rollout of stack {stack} waiting since {waiting.get('since')} at step {waiting.get('step')} "
        f"({waiting.get('weight')}%) for {waiting.get('what')} goes on{skip} within {READ_EVERY_SECONDS:g}s"
    )


def abort(tags: TagStore, stack: str, who: str, now: str) -> str:
    """Ask the running rollout of `stack` to roll back now; the line to print."""
    lock = decode(tags.read().get(release_tags.LOCK))
    if lock is None:
        raise ControlError(f"no rollout of stack {stack} is running: nothing to abort")
    tags.write(release_tags.ABORT, encode({"run": lock.get("run"), "by": who, "at": now}))
    return (
        f"abort sent: the rollout of stack {stack} ({lock.get('holder')}, since {lock.get('since')}) rolls back "
        f"within {READ_EVERY_SECONDS:g}s, with the reason 'aborted by {who}'"
    )


def status(tags: TagStore, stack: str) -> tuple[str, dict[str, Any]]:
    """What runs on `stack` and what it waits for, from its tags: a line, and the records."""
    current = tags.read()
    lock = decode(current.get(release_tags.LOCK))
    waiting = decode(current.get(release_tags.WAITING))
    last = decode(current.get(release_tags.LAST))
    document = {"stack": stack, "lock": lock, "waiting": waiting, "last": last}
    if lock is None:
        ended = (
            f"; the last rollout: {last.get('canary')} {last.get('outcome')} (started {last.get('at')})" if last else ""
        )
        return f"no rollout of stack {stack} is running{ended}", document
    line = f"a rollout of stack {stack} is running: {lock.get('holder')}, since {lock.get('since')}"
    if waiting is not None:
        line += (
            f"; waiting at step {waiting.get('step')} ({waiting.get('weight')}%) for {waiting.get('what')} "
            f"since {waiting.get('since')}"
        )
    return line, document
