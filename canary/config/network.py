"""How requests reach the app: the `gateway:`, `routing:` and `security:` keys of the stack config."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field, StrictBool, StrictStr

from canary.config.value_types import (
    ConfigModel,
    LabelKey,
    LabelValue,
    NestedKeyError,
    SecretName,
    args_default,
    checked,
    fail,
)
from canary.plan.gateway import GatewayTls, IstioGatewayArgs
from canary.plan.istio_routing import DEFAULT_VERSION_HEADER
from canary.plan.release import CanaryReleaseArgs, RoutingApi
from canary.plan.rules import checks


class TlsSettings(ConfigModel):
    """HTTPS on the gateway: a 443 server terminating TLS with a Kubernetes Secret."""

    credential_name: SecretName = Field(
        alias="credentialName",
        description="The Kubernetes TLS Secret (certificate and key): in `gateway.namespace` as Istio requires, or "
        "with `routing.api: gateway-api` in the app's namespace, beside its Gateway.",
    )
    https_redirect: StrictBool = Field(
        default=args_default(GatewayTls, "https_redirect"),
        alias="httpsRedirect",
        description="Port 80 redirects to HTTPS; `false` serves plain HTTP on port 80 as well.",
    )


class GatewaySettings(ConfigModel):
    selector: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: args_default(IstioGatewayArgs, "selector"),
        description="Labels of the ingress gateway pods that serve the Gateway (`istioctl install` labels them "
        "`istio: ingressgateway`). With `routing.api: gateway-api` Istio runs the Gateway's own pods, in the "
        "app's namespace, and this selects nothing there.",
    )
    namespace: Annotated[StrictStr, checked(checks.gateway_namespace_name)] = Field(
        default=args_default(CanaryReleaseArgs, "gateway_namespace"),
        description="Where the ingress gateway pods run: the NetworkPolicy admits them from there, and the TLS "
        "Secret lives there.",
    )
    tls: TlsSettings | None = Field(
        default=None, description="HTTPS: adds a 443 server terminating TLS (mode SIMPLE) with `credentialName`."
    )
    class_name: Annotated[StrictStr, checked(checks.dns_subdomain)] = Field(
        default=args_default(CanaryReleaseArgs, "gateway_class"),
        alias="className",
        description="The GatewayClass of the Gateway when `routing.api` is `gateway-api`.",
    )

    @pydantic.field_validator("selector")
    @classmethod
    def _selector_not_empty(cls, selector: dict[str, str]) -> dict[str, str]:
        if not selector and checks.gateway_selector.empty_reason:
            raise ValueError(checks.gateway_selector.empty_reason)
        return selector


def _header_name_or_false(value: Any) -> str | Literal[False]:
    if value is False:
        return False
    if not isinstance(value, str):
        fail("must be a lower-case header name, or false to turn the header off")
    if (reason := checks.response_header_name(value)) is not None:
        fail(reason)
    return value


class RoutingSettings(ConfigModel):
    version_header: Annotated[str | Literal[False], pydantic.BeforeValidator(_header_name_or_false)] = Field(
        default=DEFAULT_VERSION_HEADER,
        alias="versionHeader",
        description="Response header, set by the mesh per destination, naming the version that answered; "
        "`false` turns it off.",
    )
    mesh: StrictBool = Field(
        default=args_default(CanaryReleaseArgs, "mesh"),
        description="`true` binds the VirtualService to the `mesh` gateway too, so in-mesh callers of the Service "
        "(east-west traffic) follow the same routes.",
    )
    api: RoutingApi = Field(
        default=args_default(CanaryReleaseArgs, "routing_api"),
        description="`istio`: an Istio Gateway, a DestinationRule and a VirtualService; `gateway-api`: a Kubernetes "
        "Gateway API Gateway and HTTPRoute, with one Service per version.",
    )

    @pydantic.model_validator(mode="after")
    def _mesh_only_with_istio(self) -> RoutingSettings:
        if self.mesh and self.api == "gateway-api":
            raise NestedKeyError("mesh", self.mesh, checks.MESH_NEEDS_ISTIO)
        return self


class SecuritySettings(ConfigModel):
    mtls: StrictBool = Field(
        default=args_default(CanaryReleaseArgs, "mtls"),
        description="A PeerAuthentication `default` with mode STRICT: the namespace's sidecars accept only "
        "mutual-TLS connections. With `createNamespace: false`, `<app>-mtls` for the app's pods only.",
    )
    network_policy: StrictBool = Field(
        default=args_default(CanaryReleaseArgs, "network_policy"),
        alias="networkPolicy",
        description="A NetworkPolicy admitting only the ingress gateway pods (`gateway.selector` in "
        "`gateway.namespace`) and the namespace's own pods; it covers every pod of the namespace, or with "
        "`createNamespace: false` the app's pods only.",
    )
