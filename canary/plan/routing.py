"""The routing rules: a DestinationRule with one subset per version, and the VirtualService.

What each kind of request sees (`routes`) and which versions must be ready before the rules
change (the readiness waits) are both read off the generated VirtualService by `canary.mesh`,
so they say what Istio will do with this very spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from canary import mesh
from canary.cookie import cookie_regex
from canary.plan.backend import Backend, ComponentKind, Manifest, Ref, metadata
from canary.plan.istio import NETWORKING_API_VERSIONS
from canary.routes import request_shapes, routes_through

if TYPE_CHECKING:
    import pulumi

EXTERNAL_DNS_TARGET = "external-dns.alpha.kubernetes.io/target"
# Istio's reserved gateway name for every sidecar in the mesh.
MESH_GATEWAY = "mesh"
DEFAULT_VERSION_HEADER = "x-canary-version"


@dataclass(frozen=True)
class Sticky:
    """Pin each client of the weighted route to the version that first answered it, by a cookie."""

    cookie: str
    """The cookie's name; its value names the version (`<cookie>=<version>`)."""
    max_age: int = 86400
    """Seconds the browser keeps the cookie."""


@dataclass(frozen=True)
class Canary:
    """Which requests the canary version receives."""

    version: str
    cookie: str | None = None
    """`name=value`: requests carrying this cookie, wherever it sits in the Cookie header."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Requests carrying all of these headers with exactly these values (names lower-case)."""
    weight: int = 0
    """Percent (0-100) of the other requests."""
    sticky: Sticky | None = None
    """While 0 < weight < 100, keep each client of the weighted route on one version."""
    mirror: float = 0.0
    """Percent (0-100) of the default route's requests also sent to the canary, answers discarded."""


@dataclass(frozen=True)
class RoutingRulesArgs:
    namespace: pulumi.Input[str]
    app: str
    """The app's name; the rules are `<app>-destinationrule` and `<app>-virtualservice`."""
    hosts: Sequence[pulumi.Input[str]]
    service_host: pulumi.Input[str]
    """The Service the versions run behind (`AppService.name`)."""
    gateway: pulumi.Input[str]
    """The Gateway to bind to (`IstioGateway.name`)."""
    subsets: Mapping[str, Mapping[str, str]]
    """Per version, the labels of its pods that no other version has (`AppVersion.version_labels`)."""
    stable: str
    canary: Canary | None = None
    version_header: str | None = DEFAULT_VERSION_HEADER
    """Response header, set by the mesh per destination, naming the version; None for none."""
    load_balancer_dns: pulumi.Input[str] | None = None
    """The external-dns target annotation on the VirtualService."""
    mesh: bool = False
    """Also route in-mesh callers of the Service (the `mesh` gateway) by the same rules."""
    route_targets: Mapping[str, Any] = field(default_factory=dict)
    """Per version, what must be ready before traffic goes there (its Deployment)."""
    api_version: str = NETWORKING_API_VERSIONS[0]


@dataclass(frozen=True)
class RoutingRulesParts:
    destination_rule: Ref
    virtual_service: Ref
    routes: list[dict[str, Any]]
    """What each kind of request sees: `[{"when": ..., "split": {version: percent}}]` (`canary.routes`)."""

    @property
    def outputs(self) -> dict[str, Any]:
        return {
            "destination_rule_name": self.destination_rule.name,
            "virtual_service_name": self.virtual_service.name,
            "routes": self.routes,
        }


def destination_rule(args: RoutingRulesArgs) -> Manifest:
    return {
        "apiVersion": args.api_version,
        "kind": "DestinationRule",
        "metadata": metadata(f"{args.app}-destinationrule", args.namespace),
        "spec": {
            "host": args.service_host,
            "subsets": [{"name": version, "labels": dict(labels)} for version, labels in args.subsets.items()],
        },
    }


def _destination(
    service_host: pulumi.Input[str], version: str, version_header: str | None, weight: int | None
) -> dict[str, Any]:
    destination: dict[str, Any] = {"destination": {"host": service_host, "subset": version}}
    if weight is not None:
        destination["weight"] = weight
    if version_header:
        # Set by the mesh, per destination: the response names the version it was routed to,
        # whatever the app itself prints.
        destination["headers"] = {"response": {"set": {version_header: version}}}
    return destination


def canary_matches(canary: Canary) -> list[dict[str, Any]]:
    """The request matches that select the canary; Istio ORs the entries of a match list."""
    matches: list[dict[str, Any]] = []
    if canary.cookie:
        matches.append({"headers": {"cookie": {"regex": cookie_regex(canary.cookie)}}})
    if canary.headers:
        # Within one match entry Istio ANDs the headers: all of them are required.
        matches.append({"headers": {name: {"exact": value} for name, value in canary.headers.items()}})
    return matches


def virtual_service_spec(
    *,
    hosts: Sequence[pulumi.Input[str]],
    gateways: Sequence[pulumi.Input[str]],
    service_host: pulumi.Input[str],
    stable: str,
    canary: Canary | None,
    version_header: str | None,
) -> dict[str, Any]:
    http: list[dict[str, Any]] = []
    if canary is not None and (matches := canary_matches(canary)):
        http.append(
            {
                "name": "canary-testers",
                "match": matches,
                "route": [_destination(service_host, canary.version, version_header, None)],
            }
        )
    shares = {stable: 100} if canary is None else {stable: 100 - canary.weight, canary.version: canary.weight}
    # A weight-0 destination carries nothing; leaving it out keeps a single destination, which
    # Istio then sends all traffic without needing a weight.
    shares = {version: percent for version, percent in shares.items() if percent > 0}
    weighted = len(shares) > 1
    http.append(
        {
            "name": "default",
            "route": [
                _destination(service_host, version, version_header, percent if weighted else None)
                for version, percent in shares.items()
            ],
        }
    )
    return {"hosts": list(hosts), "gateways": list(gateways), "http": http}


def virtual_service(args: RoutingRulesArgs) -> Manifest:
    annotations = {EXTERNAL_DNS_TARGET: args.load_balancer_dns} if args.load_balancer_dns else None
    return {
        "apiVersion": args.api_version,
        "kind": "VirtualService",
        "metadata": metadata(f"{args.app}-virtualservice", args.namespace, annotations=annotations),
        "spec": virtual_service_spec(
            # For the `mesh` gateway the host is the Service, as in-mesh callers name it.
            hosts=[*args.hosts, args.service_host] if args.mesh else args.hosts,
            gateways=[args.gateway, MESH_GATEWAY] if args.mesh else [args.gateway],
            service_host=args.service_host,
            stable=args.stable,
            canary=args.canary,
            version_header=args.version_header,
        ),
    }


def plan_routing_rules(backend: Backend, name: str, args: RoutingRulesArgs) -> RoutingRulesParts:
    rule = backend.object(f"{name}-destinationrule", destination_rule(args))
    manifest = virtual_service(args)
    routed = mesh.routed_subsets(manifest["spec"])
    # Make before break. No data links the routes to the subsets or the pods, yet a route to a
    # subset that does not exist yet answers 503, and a route to pods that are not ready sends
    # users to a canary that is not up. pulumi-kubernetes marks a Deployment created only once its
    # rollout is ready, so waiting on it is waiting on the pods. A version no request can reach
    # is not waited for: a broken dark version must not block an unrelated update.
    targets = [args.route_targets[version] for version in routed if version in args.route_targets]
    service = backend.object(f"{name}-virtualservice", manifest, depends_on=[rule, *targets])
    canary = args.canary
    shapes = request_shapes(canary.cookie, canary.headers) if canary is not None else request_shapes(None, None)
    routes = routes_through(manifest["spec"], shapes)
    if canary is not None and canary.version not in routed:
        backend.warn(
            f"canary {canary.version} receives no traffic: it has no cookie, no headers and weight 0; "
            "give it canary.headers (or a cookie) to keep it reachable for testers"
        )
    return RoutingRulesParts(destination_rule=rule, virtual_service=service, routes=routes)


ROUTING_RULES: ComponentKind[RoutingRulesArgs, RoutingRulesParts] = ComponentKind(
    type_token="canary:index:RoutingRules", plan=plan_routing_rules, component="canary.routing:RoutingRules"
)
