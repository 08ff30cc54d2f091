"""The Pulumi program: read the stack config, build the release, say what to export."""

from __future__ import annotations

from typing import Any

import pulumi

from canary.components.release import CanaryRelease
from canary.config import ConfigError, load_settings
from canary.config.to_args import RELEASE_NAME, release_args, stack_outputs


def release_from_config(opts: pulumi.ResourceOptions | None = None) -> dict[str, Any]:
    """Build the release the stack's config describes and return the stack's outputs; nothing is
    registered on bad config.

    `opts` reach the top component, and through it every child: e.g. an explicit Kubernetes
    provider (`providers={"kubernetes": provider}`) for another cluster or for rendering.
    """
    try:
        settings = load_settings()
    except ConfigError as err:
        # RunError reports the message without a Python traceback.
        raise pulumi.RunError(str(err)) from None
    # One logical name whatever the config says: the URNs, and so the objects' identities, must
    # not follow `app`, or renaming the app would replace the namespace and everything in it.
    # Stacks deployed when the release was named after the app move over through the alias.
    release = CanaryRelease(
        RELEASE_NAME,
        # `secretEnv` values stay secrets: encrypted in the state, masked in the engine's output.
        release_args(settings, secret=pulumi.Output.secret),
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=settings.app)])),
    )
    return stack_outputs(settings, {"namespace": release.namespace, "urls": release.urls, "routes": release.routes})


def canary_stack(opts: pulumi.ResourceOptions | None = None) -> dict[str, Any]:
    """`release_from_config` by the name it had before 0.2.0, kept for programs that import it."""
    return release_from_config(opts)
