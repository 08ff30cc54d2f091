"""The Pulumi program: read the stack config, build the release, say what to export."""

from __future__ import annotations

from typing import Any

import pulumi

from canary.release import CanaryRelease, CanaryReleaseArgs
from canary.settings import ConfigError, load_settings


def canary_stack(opts: pulumi.ResourceOptions | None = None) -> dict[str, Any]:
    """Build the stack's resources and return its outputs; nothing is registered on bad config.

    `opts` reach the top component, and through it every child: e.g. an explicit Kubernetes
    provider (`providers={"kubernetes": provider}`) for another cluster or for rendering.
    """
    try:
        settings = load_settings()
    except ConfigError as err:
        # RunError reports the message without a Python traceback.
        raise pulumi.RunError(str(err)) from None
    release = CanaryRelease(settings.app, CanaryReleaseArgs(settings=settings), opts)
    return {
        "namespace": release.namespace,
        "urls": release.urls,
        "stableVersion": settings.stable_version,
        "canaryVersion": settings.canary_version,
        "weight": settings.weight,
        "cookie": settings.canary.cookie if settings.canary else None,
        "canaryHeaders": settings.canary.headers if settings.canary else None,
        "versionHeader": settings.routing.version_header or None,
        "routes": release.routes,
    }
