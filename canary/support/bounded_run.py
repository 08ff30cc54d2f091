"""Running a command whose output is read whole, bounded: at most so many bytes, so many seconds.

`pulumi stack output` of a stack whose outputs went wrong, a `git` or a CLI that prints without
end, one that hangs: read whole, each would exhaust the memory or hang the command before any
error could be said. So such commands are read through `run_bounded`: stdout and stderr together
up to a limit, the run up to a timeout. Past either, the command is killed and one line naming
it says which limit it passed. The counterpart of `bounded_read` for a process instead of a file.
"""

from __future__ import annotations

import os
import selectors
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from canary.support.bounded_read import MEBIBYTE, size_text

__all__ = ["MEBIBYTE", "CommandOutputError", "Finished", "run_bounded", "shown_command"]

_CHUNK = 1 << 16


class CommandOutputError(Exception):
    """The command wrote more than its limit or ran past its timeout, and was killed; the message
    is one line naming the command and the limit."""


@dataclass(frozen=True)
class Finished:
    """A command that ended by itself: its exit status and what it wrote (UTF-8, bad bytes replaced)."""

    returncode: int
    stdout: str
    stderr: str


def shown_command(command: Sequence[str]) -> str:
    """`command` as a shell would take it, for an error line."""
    return shlex.join(command)


class _Lines:
    """Hands each complete line of a stream to a callback as it comes (for live output)."""

    def __init__(self, callback: Callable[[str], object] | None) -> None:
        self._callback = callback
        self._pending = b""

    def feed(self, chunk: bytes) -> None:
        if self._callback is None:
            return
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        for line in lines:
            self._callback(line.decode("utf-8", "replace").rstrip())

    def close(self) -> None:
        if self._callback is not None and self._pending:
            self._callback(self._pending.decode("utf-8", "replace").rstrip())
        self._pending = b""


def run_bounded(
    command: Sequence[str],
    *,
    limit: int,
    timeout: float | None,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    on_stdout: Callable[[str], object] | None = None,
    on_stderr: Callable[[str], object] | None = None,
) -> Finished:
    """Run `command` (no stdin) and read what it writes, at most `limit` bytes of stdout and
    stderr together, for at most `timeout` seconds (None: as long as it runs). `on_stdout` and
    `on_stderr` get each line as it comes. Raises CommandOutputError past either limit, and
    OSError when the command cannot be started."""
    deadline = None if timeout is None else time.monotonic() + timeout
    # As a context, as the Automation API runs the CLI: interrupted (Ctrl-C), the command is left
    # to end by itself, as it was before; pulumi, in the same process group, ends its update.
    with subprocess.Popen(
        list(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        streams = {process.stdout.fileno(): bytearray(), process.stderr.fileno(): bytearray()}
        lines = {process.stdout.fileno(): _Lines(on_stdout), process.stderr.fileno(): _Lines(on_stderr)}
        problem = _read(streams, lines, limit, deadline)
        if problem is None and deadline is not None:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                problem = "ran over"
        if problem is not None:
            # Killed, not waited for to finish: what it would still write is unread.
            process.kill()
            process.wait()
            if problem == "ran over":
                problem = f"ran over {timeout:g} s"
            raise CommandOutputError(f"`{shown_command(command)}` {problem}, and was stopped")
    for line_feed in lines.values():
        line_feed.close()
    stdout, stderr = (bytes(text).decode("utf-8", "replace") for text in streams.values())
    return Finished(process.returncode, stdout, stderr)


def _read(streams: dict[int, bytearray], lines: dict[int, _Lines], limit: int, deadline: float | None) -> str | None:
    """Read both streams to their end into `streams`; what went wrong ("ran over", "wrote more
    than ...") or None."""
    size = 0
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return "ran over"
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                size += len(chunk)
                if size > limit:
                    return f"wrote more than {size_text(limit)}"
                streams[key.fd] += chunk
                lines[key.fd].feed(chunk)
    return None
