"""The whole canary release: namespace, one AppVersion per version, Service, Gateway, routing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from canary.app_version import AppVersion, AppVersionArgs
from canary.gateway import IstioGateway, IstioGatewayArgs
from canary.namespace_security import NamespaceSecurity, NamespaceSecurityArgs
from canary.routing import RoutingRules, RoutingRulesArgs, expected_routes
from canary.service import AppService, AppServiceArgs
from canary.settings import StackSettings


def urls(settings: StackSettings) -> list[str]:
    """One URL per concrete host; a wildcard host names no single address to visit."""
    scheme = "https" if settings.gateway.tls is not None else "http"
    return [f"{scheme}://{host}/" for host in settings.hosts if not host.startswith("*.")]


@dataclass(frozen=True)
class CanaryReleaseArgs:
    settings: StackSettings


class CanaryRelease(pulumi.ComponentResource):
    """Everything one canary release needs, composed from the smaller components."""

    namespace: pulumi.Output[str]
    """The namespace the release lives in (created, with Istio sidecar injection on)."""
    urls: pulumi.Output[list[str]]
    """The external URLs of the app, one per concrete host."""
    routes: pulumi.Output[list[dict[str, Any]]]
    """What each kind of request should see: `[{"when": ..., "split": {version: percent}}]`."""

    def __init__(self, name: str, args: CanaryReleaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("canary:index:CanaryRelease", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=settings.namespace, labels={"istio-injection": "enabled"}),
            opts=child,
        )
        # Children take the namespace from the Namespace's output, so each is created after it
        # and deleted before it.
        namespace_name = namespace.metadata.name

        if settings.security.mtls or settings.security.network_policy:
            # Before the workloads, so that no pod ever runs without them.
            security = NamespaceSecurity(
                f"{name}-security",
                NamespaceSecurityArgs(
                    namespace=namespace_name,
                    app=settings.app,
                    istio_api_version=settings.istio_api_version,
                    mtls=settings.security.mtls,
                    network_policy=settings.security.network_policy,
                    gateway_namespace=settings.gateway.namespace,
                    gateway_selector=settings.gateway.selector,
                ),
                opts=child,
            )
            workload_opts = pulumi.ResourceOptions(parent=self, depends_on=[security])
        else:
            workload_opts = child

        versions = {
            version.name: AppVersion(
                f"{name}-{version.name}",
                AppVersionArgs(namespace=namespace_name, app=settings.app, port=settings.port, version=version),
                opts=workload_opts,
            )
            for version in settings.versions
        }
        service = AppService(
            f"{name}-service",
            AppServiceArgs(namespace=namespace_name, app=settings.app, port=settings.port),
            opts=child,
        )
        gateway = IstioGateway(
            f"{name}-gateway",
            IstioGatewayArgs(
                namespace=namespace_name,
                app=settings.app,
                api_version=settings.istio_api_version,
                hosts=settings.hosts,
                selector=settings.gateway.selector,
                tls=settings.gateway.tls,
            ),
            opts=child,
        )
        routed = [settings.stable_version] + ([settings.canary_version] if settings.canary_version else [])
        RoutingRules(
            f"{name}-routing",
            RoutingRulesArgs(
                namespace=namespace_name,
                app=settings.app,
                api_version=settings.istio_api_version,
                hosts=settings.hosts,
                service_name=service.name,
                gateway_name=gateway.name,
                versions=list(versions),
                stable=settings.stable_version,
                canary=settings.canary,
                version_header=settings.routing.version_header or None,
                load_balancer_dns=settings.load_balancer_dns,
                mesh=settings.routing.mesh,
                route_targets=[versions[version].deployment for version in routed],
            ),
            opts=child,
        )

        self.namespace = namespace_name
        self.urls = pulumi.Output.from_input(urls(settings))
        self.routes = pulumi.Output.from_input(expected_routes(settings.stable_version, settings.canary))
        self.register_outputs({"namespace": self.namespace, "urls": self.urls, "routes": self.routes})
