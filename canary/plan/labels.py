"""The labels the release puts on its pods, spelled in one place.

The Service selects every version by `app`; each DestinationRule subset selects one version by
`version`, as Istio's own samples label pods.
"""

from __future__ import annotations

APP = "app"
VERSION = "version"


def app_labels(app: str) -> dict[str, str]:
    """Labels every pod of the app carries, whatever its version: the Service's selector."""
    return {APP: app}


def version_labels(version: str) -> dict[str, str]:
    """Labels that tell one version's pods from the others': a DestinationRule subset's selector."""
    return {VERSION: version}


def pod_labels(app: str, version: str) -> dict[str, str]:
    return {**app_labels(app), **version_labels(version)}
