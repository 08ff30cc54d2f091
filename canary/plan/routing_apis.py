"""One row per routing API: the plan that writes the release's routing in it, and the router that reads it back.

As flagger's router factory picks one router per mesh, the release looks its routing up here by
`routing_api`; adding an API is adding a row. Each row's `args` says how the release's Args become
the routing component's; the `router` is what that component's plan reads its generated object
with, to say what each kind of request will see (its routes output).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from canary.plan.backend import Backend, ComponentKind
from canary.plan.gateway import ISTIO_GATEWAY, IstioGatewayArgs
from canary.plan.gateway_api import GATEWAY_API_ROUTING, GatewayApiRoutingArgs
from canary.plan.istio_routing import ROUTING_RULES, RoutingRulesArgs
from canary.router import GatewayApiRouter, IstioRouter, Router

if TYPE_CHECKING:
    from canary.plan.app_version import AppVersionParts
    from canary.plan.release import CanaryReleaseArgs

RoutingArgs = Callable[[Backend, str, "CanaryReleaseArgs", Any, Any, "Mapping[str, AppVersionParts]"], Any]
"""(backend, release name, release Args, namespace, the app Service's host, parts per version) -> the Args."""


@dataclass(frozen=True)
class RoutingApi:
    plan: ComponentKind[Any, Any]
    """The component whose plan writes the routing objects; its parts carry `routes`."""
    args: RoutingArgs
    router: Callable[..., Router]
    """The router its plan reads the generated object back with."""


def plan_routing(
    backend: Backend,
    name: str,
    args: CanaryReleaseArgs,
    ns: Any,
    service_host: Any,
    versions: Mapping[str, AppVersionParts],
) -> list[dict[str, Any]]:
    """Declare the release's routing in its `routing_api`; what each kind of request sees."""
    api = ROUTING_APIS[args.routing_api]
    routing = backend.child(api.plan, f"{name}-routing", api.args(backend, name, args, ns, service_host, versions))
    routes: list[dict[str, Any]] = routing.parts.routes
    return routes


def _istio_args(
    backend: Backend,
    name: str,
    args: CanaryReleaseArgs,
    ns: Any,
    service_host: Any,
    versions: Mapping[str, AppVersionParts],
) -> RoutingRulesArgs:
    gateway = backend.child(
        ISTIO_GATEWAY,
        f"{name}-gateway",
        IstioGatewayArgs(
            namespace=ns,
            app=args.app,
            hosts=args.hosts,
            selector=args.gateway_selector,
            tls=args.tls,
            api_version=args.istio_api_version,
        ),
    ).parts
    return RoutingRulesArgs(
        namespace=ns,
        app=args.app,
        hosts=args.hosts,
        service_host=service_host,
        gateway=gateway.gateway.name,
        subsets={version: parts.version_labels for version, parts in versions.items()},
        stable=args.stable_version,
        canary=args.canary,
        version_header=args.version_header,
        load_balancer_dns=args.load_balancer_dns,
        mesh=args.mesh,
        route_targets={version: parts.deployment for version, parts in versions.items()},
        api_version=args.istio_api_version,
        https=args.tls is not None,
        traffic_policy=args.traffic_policy,
        http_route=args.http_route,
        # With ports beside the routed one, Istio must be told which port the routes go to.
        destination_port=args.port if args.service_ports else None,
    )


def _gateway_api_args(
    backend: Backend,
    name: str,
    args: CanaryReleaseArgs,
    ns: Any,
    service_host: Any,
    versions: Mapping[str, AppVersionParts],
) -> GatewayApiRoutingArgs:
    # The Gateway API's own Gateway and HTTPRoute replace Istio's Gateway, DestinationRule and
    # VirtualService; its backends are per-version Services, not subsets of `service_host`.
    return GatewayApiRoutingArgs(
        namespace=ns,
        app=args.app,
        hosts=args.hosts,
        # Each version's Service selects its pods as the DestinationRule's subset would.
        selectors={version: {**parts.app_labels, **parts.version_labels} for version, parts in versions.items()},
        stable=args.stable_version,
        canary=args.canary,
        port=args.port,
        gateway_class=args.gateway_class,
        tls=args.tls,
        version_header=args.version_header,
        load_balancer_dns=args.load_balancer_dns,
        route_targets={version: parts.deployment for version, parts in versions.items()},
        traffic_policy=args.traffic_policy,
        http_route=args.http_route,
        istio_api_version=args.istio_api_version,
    )


ROUTING_APIS: dict[str, RoutingApi] = {
    "istio": RoutingApi(plan=ROUTING_RULES, args=_istio_args, router=IstioRouter),
    "gateway-api": RoutingApi(plan=GATEWAY_API_ROUTING, args=_gateway_api_args, router=GatewayApiRouter),
}
