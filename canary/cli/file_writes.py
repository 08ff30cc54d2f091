"""Writing a file whole, in place of what was there, never through a link.

The text goes to a new file beside the target, which then replaces the target in one rename: a
reader sees the old file or the new one, never half of one, and a link at the target is
replaced, not followed (so a link committed as `manifests/00-namespace-x.yaml -> ../victim.txt`
cannot make a command overwrite `victim.txt`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_replacing(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in its folder; OSError as the file system gives it."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        # mkstemp makes the file 0600; a written file gets the usual mode, as `open` would give it.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
