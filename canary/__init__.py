"""istio-canary: reusable Pulumi components for canary releases on Kubernetes with Istio.

The public names are loaded on first use, so `python -m canary verify` does not pay for
importing the Pulumi SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AppService": "canary.service",
    "AppServiceArgs": "canary.service",
    "AppVersion": "canary.app_version",
    "AppVersionArgs": "canary.app_version",
    "CanaryRelease": "canary.release",
    "CanaryReleaseArgs": "canary.release",
    "ConfigError": "canary.settings",
    "IstioGateway": "canary.gateway",
    "IstioGatewayArgs": "canary.gateway",
    "NamespaceSecurity": "canary.namespace_security",
    "NamespaceSecurityArgs": "canary.namespace_security",
    "RoutingRules": "canary.routing",
    "RoutingRulesArgs": "canary.routing",
    "StackSettings": "canary.settings",
    "canary_stack": "canary.program",
    "load_settings": "canary.settings",
    "parse_settings": "canary.settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'canary' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
