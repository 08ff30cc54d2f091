"""The rules in Istio's spelling: a DestinationRule with one subset per version, and the VirtualService.

What each kind of request sees (`routes`) and which versions must be ready before the rules
change (the readiness waits) are both read off the generated VirtualService by
`canary.router.IstioRouter`, so they say what Istio will do with this very spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from canary.plan import istio_blocks
from canary.plan.backend import Backend, ComponentKind, Manifest, Ref, metadata
from canary.plan.canary_rules import Canary, Match, Rule, rules, set_cookie
from canary.plan.cookie import cookie_regex
from canary.plan.istio import NETWORKING_API_VERSIONS, IstioApiVersion
from canary.plan.read_back import read_back
from canary.plan.rules import checks
from canary.router import IstioRouter

if TYPE_CHECKING:
    import pulumi

EXTERNAL_DNS_TARGET = "external-dns.alpha.kubernetes.io/target"
# Istio's reserved gateway name for every sidecar in the mesh.
MESH_GATEWAY = "mesh"
DEFAULT_VERSION_HEADER = "x-canary-version"


@dataclass(frozen=True)
class RoutingRulesArgs:
    namespace: pulumi.Input[str]
    """The release's namespace, where the DestinationRule and the VirtualService are declared. Required."""
    app: str
    """The app's name; the rules are `<app>-destinationrule` and `<app>-virtualservice`. Required."""
    hosts: Sequence[pulumi.Input[str]]
    """External host names the VirtualService routes; a leading `*.` wildcard is allowed. Required."""
    service_host: pulumi.Input[str]
    """The Service the versions run behind (`AppService.name`). Required."""
    gateway: pulumi.Input[str]
    """The Gateway to bind to (`IstioGateway.name`). Required."""
    subsets: Mapping[str, Mapping[str, str]]
    """Per version, the labels of its pods that no other version has (`AppVersion.version_labels`). Required."""
    stable: str
    """The version that gets the default traffic: every request the canary's rules do not select. Required."""
    canary: Canary | None = None
    """The canary version and who reaches it (cookie, headers, weight); None: all traffic to `stable`.
    Default: `None`."""
    version_header: str | None = DEFAULT_VERSION_HEADER
    """Response header, set by the mesh per destination, naming the version; None for none.
    Default: `"x-canary-version"`."""
    load_balancer_dns: pulumi.Input[str] | None = None
    """The external-dns target annotation on the VirtualService. Default: `None`."""
    mesh: bool = False
    """Also route in-mesh callers of the Service (the `mesh` gateway) by the same rules. Default: `False`."""
    route_targets: Mapping[str, Any] = field(default_factory=dict)
    """Per version, what must be ready before traffic goes there (its Deployment). Default: `{}`."""
    api_version: IstioApiVersion = NETWORKING_API_VERSIONS[0]
    """The API version of the Istio networking objects; an older mesh may need an older one.
    Default: `"networking.istio.io/v1"`."""
    https: bool = False
    """The hosts are served over HTTPS: sticky cookies are marked Secure. Default: `False`."""
    traffic_policy: Mapping[str, Any] = field(default_factory=dict)
    """The DestinationRule's `trafficPolicy`, as Istio spells it (`connectionPool`, `outlierDetection`, ...).
    Default: `{}`."""
    http_route: Mapping[str, Any] = field(default_factory=dict)
    """Fields of every VirtualService HTTP route beside the routing: `timeout`, `retries`, `corsPolicy`.
    Default: `{}`."""
    destination_port: int | None = None
    """The Service port every destination names; needed once the Service has more than one port (else Istio
    routes to the gateway's own port number). Default: `None`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "namespace": checks.namespace_name,
        "app": checks.app_name,
        "hosts": checks.hosts,
        "service_host": checks.dns_subdomain,
        # A Gateway's name, or `<namespace>/<name>` for one in another namespace.
        "gateway": checks.gateway_reference,
        "subsets": checks.Entries(
            key=checks.version_name, value=checks.pod_selector, empty_reason="must list at least one version"
        ),
        "stable": checks.version_name,
        "canary": checks.optional_instance(Canary, "Canary"),
        "version_header": checks.optional(checks.response_header_name),
        "load_balancer_dns": checks.load_balancer_dns,
        "mesh": checks.boolean,
        "api_version": checks.one_of(*NETWORKING_API_VERSIONS),
        "https": checks.boolean,
        "destination_port": checks.optional(checks.port),
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)
        checks.refuse_unknown_versions(self, list(self.subsets), self.stable, self.canary, "subsets")
        cookies = istio_blocks.routed_cookies(self.canary)
        for path, value, reason in istio_blocks.traffic_policy_problems(self.traffic_policy, cookies):
            checks.refuse(self, f"traffic_policy.{path}" if path else "traffic_policy", value, reason)
        for path, value, reason in istio_blocks.http_route_problems(self.http_route, "istio"):
            checks.refuse(self, f"http_route.{path}" if path else "http_route", value, reason)


@dataclass(frozen=True)
class RoutingRulesParts:
    destination_rule: Ref
    virtual_service: Ref
    routes: list[dict[str, Any]]
    """What each kind of request sees: `[{"when": ..., "split": {version: percent}}]` (`canary.router.contract`)."""

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
            **({"trafficPolicy": dict(args.traffic_policy)} if args.traffic_policy else {}),
        },
    }


def _match(match: Match) -> dict[str, Any]:
    """One entry of a match list; Istio ANDs the conditions inside an entry."""
    conditions: dict[str, Any] = {}
    if match.cookie:
        conditions["cookie"] = {"regex": cookie_regex(match.cookie)}
    for name, value in match.headers.items():
        conditions[name] = {"exact": value}
    return {"headers": conditions}


def _target(service_host: pulumi.Input[str], version: str, port: int | None) -> dict[str, Any]:
    return {"host": service_host, "subset": version, **({"port": {"number": port}} if port is not None else {})}


def _destination(
    service_host: pulumi.Input[str],
    version: str,
    weight: int | None,
    rule: Rule,
    version_header: str | None,
    secure: bool,
    port: int | None = None,
) -> dict[str, Any]:
    destination: dict[str, Any] = {"destination": _target(service_host, version, port)}
    if weight is not None:
        destination["weight"] = weight
    # Set by the mesh, per destination: the answer names the version it was routed to, whatever
    # the app itself prints, and a sticky cookie pins the client to it.
    response: dict[str, Any] = {}
    if version_header:
        response["set"] = {version_header: version}
    if rule.sticky is not None:
        # `add`, not `set`: the app's own cookies stay.
        response["add"] = {"set-cookie": set_cookie(rule.sticky, version, secure)}
    if response:
        destination["headers"] = {"response": response}
    return destination


def virtual_service_route(
    rule: Rule,
    service_host: pulumi.Input[str],
    version_header: str | None,
    secure: bool,
    http_route: Mapping[str, Any] | None = None,
    port: int | None = None,
) -> dict[str, Any]:
    """One rule as an HTTP route of the VirtualService."""
    route: dict[str, Any] = {"name": rule.name}
    if rule.matches:
        route["match"] = [_match(match) for match in rule.matches]
    # A lone destination gets everything, and Istio then needs no weight.
    weighted = len(rule.split) > 1
    route["route"] = [
        _destination(service_host, version, percent if weighted else None, rule, version_header, secure, port)
        for version, percent in rule.split.items()
    ]
    if rule.mirror is not None:
        version, percent = rule.mirror
        route["mirror"] = _target(service_host, version, port)
        route["mirrorPercentage"] = {"value": percent}
    # Every route, whichever requests it takes: a timeout or a retry policy holds for all of them.
    route.update(http_route or {})
    return route


def virtual_service_spec(
    *,
    hosts: Sequence[pulumi.Input[str]],
    gateways: Sequence[pulumi.Input[str]],
    service_host: pulumi.Input[str],
    stable: str,
    canary: Canary | None,
    version_header: str | None,
    secure: bool = False,
    http_route: Mapping[str, Any] | None = None,
    port: int | None = None,
) -> dict[str, Any]:
    http = [
        virtual_service_route(rule, service_host, version_header, secure, http_route, port)
        for rule in rules(stable, canary)
    ]
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
            secure=args.https,
            http_route=args.http_route,
            port=args.destination_port,
        ),
    }


def plan_routing_rules(backend: Backend, name: str, args: RoutingRulesArgs) -> RoutingRulesParts:
    subsets = backend.object(f"{name}-destinationrule", destination_rule(args))
    manifest = virtual_service(args)
    reading = read_back(backend, IstioRouter(manifest["spec"]), args.stable, args.canary, args.route_targets)
    # No data links the routes to the subsets either: a route to a subset that does not exist yet
    # answers 503.
    service = backend.object(f"{name}-virtualservice", manifest, depends_on=[subsets, *reading.waits_for])
    return RoutingRulesParts(destination_rule=subsets, virtual_service=service, routes=reading.routes)


ROUTING_RULES: ComponentKind[RoutingRulesArgs, RoutingRulesParts] = ComponentKind(
    type_token="canary:index:RoutingRules", plan=plan_routing_rules
)
