"""Path flags of every command: a path, never the empty string.

`--out "$OUT"` with OUT unset passes "", which `Path("")` reads as the working folder: the
command would write its files wherever it was started. Every path flag is refused empty instead.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def path_flag(text: str) -> Path:
    """An argparse `type` for a path; argparse words the refusal as `argument --out: ...`."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty (an unset variable?)")
    return Path(text)
