"""`IstioGateway`: the Istio Gateway as a Pulumi component (object from `canary.plan.gateway`)."""

from __future__ import annotations

import pulumi

from canary.components.backend import PlannedComponent
from canary.plan.gateway import ISTIO_GATEWAY, GatewayTls, IstioGatewayArgs

__all__ = ["GatewayTls", "IstioGateway", "IstioGatewayArgs"]


class IstioGateway(PlannedComponent):
    """An Istio Gateway bound to the ingress gateway pods that `selector` picks."""

    name: pulumi.Output[str]
    """Name of the Gateway (`<app>-gateway`), which the VirtualService binds to."""

    def __init__(self, name: str, args: IstioGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ISTIO_GATEWAY, name, args, opts)
