"""`CanaryRelease`: the whole release as a Pulumi component (`canary.plan.release`)."""

from __future__ import annotations

from typing import Any

import pulumi

from canary.components.backend import PlannedComponent
from canary.plan.release import CANARY_RELEASE, CanaryReleaseArgs

__all__ = ["CanaryRelease", "CanaryReleaseArgs"]


class CanaryRelease(PlannedComponent):
    """Everything one canary release needs, composed from the smaller components."""

    namespace: pulumi.Output[str]
    """The namespace the release lives in (created with sidecar injection on, unless `create_namespace` is False)."""
    urls: pulumi.Output[list[str]]
    """The external URLs of the app, one per concrete host."""
    routes: pulumi.Output[list[dict[str, Any]]]
    """What each kind of request sees, read off the VirtualService: `[{"when": ..., "split": ...}]`."""

    def __init__(self, name: str, args: CanaryReleaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(CANARY_RELEASE, name, args, opts)
