"""Reading a file a user names, bounded: a regular file, at most so many bytes, UTF-8.

A path can point at anything: `/dev/zero` never ends, a FIFO blocks until someone writes, a
log file can be gigabytes. Each of them would hang the command or exhaust its memory before any
error could be said, so every file the commands read (stack files, Pulumi.yaml, `--routes`) is
opened without blocking, checked to be a regular file, and read only up to its limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MEBIBYTE = 1 << 20


def shown(path: Path | str) -> str:
    """A path as a message shows it: as it is, or quoted when it holds a line break or another
    control character, which would split the message's one line."""
    text = str(path)
    return text if text.isprintable() else repr(text)


class UnreadableFileError(ValueError):
    """The file cannot be used; the message says why, without the path (the caller names it)."""


def read_text(path: Path | str, limit: int) -> str:
    """The UTF-8 text of the regular file `path`, at most `limit` bytes; UnreadableFileError otherwise."""
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer; regular files ignore it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise UnreadableFileError(f"cannot read it ({err.strerror or err})") from None
    try:
        # fstat of the file opened, not a stat of the path: nothing can swap it in between.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnreadableFileError("is not a regular file")
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(MEBIBYTE, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        raise UnreadableFileError(f"cannot read it ({err.strerror or err})") from None
    finally:
        os.close(fd)
    if size > limit:
        raise UnreadableFileError(f"is larger than {size_text(limit)}, more than such a file ever needs")
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableFileError("not UTF-8 text") from None


def size_text(limit: int) -> str:
    """`limit` bytes as a person reads it: `4 MiB`, or `1000 bytes` when not whole mebibytes."""
    return f"{limit // MEBIBYTE} MiB" if limit % MEBIBYTE == 0 else f"{limit} bytes"
