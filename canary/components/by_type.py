"""Each component's class by its Pulumi type token: how the back end finds the component a plan declares.

A plan names a child by its `ComponentKind`; the Pulumi back end runs the class this table gives
for the kind's type token. A reference, not a string, so a reader or a tool follows it from the
plan to the component.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

from canary.components.app_version import AppVersion
from canary.components.backend import PlannedComponent
from canary.components.gateway import IstioGateway
from canary.components.gateway_api import GatewayApiRouting
from canary.components.namespace_security import NamespaceSecurity
from canary.components.release import CanaryRelease
from canary.components.routing import RoutingRules
from canary.components.service import AppService
from canary.plan.app_version import APP_VERSION
from canary.plan.gateway import ISTIO_GATEWAY
from canary.plan.gateway_api import GATEWAY_API_ROUTING
from canary.plan.istio_routing import ROUTING_RULES
from canary.plan.namespace_security import NAMESPACE_SECURITY
from canary.plan.release import CANARY_RELEASE
from canary.plan.service import APP_SERVICE

# (name, args, opts) -> the component, as each subclass of PlannedComponent takes them.
COMPONENTS: dict[str, Callable[[str, Any, pulumi.ResourceOptions], PlannedComponent]] = {
    APP_SERVICE.type_token: AppService,
    APP_VERSION.type_token: AppVersion,
    CANARY_RELEASE.type_token: CanaryRelease,
    GATEWAY_API_ROUTING.type_token: GatewayApiRouting,
    ISTIO_GATEWAY.type_token: IstioGateway,
    NAMESPACE_SECURITY.type_token: NamespaceSecurity,
    ROUTING_RULES.type_token: RoutingRules,
}
