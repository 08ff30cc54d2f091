"""`RoutingRules`: DestinationRule and VirtualService as a Pulumi component (`canary.plan.istio_routing`)."""

from __future__ import annotations

from typing import Any

import pulumi

from canary.components.backend import PlannedComponent
from canary.plan.canary_rules import Canary, Sticky
from canary.plan.istio_routing import ROUTING_RULES, RoutingRulesArgs

__all__ = ["Canary", "RoutingRules", "RoutingRulesArgs", "Sticky"]


class RoutingRules(PlannedComponent):
    """DestinationRule subsets and the VirtualService that splits traffic between them."""

    destination_rule_name: pulumi.Output[str]
    """Name of the DestinationRule (`<app>-destinationrule`)."""
    virtual_service_name: pulumi.Output[str]
    """Name of the VirtualService (`<app>-virtualservice`)."""
    routes: pulumi.Output[list[dict[str, Any]]]
    """What each kind of request sees, read off the VirtualService: `[{"when": ..., "split": ...}]`."""

    def __init__(self, name: str, args: RoutingRulesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ROUTING_RULES, name, args, opts)
