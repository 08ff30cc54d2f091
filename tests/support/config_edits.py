"""One key of a config changed or deleted by its path, as the tests of bad configs vary the baseline."""

from __future__ import annotations

import re
from typing import Any


class _Delete:
    """The value that deletes the key; named in test ids (an object()'s address differs per process)."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


def changed(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`config` with the key at `path` (e.g. `versions[0].name`) set to `value`, or deleted."""
    *parents, last = re.findall(r"[^.\[\]]+", path)
    node: Any = config
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    key: Any = int(last) if last.isdigit() else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return config
