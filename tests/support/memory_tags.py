"""Stack tags in memory, with the backend's semantics: get all, set one, remove one, no compare-and-swap."""

from __future__ import annotations

from canary.rollout.release_tags import MAX_VALUE


class MemoryTags:
    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.reads = 0
        self.writes: list[tuple[str, str | None]] = []

    def read(self) -> dict[str, str]:
        self.reads += 1
        return dict(self.tags)

    def write(self, key: str, value: str) -> None:
        # What Pulumi Cloud refuses, a test must not get away with.
        assert len(key) <= 40 and len(value) <= MAX_VALUE, (key, value)
        self.tags[key] = value
        self.writes.append((key, value))

    def remove(self, key: str) -> None:
        self.tags.pop(key, None)
        self.writes.append((key, None))
