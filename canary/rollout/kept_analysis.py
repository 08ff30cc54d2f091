"""The health analysis' evidence, kept with the release in its stack's tags, so that a rerun,
from this machine or another, continues the e-processes: alpha holds per release, not per run.

The record names the release (stable and canary versions): evidence about another release is
never continued. It is written when a step passes, when the rollout stops held and when it is
interrupted, and removed when the release ends (rolled back, completed). A run killed outright
loses what it saw since the last write; leaving that out does not depend on what it was, so the
e-processes stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from canary.rollout.release_tags import ANALYSIS, TagStore, read_record, remove_record, write_record


@dataclass(frozen=True)
class Kept:
    state: dict[str, Any]
    """`SequentialAnalysis.state()` as it was written."""
    saved_at: str
    weight: int


@dataclass
class KeptAnalysis:
    tags: TagStore
    stable: str
    canary: str

    @property
    def release(self) -> str:
        return f"{self.stable} -> {self.canary}"

    def load(self) -> Kept | None:
        """The evidence kept for this release, or None (none kept, or another release's)."""
        record = read_record(self.tags.read(), ANALYSIS)
        if not isinstance(record, dict) or record.get("release") != self.release:
            return None
        state, weight = record.get("analysis"), record.get("weight")
        if not isinstance(state, dict) or not isinstance(weight, int):
            return None
        return Kept(state=state, saved_at=str(record.get("saved_at", "")), weight=weight)

    def save(self, state: dict[str, Any], saved_at: str, weight: int) -> None:
        record = {"release": self.release, "saved_at": saved_at, "weight": weight, "analysis": state}
        write_record(self.tags, ANALYSIS, record)

    def forget(self) -> None:
        remove_record(self.tags, ANALYSIS)
