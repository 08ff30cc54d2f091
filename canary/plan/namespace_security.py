"""Namespace-wide security: mutual TLS between workloads, and who may connect to the pods."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from canary.plan import labels
from canary.plan.backend import Backend, ComponentKind, Manifest, metadata
from canary.plan.istio import NETWORKING_API_VERSIONS, SECURITY_API_VERSION, IstioApiVersion
from canary.plan.rules import checks

if TYPE_CHECKING:
    import pulumi


@dataclass(frozen=True)
class NamespaceSecurityArgs:
    namespace: pulumi.Input[str]
    """The namespace to protect. Required."""
    app: str
    """The app's name; the NetworkPolicy is `<app>-ingress`. Required."""
    mtls: bool = True
    """A PeerAuthentication `default` requiring mutual TLS for every workload of the namespace. Default: `True`."""
    network_policy: bool = True
    """A NetworkPolicy admitting only the ingress gateway pods and the namespace's own pods. Default: `True`."""
    gateway_namespace: str = "istio-system"
    """Where the ingress gateway pods run: the NetworkPolicy admits them from there. Default: `"istio-system"`."""
    gateway_selector: Mapping[str, str] = field(default_factory=lambda: {"istio": "ingressgateway"})
    """Labels of the ingress gateway pods the NetworkPolicy admits. Default: `{"istio": "ingressgateway"}`."""
    istio_api_version: IstioApiVersion = NETWORKING_API_VERSIONS[0]
    """The networking API version of the mesh; the matching security version is used.
    Default: `"networking.istio.io/v1"`."""
    namespace_wide: bool = True
    """The policies cover every pod of the namespace, which the release owns; False: only the app's pods
    (in a namespace someone else owns, the other workloads are not the release's to lock down). Default: `True`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "namespace": checks.namespace_name,
        "app": checks.app_name,
        "mtls": checks.boolean,
        "network_policy": checks.boolean,
        "gateway_namespace": checks.gateway_namespace_name,
        "gateway_selector": checks.gateway_selector,
        "istio_api_version": checks.one_of(*NETWORKING_API_VERSIONS),
        "namespace_wide": checks.boolean,
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)


@dataclass(frozen=True)
class NamespaceSecurityParts:
    @property
    def outputs(self) -> dict[str, Any]:
        return {}


def peer_authentication(
    namespace: pulumi.Input[str], istio_api_version: IstioApiVersion, app: str, namespace_wide: bool = True
) -> Manifest:
    # STRICT: sidecars accept only mutual-TLS connections, so no plain-text client gets in.
    spec: dict[str, Any] = {"mtls": {"mode": "STRICT"}}
    if namespace_wide:
        # `default` is the namespace-wide policy by Istio's convention.
        name = "default"
    else:
        name = f"{app}-mtls"
        spec["selector"] = {"matchLabels": labels.app_labels(app)}
    return {
        "apiVersion": SECURITY_API_VERSION[istio_api_version],
        "kind": "PeerAuthentication",
        "metadata": metadata(name, namespace),
        "spec": spec,
    }


def network_policy(
    namespace: pulumi.Input[str],
    app: str,
    gateway_namespace: str,
    gateway_selector: Mapping[str, str],
    namespace_wide: bool = True,
) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(f"{app}-ingress", namespace),
        "spec": {
            # Every pod of a namespace the release owns; in another's namespace, the app's pods only.
            "podSelector": {} if namespace_wide else {"matchLabels": labels.app_labels(app)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        # The ingress gateway pods, in their own namespace (Kubernetes labels
                        # every namespace with its name).
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": gateway_namespace}},
                            "podSelector": {"matchLabels": dict(gateway_selector)},
                        },
                        # The namespace's own pods (an empty pod selector in this namespace).
                        {"podSelector": {}},
                    ]
                }
            ],
        },
    }


def plan_namespace_security(backend: Backend, name: str, args: NamespaceSecurityArgs) -> NamespaceSecurityParts:
    if args.mtls:
        backend.object(
            f"{name}-peerauthentication",
            peer_authentication(args.namespace, args.istio_api_version, args.app, args.namespace_wide),
        )
    if args.network_policy:
        backend.object(
            f"{name}-networkpolicy",
            network_policy(
                args.namespace, args.app, args.gateway_namespace, args.gateway_selector, args.namespace_wide
            ),
        )
    return NamespaceSecurityParts()


NAMESPACE_SECURITY: ComponentKind[NamespaceSecurityArgs, NamespaceSecurityParts] = ComponentKind(
    type_token="canary:index:NamespaceSecurity",
    plan=plan_namespace_security,
)
