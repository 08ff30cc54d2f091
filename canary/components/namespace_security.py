"""`NamespaceSecurity`: strict mTLS and a NetworkPolicy as a Pulumi component (`canary.plan.namespace_security`)."""

from __future__ import annotations

import pulumi

from canary.components.backend import PlannedComponent
from canary.plan.namespace_security import NAMESPACE_SECURITY, NamespaceSecurityArgs

__all__ = ["NamespaceSecurity", "NamespaceSecurityArgs"]


class NamespaceSecurity(PlannedComponent):
    """Optional PeerAuthentication (strict mTLS) and NetworkPolicy for the release's namespace."""

    def __init__(self, name: str, args: NamespaceSecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NAMESPACE_SECURITY, name, args, opts)
