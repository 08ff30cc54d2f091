"""Namespace-wide security: mutual TLS between workloads, and who may connect to the pods."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from canary.api_versions import same_object_aliases

# Istio serves PeerAuthentication as security.istio.io/v1 from 1.22; meshes old enough to need
# networking v1beta1/v1alpha3 have security v1beta1.
SECURITY_API_VERSION = {
    "networking.istio.io/v1": "security.istio.io/v1",
    "networking.istio.io/v1beta1": "security.istio.io/v1beta1",
    "networking.istio.io/v1alpha3": "security.istio.io/v1beta1",
}


def peer_authentication_spec() -> dict[str, Any]:
    # STRICT: sidecars accept only mutual-TLS connections, so no plain-text client gets in.
    return {"mtls": {"mode": "STRICT"}}


def network_policy_spec(
    gateway_namespace: str, gateway_selector: Mapping[str, str]
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    return k8s.networking.v1.NetworkPolicySpecArgs(
        # Every pod of the namespace: it belongs to this release.
        pod_selector=k8s.meta.v1.LabelSelectorArgs(),
        policy_types=["Ingress"],
        ingress=[
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[
                    # The ingress gateway pods, in their own namespace (Kubernetes labels every
                    # namespace with its name).
                    k8s.networking.v1.NetworkPolicyPeerArgs(
                        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": gateway_namespace}
                        ),
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(gateway_selector)),
                    ),
                    # The namespace's own pods (an empty pod selector in this namespace).
                    k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs()),
                ]
            )
        ],
    )


@dataclass(frozen=True)
class NamespaceSecurityArgs:
    namespace: pulumi.Input[str]
    app: str
    istio_api_version: str
    mtls: bool
    network_policy: bool
    gateway_namespace: str
    gateway_selector: Mapping[str, str]


class NamespaceSecurity(pulumi.ComponentResource):
    """Optional PeerAuthentication (strict mTLS) and NetworkPolicy for the release's namespace."""

    def __init__(self, name: str, args: NamespaceSecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("canary:index:NamespaceSecurity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.mtls:
            k8s.apiextensions.CustomResource(
                f"{name}-peerauthentication",
                api_version=SECURITY_API_VERSION[args.istio_api_version],
                kind="PeerAuthentication",
                # `default` is the namespace-wide policy by Istio's convention.
                metadata=k8s.meta.v1.ObjectMetaArgs(name="default", namespace=args.namespace),
                spec=peer_authentication_spec(),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    aliases=same_object_aliases(
                        SECURITY_API_VERSION[args.istio_api_version],
                        "PeerAuthentication",
                        SECURITY_API_VERSION.values(),
                    ),
                ),
            )
        if args.network_policy:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-networkpolicy",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{args.app}-ingress", namespace=args.namespace),
                spec=network_policy_spec(args.gateway_namespace, args.gateway_selector),
                opts=child,
            )
        self.register_outputs({})
