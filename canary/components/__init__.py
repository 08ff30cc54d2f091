"""The Pulumi components: each runs its plan (`canary.plan.<same name>`) through the Pulumi back end.

One module per component, named after the plan it runs: `canary.components.gateway` runs
`canary.plan.gateway`. Importing this package imports the Pulumi SDK; `from canary import ...`
loads a component only when it is first used.
"""

from __future__ import annotations

from canary.components.app_version import AppVersion
from canary.components.gateway import IstioGateway
from canary.components.gateway_api import GatewayApiRouting
from canary.components.namespace_security import NamespaceSecurity
from canary.components.release import CanaryRelease
from canary.components.routing import RoutingRules
from canary.components.service import AppService

__all__ = [
    "AppService",
    "AppVersion",
    "CanaryRelease",
    "GatewayApiRouting",
    "IstioGateway",
    "NamespaceSecurity",
    "RoutingRules",
]
