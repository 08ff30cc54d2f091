"""The Istio Gateway: the hosts the ingress gateway accepts, over HTTP and optionally HTTPS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from canary.api_versions import same_object_aliases
from canary.settings import ISTIO_API_VERSIONS, TlsSettings


def gateway_spec(hosts: Sequence[str], selector: Mapping[str, str], tls: TlsSettings | None) -> dict[str, Any]:
    http_server: dict[str, Any] = {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": list(hosts)}
    servers = [http_server]
    if tls is not None:
        if tls.https_redirect:
            # Plain HTTP answers with a 301 to HTTPS instead of serving the app.
            http_server["tls"] = {"httpsRedirect": True}
        servers.append(
            {
                "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                "hosts": list(hosts),
                "tls": {"mode": "SIMPLE", "credentialName": tls.credential_name},
            }
        )
    return {"selector": dict(selector), "servers": servers}


@dataclass(frozen=True)
class IstioGatewayArgs:
    namespace: pulumi.Input[str]
    app: str
    api_version: str
    hosts: Sequence[str]
    selector: Mapping[str, str]
    tls: TlsSettings | None = None


class IstioGateway(pulumi.ComponentResource):
    """An Istio Gateway bound to the ingress gateway pods that `selector` picks."""

    name: pulumi.Output[str]
    """Name of the Gateway (`<app>-gateway`), which the VirtualService binds to."""

    def __init__(self, name: str, args: IstioGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("canary:index:IstioGateway", name, None, opts)
        gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=args.api_version,
            kind="Gateway",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{args.app}-gateway", namespace=args.namespace),
            spec=gateway_spec(args.hosts, args.selector, args.tls),
            opts=pulumi.ResourceOptions(
                parent=self, aliases=same_object_aliases(args.api_version, "Gateway", ISTIO_API_VERSIONS)
            ),
        )
        self.name = gateway.metadata.apply(lambda metadata: metadata["name"])
        self.register_outputs({"name": self.name})
