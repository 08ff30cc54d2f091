"""`GatewayApiRouting`: the Gateway API's Gateway, per-version Services and HTTPRoute as a Pulumi component.

The objects come from `canary.plan.gateway_api`.
"""

from __future__ import annotations

from typing import Any

import pulumi

from canary.components.backend import PlannedComponent
from canary.plan.gateway_api import GATEWAY_API_ROUTING, GatewayApiRoutingArgs

__all__ = ["GatewayApiRouting", "GatewayApiRoutingArgs"]


class GatewayApiRouting(PlannedComponent):
    """A Gateway of the Kubernetes Gateway API, one Service per version and the HTTPRoute splitting between them."""

    gateway_name: pulumi.Output[str]
    """Name of the Gateway (`<app>-gateway`)."""
    service_names: pulumi.Output[dict[str, str]]
    """Per version, the name of its Service (`<app>-<version>`), the HTTPRoute's backend."""
    http_route_name: pulumi.Output[str]
    """Name of the HTTPRoute (`<app>-httproute`)."""
    routes: pulumi.Output[list[dict[str, Any]]]
    """What each kind of request sees, read off the HTTPRoute: `[{"when": ..., "split": ...}]`."""

    def __init__(self, name: str, args: GatewayApiRoutingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(GATEWAY_API_ROUTING, name, args, opts)
