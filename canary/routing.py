"""The routing rules: a DestinationRule with one subset per version, and the VirtualService.

The pure `*_spec` functions build the CRD specs as plain dicts whose keys are spelled as the
Istio schema spells them; `RoutingRules` registers them. `expected_routes` states, for the
verifier, what traffic each kind of request should see under those rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from canary.api_versions import same_object_aliases
from canary.cookie import cookie_regex
from canary.settings import ISTIO_API_VERSIONS, CanarySettings

EXTERNAL_DNS_TARGET = "external-dns.alpha.kubernetes.io/target"
# Istio's reserved gateway name for every sidecar in the mesh.
MESH_GATEWAY = "mesh"


def destination_rule_spec(service_host: str, versions: Sequence[str]) -> dict[str, Any]:
    return {
        "host": service_host,
        "subsets": [{"name": version, "labels": {"version": version}} for version in versions],
    }


def _destination(service_host: str, version: str, version_header: str | None, weight: int | None) -> dict[str, Any]:
    destination: dict[str, Any] = {"destination": {"host": service_host, "subset": version}}
    if weight is not None:
        destination["weight"] = weight
    if version_header:
        # Set by the mesh, per destination: the response names the version it was routed to,
        # whatever the app itself prints.
        destination["headers"] = {"response": {"set": {version_header: version}}}
    return destination


def canary_matches(canary: CanarySettings) -> list[dict[str, Any]]:
    """The request matches that select the canary; Istio ORs the entries of a match list."""
    matches: list[dict[str, Any]] = []
    if canary.cookie:
        matches.append({"headers": {"cookie": {"regex": cookie_regex(canary.cookie)}}})
    if canary.headers:
        # Within one match entry Istio ANDs the headers: all of them are required.
        matches.append({"headers": {name: {"exact": value} for name, value in canary.headers.items()}})
    return matches


def default_split(stable: str, canary: CanarySettings | None) -> dict[str, int]:
    """Percent of unmatched requests per version; the canary's share is its weight."""
    if canary is None:
        return {stable: 100}
    return {stable: 100 - canary.weight, canary.version: canary.weight}


def virtual_service_spec(
    *,
    hosts: Sequence[str],
    gateways: Sequence[str],
    service_host: str,
    stable: str,
    canary: CanarySettings | None,
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
    # A weight-0 destination carries nothing; leaving it out keeps a single destination, which
    # Istio then sends all traffic without needing a weight.
    shares = {version: pct for version, pct in default_split(stable, canary).items() if pct > 0}
    weighted = len(shares) > 1
    http.append(
        {
            "name": "default",
            "route": [
                _destination(service_host, version, version_header, pct if weighted else None)
                for version, pct in shares.items()
            ],
        }
    )
    return {"hosts": list(hosts), "gateways": list(gateways), "http": http}


def expected_routes(stable: str, canary: CanarySettings | None) -> list[dict[str, Any]]:
    """What each kind of request should see: `[{"when": ..., "split": {version: percent}}]`."""
    routes: list[dict[str, Any]] = []
    if canary is not None:
        if canary.cookie:
            routes.append({"when": {"cookie": canary.cookie}, "split": {canary.version: 100}})
        if canary.headers:
            routes.append({"when": {"headers": dict(canary.headers)}, "split": {canary.version: 100}})
    routes.append({"when": {}, "split": default_split(stable, canary)})
    return routes


@dataclass(frozen=True)
class RoutingRulesArgs:
    namespace: pulumi.Input[str]
    app: str
    api_version: str
    hosts: Sequence[str]
    service_name: pulumi.Input[str]
    gateway_name: pulumi.Input[str]
    versions: Sequence[str]
    stable: str
    canary: CanarySettings | None
    version_header: str | None
    load_balancer_dns: str | None = None
    # Also bind the rules to the `mesh` gateway: in-mesh callers of the Service are routed alike.
    mesh: bool = False
    # Deployments the routes send traffic to: the VirtualService waits until they are ready.
    route_targets: Sequence[pulumi.Resource] = field(default_factory=list)


class RoutingRules(pulumi.ComponentResource):
    """DestinationRule subsets and the VirtualService that splits traffic between them."""

    destination_rule_name: pulumi.Output[str]
    """Name of the DestinationRule (`<app>-destinationrule`)."""
    virtual_service_name: pulumi.Output[str]
    """Name of the VirtualService (`<app>-virtualservice`)."""

    def __init__(self, name: str, args: RoutingRulesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("canary:index:RoutingRules", name, None, opts)

        destination_rule = k8s.apiextensions.CustomResource(
            f"{name}-destinationrule",
            api_version=args.api_version,
            kind="DestinationRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{args.app}-destinationrule", namespace=args.namespace),
            spec=pulumi.Output.from_input(args.service_name).apply(
                lambda host: destination_rule_spec(host, args.versions)
            ),
            opts=pulumi.ResourceOptions(
                parent=self, aliases=same_object_aliases(args.api_version, "DestinationRule", ISTIO_API_VERSIONS)
            ),
        )

        annotations = {EXTERNAL_DNS_TARGET: args.load_balancer_dns} if args.load_balancer_dns else None
        virtual_service = k8s.apiextensions.CustomResource(
            f"{name}-virtualservice",
            api_version=args.api_version,
            kind="VirtualService",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{args.app}-virtualservice", namespace=args.namespace, annotations=annotations
            ),
            spec=pulumi.Output.all(args.service_name, args.gateway_name).apply(
                lambda names: virtual_service_spec(
                    # For the `mesh` gateway the host is the Service, as in-mesh callers name it.
                    hosts=[*args.hosts, names[0]] if args.mesh else args.hosts,
                    gateways=[names[1], MESH_GATEWAY] if args.mesh else [names[1]],
                    service_host=names[0],
                    stable=args.stable,
                    canary=args.canary,
                    version_header=args.version_header,
                )
            ),
            # Make before break. No data links the routes to the subsets or the pods, yet a route
            # to a subset that does not exist yet answers 503, and a route to pods that are not
            # ready sends users to a canary that is not up. pulumi-kubernetes marks a Deployment
            # created only once its rollout is ready, so waiting on it is waiting on the pods.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[destination_rule, *args.route_targets],
                aliases=same_object_aliases(args.api_version, "VirtualService", ISTIO_API_VERSIONS),
            ),
        )

        self.destination_rule_name = destination_rule.metadata.apply(lambda m: m["name"])
        self.virtual_service_name = virtual_service.metadata.apply(lambda m: m["name"])
        self.register_outputs(
            {
                "destination_rule_name": self.destination_rule_name,
                "virtual_service_name": self.virtual_service_name,
            }
        )
