"""The Istio Gateway: the hosts the ingress gateway accepts, over HTTP and optionally HTTPS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from canary.plan.backend import Backend, ComponentKind, Manifest, Ref, metadata
from canary.plan.istio import NETWORKING_API_VERSIONS, IstioApiVersion
from canary.plan.rules import checks

if TYPE_CHECKING:
    import pulumi


@dataclass(frozen=True)
class GatewayTls:
    """HTTPS on port 443, terminated with the TLS Secret `credential_name` in the gateway's namespace."""

    credential_name: pulumi.Input[str]
    """The Kubernetes TLS Secret (certificate and key) the gateway terminates HTTPS with. Required."""
    https_redirect: bool = True
    """Plain HTTP answers with a 301 to HTTPS instead of serving the app. Default: `True`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "credential_name": checks.dns_subdomain,
        "https_redirect": checks.boolean,
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)


@dataclass(frozen=True)
class IstioGatewayArgs:
    namespace: pulumi.Input[str]
    """The release's namespace, where the Gateway is declared. Required."""
    app: str
    """The app's name; the Gateway is `<app>-gateway`. Required."""
    hosts: Sequence[pulumi.Input[str]]
    """External host names the Gateway serves; a leading `*.` wildcard is allowed. Required."""
    selector: Mapping[str, str] = field(default_factory=lambda: {"istio": "ingressgateway"})
    """Labels of the ingress gateway pods that serve the hosts. Default: `{"istio": "ingressgateway"}`."""
    tls: GatewayTls | None = None
    """HTTPS on 443 with a TLS Secret; None serves plain HTTP only. Default: `None`."""
    api_version: IstioApiVersion = NETWORKING_API_VERSIONS[0]
    """The API version of the Istio networking objects; an older mesh may need an older one.
    Default: `"networking.istio.io/v1"`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "namespace": checks.namespace_name,
        "app": checks.app_name,
        "hosts": checks.hosts,
        "selector": checks.gateway_selector,
        "tls": checks.optional_instance(GatewayTls, "GatewayTls"),
        "api_version": checks.one_of(*NETWORKING_API_VERSIONS),
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)


@dataclass(frozen=True)
class IstioGatewayParts:
    gateway: Ref

    @property
    def outputs(self) -> dict[str, Any]:
        return {"name": self.gateway.name}


def gateway_spec(
    hosts: Sequence[pulumi.Input[str]], selector: Mapping[str, str], tls: GatewayTls | None
) -> dict[str, Any]:
    http_server: dict[str, Any] = {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": list(hosts)}
    servers = [http_server]
    if tls is not None:
        if tls.https_redirect:
            http_server["tls"] = {"httpsRedirect": True}
        servers.append(
            {
                "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                "hosts": list(hosts),
                "tls": {"mode": "SIMPLE", "credentialName": tls.credential_name},
            }
        )
    return {"selector": dict(selector), "servers": servers}


def gateway(args: IstioGatewayArgs) -> Manifest:
    return {
        "apiVersion": args.api_version,
        "kind": "Gateway",
        "metadata": metadata(f"{args.app}-gateway", args.namespace),
        "spec": gateway_spec(args.hosts, args.selector, args.tls),
    }


def plan_istio_gateway(backend: Backend, name: str, args: IstioGatewayArgs) -> IstioGatewayParts:
    return IstioGatewayParts(gateway=backend.object(f"{name}-gateway", gateway(args)))


ISTIO_GATEWAY: ComponentKind[IstioGatewayArgs, IstioGatewayParts] = ComponentKind(
    type_token="canary:index:IstioGateway", plan=plan_istio_gateway
)
