"""`AppService`: the app's Service as a Pulumi component (object from `canary.plan.service`)."""

from __future__ import annotations

import pulumi

from canary.components.backend import PlannedComponent
from canary.plan.service import APP_SERVICE, AppServiceArgs

__all__ = ["AppService", "AppServiceArgs"]


class AppService(PlannedComponent):
    """The ClusterIP Service that the DestinationRule and VirtualService address."""

    name: pulumi.Output[str]
    """Name of the Service (`<app>-service`), the host the routing rules use."""

    def __init__(self, name: str, args: AppServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(APP_SERVICE, name, args, opts)
