"""What CI should do on a push (`canary rollout --stack S --decide`): nothing, start a rollout, or
resume one; refused while another rollout holds the lock. Read-only.

It reads the stack file of the commit CI checked out and the release's records in the stack's tags
(the lock, the last rollout's outcome):
- no canary in the stack file: nothing (a promotion removed it, or none was ever set);
- a rollout holds the lock: refused, naming who and since when;
- the canary is the one the last rollout ended with (rolled back, stopped for want of evidence,
  completed without promotion): nothing, until its version or image changes; a commit unrelated
  to the canary changes neither, so it does nothing;
- the canary stands above 0 % with no rollout running (one was interrupted or killed), or the last
  rollout of this very canary was interrupted: resume;
- otherwise (a canary whose version or image has not been rolled out): start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from canary.config import StackSettings
from canary.rollout import release_tags
from canary.rollout.release_tags import decode
from canary.support import exit_status

RESUMABLE = ("interrupted", "running", "held")


@dataclass(frozen=True)
class Decision:
    action: str
    """nothing, start, resume or locked."""
    reason: str

    @property
    def exit_code(self) -> int:
        return {
            "nothing": exit_status.OK,
            "start": exit_status.START,
            "resume": exit_status.RESUME,
            "locked": exit_status.LOCKED,
        }[self.action]

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "reason": self.reason, "exit_status": self.exit_code}


def image_digest(image: str) -> str:
    """A short, fixed-length stand-in for the image (a tag's value holds at most 256 characters)."""
    return hashlib.sha256(image.encode()).hexdigest()[:16]


def canary_identity(settings: StackSettings) -> dict[str, str] | None:
    """The canary as the decision compares it: its version name and its image."""
    if settings.canary is None:
        return None
    version = next(v for v in settings.versions if v.name == settings.canary.version)
    return {"canary": version.name, "image": image_digest(version.image)}


def last_record(settings: StackSettings, outcome: str, started_at: str) -> dict[str, Any]:
    """The record a rollout leaves in the stack's tags when it ends (`canary-rollout:last`)."""
    return {**(canary_identity(settings) or {}), "outcome": outcome, "at": started_at}


def decide(
    settings: StackSettings, tags: Mapping[str, str], lock_is_stale: Callable[[dict[str, Any]], bool]
) -> Decision:
    lock = decode(tags.get(release_tags.LOCK))
    if lock is not None and not lock_is_stale(lock):
        return Decision(
            "locked",
            f"refused: a rollout of this stack is running ({lock.get('holder', 'someone')}, since "
            f"{lock.get('since', '?')}); this push starts nothing. Its changes to the canary wait for that "
            "rollout to end; push again (or re-run this job) then",
        )
    identity = canary_identity(settings)
    if identity is None or settings.canary is None:
        return Decision("nothing", f"no canary in the stack file (stable {settings.stable_version})")
    canary, weight = settings.canary.version, settings.weight
    last = decode(tags.get(release_tags.LAST))
    same = last is not None and all(last.get(key) == value for key, value in identity.items())
    if same and last is not None and last.get("outcome") not in RESUMABLE:
        return Decision(
            "nothing",
            f"{canary} with this image was already rolled out ({last.get('outcome')}, started {last.get('at')}); "
            "change its version or image to roll out again",
        )
    if weight > 0:
        return Decision("resume", f"{canary} stands at {weight}% and no rollout is running: resume from there")
    if same and last is not None:
        return Decision("resume", f"the rollout of {canary} started {last.get('at')} was interrupted: resume it")
    return Decision("start", f"{canary} with this image has not been rolled out: start")
