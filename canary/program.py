"""The Pulumi program: read the stack config, build the release, say what to export."""

from __future__ import annotations

from typing import Any

import pulumi

from canary.release import CanaryRelease, CanaryReleaseArgs
from canary.settings import ConfigError, load_settings

RELEASE_NAME = "canary"
"""Logical name of the top component; every child's name starts with it."""


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
    if (canary := settings.canary) is not None and not canary.cookie and not canary.headers and canary.weight == 0:
        pulumi.log.warn(
            f"canary {canary.version} receives no traffic: it has no cookie, no headers and weight 0; "
            "give it canary.headers (or a cookie) to keep it reachable for testers"
        )
    # One logical name whatever the config says: the URNs, and so the objects' identities, must
    # not follow `app`, or renaming the app would replace the namespace and everything in it.
    # Stacks deployed when the release was named after the app move over through the alias.
    release = CanaryRelease(
        RELEASE_NAME,
        CanaryReleaseArgs(settings=settings),
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=settings.app)])),
    )
    # No output is ever None: the engine drops such outputs, so `pulumi stack output cookie`
    # would fail and readers could not tell "off" from "absent". Empty means none.
    return {
        "namespace": release.namespace,
        "urls": release.urls,
        "stableVersion": settings.stable_version,
        "canaryVersion": settings.canary_version or "",
        "weight": settings.weight,
        "cookie": (settings.canary.cookie if settings.canary else None) or "",
        "canaryHeaders": dict((settings.canary.headers if settings.canary else None) or {}),
        "versionHeader": settings.routing.version_header or "",
        "routes": release.routes,
    }
