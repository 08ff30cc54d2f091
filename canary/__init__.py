"""istio-canary: reusable Pulumi components for canary releases on Kubernetes with Istio.

The public names are loaded on first use, so `python -m canary verify` does not pay for
importing the Pulumi SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

# The one place the version is written: pyproject.toml reads it from here, `canary --version` prints it.
__version__ = "0.2.0"

_EXPORTS = {
    # The Pulumi components.
    "AppService": "canary.components.service",
    "AppVersion": "canary.components.app_version",
    "CanaryRelease": "canary.components.release",
    "GatewayApiRouting": "canary.components.gateway_api",
    "IstioGateway": "canary.components.gateway",
    "NamespaceSecurity": "canary.components.namespace_security",
    "RoutingRules": "canary.components.routing",
    # Their Args and the values inside them (plain data; importing them does not import Pulumi).
    "AppServiceArgs": "canary.plan.service",
    "ArgsError": "canary.plan.rules.checks",
    "AppVersionArgs": "canary.plan.app_version",
    "Autoscaling": "canary.plan.workload",
    "Canary": "canary.plan.canary_rules",
    "CanaryReleaseArgs": "canary.plan.release",
    "Compute": "canary.plan.workload",
    "GatewayApiRoutingArgs": "canary.plan.gateway_api",
    "GatewayTls": "canary.plan.gateway",
    "IstioGatewayArgs": "canary.plan.gateway",
    "NamespaceSecurityArgs": "canary.plan.namespace_security",
    "Probe": "canary.plan.workload",
    "Resources": "canary.plan.workload",
    "RoutingRulesArgs": "canary.plan.istio_routing",
    "SecurityProfile": "canary.plan.security_profiles",
    "ServiceAccount": "canary.plan.service_account",
    "Sticky": "canary.plan.canary_rules",
    "Workload": "canary.plan.workload",
    # This project's own program: stack config in, release out.
    "ConfigError": "canary.config",
    "StackSettings": "canary.config",
    "canary_stack": "canary.program",
    "release_from_config": "canary.program",
    "load_settings": "canary.config",
    "parse_settings": "canary.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'canary' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
