"""The release's shared records, kept as tags of its Pulumi stack: the lock, what the rollout waits
for, an approval or an abort, the last rollout's outcome, the health analysis' evidence.

Why stack tags: the stack's backend (Pulumi Cloud, or a DIY backend on S3, GCS, Azure Blob,
Postgres or a shared folder) is the one place every machine that can run `pulumi up` for the
stack reads and writes; that is what makes it the stack. A tag changes no resource, needs no
update and no secrets provider, and is not part of the checkpoint that `pulumi up` locks, so it
can be read and written while an update runs. Whoever may change the stack may write its tags:
no new credential. The stack file (`Pulumi.<stack>.yaml`) would not do: it lives in a checkout,
and another machine sees it only after a Git round trip.

Limits this module keeps to: a tag's name is at most 40 characters (letters, digits, `-_.:`), its
value at most 256 (Pulumi Cloud checks both); a DIY backend keeps tags from Pulumi CLI v3.211 on.
Tags have no compare-and-swap: a lock on them is built on write, wait, read back. A record longer
than one value (the analysis' evidence) is cut into numbered tags under a header tag that names
how many there are and their digest (`write_record`, `read_record`): the header is written last
and removed first, so a reader sees the whole record or none.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

PREFIX = "canary-rollout:"
LOCK = PREFIX + "lock"
WAITING = PREFIX + "waiting"
APPROVE = PREFIX + "approve"
ABORT = PREFIX + "abort"
LAST = PREFIX + "last"
ANALYSIS = PREFIX + "analysis"
MAX_VALUE = 256


class TagStore(Protocol):
    """A stack's tags, read all at once (one backend call) and written one by one."""

    def read(self) -> dict[str, str]: ...

    def write(self, key: str, value: str) -> None: ...

    def remove(self, key: str) -> None: ...


class TagStoreError(Exception):
    """The backend could not be read or written; the message is one line."""


def encode(record: Mapping[str, Any]) -> str:
    """A record as a tag's value: compact JSON, at most MAX_VALUE characters (longer text is cut)."""
    fields = dict(record)
    text = json.dumps(fields, separators=(",", ":"), sort_keys=True)
    while len(text) > MAX_VALUE:
        longest = max((k for k, v in fields.items() if isinstance(v, str)), key=lambda k: len(fields[k]))
        fields[longest] = fields[longest][: max(len(fields[longest]) - (len(text) - MAX_VALUE) - 1, 0)] + "~"
        text = json.dumps(fields, separators=(",", ":"), sort_keys=True)
    return text


def decode(value: str | None) -> dict[str, Any] | None:
    """A tag's record, or None when absent or not one of ours (a tag set by hand, say)."""
    if not value:
        return None
    try:
        record = json.loads(value)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    for line in text.splitlines():
        if line.strip().startswith("error:"):
            return line.strip()
    return text.splitlines()[-1].strip() if text else type(err).__name__


class AutomationTags:
    """The tags of a stack, through the Automation API's LocalWorkspace (`pulumi stack tag`)."""

    def __init__(self, workspace: Any, stack: str) -> None:
        self._workspace = workspace
        self._stack = stack

    def read(self) -> dict[str, str]:
        try:
            tags = self._workspace.list_tags(self._stack)
            return {key: value for key, value in tags.items() if key.startswith(PREFIX)}
        except Exception as err:  # the Automation API raises CommandError with the CLI's output
            raise TagStoreError(f"cannot read the tags of stack {self._stack}: {_first_line(err)}") from None

    def write(self, key: str, value: str) -> None:
        try:
            self._workspace.set_tag(self._stack, key, value)
        except Exception as err:
            raise TagStoreError(f"cannot write tag {key} of stack {self._stack}: {_first_line(err)}") from None

    def remove(self, key: str) -> None:
        try:
            self._workspace.remove_tag(self._stack, key)
        except Exception as err:
            raise TagStoreError(f"cannot remove tag {key} of stack {self._stack}: {_first_line(err)}") from None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _part(key: str, index: int) -> str:
    return f"{key}.{index}"


def _cut(text: str) -> list[str]:
    """`text` in parts of at most MAX_VALUE characters, none starting with `-`: the CLI that sets a
    tag (`pulumi stack tag set KEY VALUE`) reads such a value as a flag and refuses it."""
    parts: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + MAX_VALUE, len(text))
        while end < len(text) and text[end] == "-" and end > start + 1:
            end -= 1
        parts.append(text[start:end])
        start = end
    return parts or [""]


def write_record(store: TagStore, key: str, record: Any, current: Mapping[str, str] | None = None) -> None:
    """`record` as compact JSON, however long: numbered tags, then the header `key` naming them.

    `current`: the tags as read before (to remove parts a shorter record no longer uses); read
    again when not given.
    """
    text = json.dumps(record, separators=(",", ":"), sort_keys=True)
    parts = _cut(text)
    before = store.read() if current is None else current
    old = decode(before.get(key))
    if old is not None:
        store.remove(key)  # a reader never pairs the old header with new parts
    for index, part in enumerate(parts, 1):
        store.write(_part(key, index), part)
    store.write(key, encode({"parts": len(parts), "sha256": _digest(text)}))
    old_parts = old.get("parts") if old is not None else None
    if isinstance(old_parts, int):
        for index in range(len(parts) + 1, old_parts + 1):
            store.remove(_part(key, index))


def read_record(tags: Mapping[str, str], key: str) -> Any | None:
    """The record under `key` in `tags` (as `TagStore.read` gives them), or None when there is
    none, or its parts do not add up to the digest its header names (a write cut short)."""
    header = decode(tags.get(key))
    if header is None or not isinstance(header.get("parts"), int):
        return None
    parts = [tags.get(_part(key, index)) for index in range(1, header["parts"] + 1)]
    if any(part is None for part in parts):
        return None
    text = "".join(part for part in parts if part is not None)
    if _digest(text) != header.get("sha256"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def remove_record(store: TagStore, key: str, current: Mapping[str, str] | None = None) -> None:
    """The header first, then its parts."""
    tags = store.read() if current is None else current
    header = decode(tags.get(key))
    if header is None:
        return
    store.remove(key)
    parts = header.get("parts")
    for index in range(1, (parts if isinstance(parts, int) else 0) + 1):
        if _part(key, index) in tags:
            store.remove(_part(key, index))
