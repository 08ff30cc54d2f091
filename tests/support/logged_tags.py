"""Stack tags in memory that log the order of every write and removal, and refuse what `pulumi stack tag set` would."""

from __future__ import annotations

from canary.rollout.release_tags import MAX_VALUE


class LoggedTags:
    """A stack's tags in memory, with the order of every write and removal."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.log: list[str] = []

    def read(self) -> dict[str, str]:
        return dict(self.tags)

    def write(self, key: str, value: str) -> None:
        assert len(key) <= 40 and len(value) <= MAX_VALUE, (key, len(value))
        # `pulumi stack tag set KEY VALUE` reads a value starting with "-" as a flag.
        assert not value.startswith("-"), (key, value[:20])
        self.tags[key] = value
        self.log.append(f"set {key}")

    def remove(self, key: str) -> None:
        del self.tags[key]
        self.log.append(f"rm {key}")
