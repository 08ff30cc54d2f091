"""The release's routing in the Kubernetes Gateway API: a Gateway, one Service per version, an HTTPRoute.

The same rules as the VirtualService (`canary.plan.canary_rules`), in the Gateway API's spelling. The
Gateway API has no subsets: a backend is a Service, so each version gets a Service of its own
(`<app>-<version>`) and the HTTPRoute splits traffic between those, taking them by reference.
What each kind of request sees (`routes`) and what the HTTPRoute waits for are read off the
generated HTTPRoute by `canary.router.GatewayApiRouter`, as for the VirtualService.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar

from canary.plan import istio_blocks
from canary.plan.backend import Backend, ComponentKind, Manifest, Ref, metadata
from canary.plan.canary_rules import Canary, Match, Rule, rules, set_cookie
from canary.plan.cookie import cookie_regex
from canary.plan.gateway import GatewayTls
from canary.plan.istio import NETWORKING_API_VERSIONS, IstioApiVersion
from canary.plan.istio_routing import DEFAULT_VERSION_HEADER, EXTERNAL_DNS_TARGET
from canary.plan.read_back import read_back
from canary.plan.rules import checks
from canary.plan.service import service_name
from canary.router import GatewayApiRouter

if TYPE_CHECKING:
    import pulumi

GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1"
HTTP_LISTENER = "http"
HTTPS_LISTENER = "https"
# A Service's name is a DNS-1035 label: `<app>-<version>` must fit in it.
_MAX_SERVICE_NAME = 63
# The Gateway API's mirror fraction is two int32s; a million as denominator keeps a percent with
# up to four decimals exact.
_MAX_MIRROR_DENOMINATOR = 1_000_000

Services = Mapping[str, "pulumi.Input[str]"]
"""Per version, the name of its Service as the HTTPRoute references it (the Service's Ref name)."""


@dataclass(frozen=True)
class GatewayApiRoutingArgs:
    namespace: pulumi.Input[str]
    """The release's namespace, where the Gateway, the version Services and the HTTPRoute are declared.
    Required."""
    app: str
    """The app's name; the objects are `<app>-gateway`, `<app>-<version>` and `<app>-httproute`. Required."""
    hosts: Sequence[pulumi.Input[str]]
    """External host names the Gateway serves and the HTTPRoute routes; a leading `*.` wildcard is allowed.
    Required."""
    selectors: Mapping[str, Mapping[str, pulumi.Input[str]]]
    """Per version, the labels that select its pods and no other version's (`AppVersion`'s labels). Required."""
    stable: str
    """The version that gets the default traffic: every request the canary's rules do not select. Required."""
    canary: Canary | None = None
    """The canary version and who reaches it (cookie, headers, weight); None: all traffic to `stable`.
    Default: `None`."""
    port: int = 80
    """The app's port: each version's Service port and target port. Default: `80`."""
    gateway_class: str = "istio"
    """The GatewayClass of the Gateway (the implementation that serves it). Default: `"istio"`."""
    tls: GatewayTls | None = None
    """HTTPS on 443 with the Secret `credential_name`, which must live in `namespace`. Default: `None`."""
    version_header: str | None = DEFAULT_VERSION_HEADER
    """Response header, set per version Service, naming the version that answered; None for none.
    Default: `"x-canary-version"`."""
    load_balancer_dns: pulumi.Input[str] | None = None
    """The external-dns target annotation on the Gateway. Default: `None`."""
    route_targets: Mapping[str, Any] = field(default_factory=dict)
    """Per version, what must be ready before traffic goes there (its Deployment). Default: `{}`."""
    traffic_policy: Mapping[str, Any] = field(default_factory=dict)
    """Istio's DestinationRule `trafficPolicy`, on each version's Service (the Gateway API's backends).
    Default: `{}`."""
    http_route: Mapping[str, Any] = field(default_factory=dict)
    """`timeout` becomes every HTTPRoute rule's `timeouts.request`; `retries` and `corsPolicy` are refused.
    Default: `{}`."""
    istio_api_version: IstioApiVersion = NETWORKING_API_VERSIONS[0]
    """API version of the DestinationRules that carry `traffic_policy`. Default: `"networking.istio.io/v1"`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "namespace": checks.namespace_name,
        "app": checks.app_name,
        "hosts": checks.hosts,
        "selectors": checks.Entries(
            key=checks.version_name, value=checks.pod_selector, empty_reason="must list at least one version"
        ),
        "stable": checks.version_name,
        "canary": checks.optional_instance(Canary, "Canary"),
        "port": checks.port,
        "gateway_class": checks.dns_subdomain,
        "tls": checks.optional_instance(GatewayTls, "GatewayTls"),
        "version_header": checks.optional(checks.response_header_name),
        "load_balancer_dns": checks.load_balancer_dns,
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)
        for version in self.selectors:
            checks.refuse(self, f"selectors[{version!r}]", version, version_service_problem(self.app, version))
        checks.refuse_unknown_versions(self, list(self.selectors), self.stable, self.canary, "selectors")
        cookies = istio_blocks.routed_cookies(self.canary)
        for path, value, reason in istio_blocks.traffic_policy_problems(self.traffic_policy, cookies):
            checks.refuse(self, f"traffic_policy.{path}" if path else "traffic_policy", value, reason)
        for path, value, reason in istio_blocks.http_route_problems(self.http_route, "gateway-api"):
            checks.refuse(self, f"http_route.{path}" if path else "http_route", value, reason)


@dataclass(frozen=True)
class GatewayApiRoutingParts:
    gateway: Ref
    services: dict[str, Ref]
    http_route: Ref
    redirect: Ref | None
    routes: list[dict[str, Any]]
    """What each kind of request sees: `[{"when": ..., "split": {version: percent}}]` (`canary.router.contract`)."""

    @property
    def outputs(self) -> dict[str, Any]:
        return {
            "gateway_name": self.gateway.name,
            "service_names": {version: ref.name for version, ref in self.services.items()},
            "http_route_name": self.http_route.name,
            "routes": self.routes,
        }


def version_service_name(app: str, version: str) -> str:
    return f"{app}-{version}"


def version_service_problem(app: str, version: str) -> str | None:
    """Why `version` cannot have a Service of its own beside the app's (routing by the Gateway API), or None."""
    name = version_service_name(app, version)
    if len(name) > _MAX_SERVICE_NAME or name == service_name(app):
        limit = f"at most {_MAX_SERVICE_NAME} characters"
        return f"with the gateway-api routing its Service {name!r} must be a name of {limit} other than the app's"
    return None


def _redirects(tls: GatewayTls | None) -> bool:
    return tls is not None and tls.https_redirect


def gateway(args: GatewayApiRoutingArgs) -> Manifest:
    listeners: list[dict[str, Any]] = [{"name": HTTP_LISTENER, "port": 80, "protocol": "HTTP"}]
    if args.tls is not None:
        listeners.append(
            {
                "name": HTTPS_LISTENER,
                "port": 443,
                "protocol": "HTTPS",
                # A Secret in the Gateway's own namespace: no ReferenceGrant needed.
                "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": args.tls.credential_name}]},
            }
        )
    annotations = {EXTERNAL_DNS_TARGET: args.load_balancer_dns} if args.load_balancer_dns else None
    return {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "Gateway",
        "metadata": metadata(f"{args.app}-gateway", args.namespace, annotations=annotations),
        # The listeners take any host name: the HTTPRoutes' `hostnames` say which ones are served.
        "spec": {"gatewayClassName": args.gateway_class, "listeners": listeners},
    }


def version_service(args: GatewayApiRoutingArgs, version: str) -> Manifest:
    name = version_service_name(args.app, version)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, args.namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(args.selectors[version]),
            # Named `http`, as the app's Service: Istio routes it at layer 7.
            "ports": [{"name": "http", "port": args.port, "targetPort": args.port}],
        },
    }


def _match(match: Match) -> dict[str, Any]:
    """One entry of a rule's matches; the Gateway API ANDs the header conditions inside it."""
    headers: list[dict[str, str]] = []
    if match.cookie:
        # Istio matches RegularExpression with RE2, as the VirtualService's regex.
        headers.append({"type": "RegularExpression", "name": "cookie", "value": cookie_regex(match.cookie)})
    headers += [{"type": "Exact", "name": name, "value": value} for name, value in match.headers.items()]
    return {"headers": headers}


def _response_headers(rule: Rule, version: str, version_header: str | None, secure: bool) -> list[dict[str, Any]]:
    modifier: dict[str, Any] = {}
    if version_header:
        modifier["set"] = [{"name": version_header, "value": version}]
    if rule.sticky is not None:
        # `add`, not `set`: the app's own cookies stay.
        modifier["add"] = [{"name": "set-cookie", "value": set_cookie(rule.sticky, version, secure)}]
    if not modifier:
        return []
    return [{"type": "ResponseHeaderModifier", "responseHeaderModifier": modifier}]


def _backend_ref(
    args: GatewayApiRoutingArgs, services: Services, version: str, weight: int | None, rule: Rule
) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": services[version], "port": args.port}
    if weight is not None:
        ref["weight"] = weight
    # On the backendRef, not the rule: the answer names the version it was routed to, and a
    # sticky cookie pins the client to it.
    filters = _response_headers(rule, version, args.version_header, secure=args.tls is not None)
    if filters:
        ref["filters"] = filters
    return ref


def _mirror(args: GatewayApiRoutingArgs, services: Services, version: str, percent: float) -> dict[str, Any]:
    mirror: dict[str, Any] = {"backendRef": {"name": services[version], "port": args.port}}
    if float(percent).is_integer():
        mirror["percent"] = int(percent)
    else:
        # `percent` is a whole number; a share with decimals needs the fraction.
        share = (Fraction(str(percent)) / 100).limit_denominator(_MAX_MIRROR_DENOMINATOR)
        mirror["fraction"] = {"numerator": share.numerator, "denominator": share.denominator}
    return {"type": "RequestMirror", "requestMirror": mirror}


def http_route_rule(args: GatewayApiRoutingArgs, services: Services, rule: Rule) -> dict[str, Any]:
    """One rule as an HTTPRoute rule."""
    found: dict[str, Any] = {"name": rule.name}
    if rule.matches:
        found["matches"] = [_match(match) for match in rule.matches]
    # A lone backend gets everything; the weights of several are their percents.
    weighted = len(rule.split) > 1
    found["backendRefs"] = [
        _backend_ref(args, services, version, percent if weighted else None, rule)
        for version, percent in rule.split.items()
    ]
    if rule.mirror is not None:
        found["filters"] = [_mirror(args, services, *rule.mirror)]
    found.update(istio_blocks.gateway_api_timeouts(args.http_route))
    return found


def version_traffic_policy(args: GatewayApiRoutingArgs, version: str, service: pulumi.Input[str]) -> Manifest:
    """Istio's DestinationRule on one version's Service: where the Gateway API's backends take a traffic policy."""
    return {
        "apiVersion": args.istio_api_version,
        "kind": "DestinationRule",
        "metadata": metadata(f"{version_service_name(args.app, version)}-trafficpolicy", args.namespace),
        "spec": {"host": service, "trafficPolicy": dict(args.traffic_policy)},
    }


def _parent(gateway_name: pulumi.Input[str], listener: str | None) -> dict[str, Any]:
    parent: dict[str, Any] = {"name": gateway_name}
    if listener is not None:
        parent["sectionName"] = listener
    return parent


def http_route(args: GatewayApiRoutingArgs, gateway_name: pulumi.Input[str], services: Services) -> Manifest:
    # With the redirect, plain HTTP belongs to the redirect route: the app is served on HTTPS only.
    listener = HTTPS_LISTENER if _redirects(args.tls) else None
    return {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "HTTPRoute",
        "metadata": metadata(f"{args.app}-httproute", args.namespace),
        "spec": {
            "parentRefs": [_parent(gateway_name, listener)],
            "hostnames": list(args.hosts),
            "rules": [http_route_rule(args, services, rule) for rule in rules(args.stable, args.canary)],
        },
    }


def https_redirect(args: GatewayApiRoutingArgs, gateway_name: pulumi.Input[str]) -> Manifest:
    """Every plain-HTTP request answered with a 301 to the same URL on HTTPS (port 443, by the scheme)."""
    redirect = {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}
    return {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "HTTPRoute",
        "metadata": metadata(f"{args.app}-https-redirect", args.namespace),
        "spec": {
            "parentRefs": [_parent(gateway_name, HTTP_LISTENER)],
            "hostnames": list(args.hosts),
            "rules": [{"name": "https-redirect", "filters": [redirect]}],
        },
    }


def plan_gateway_api_routing(backend: Backend, name: str, args: GatewayApiRoutingArgs) -> GatewayApiRoutingParts:
    created = backend.object(f"{name}-gateway", gateway(args))
    services = {
        version: backend.object(f"{name}-{version}", version_service(args, version)) for version in args.selectors
    }
    # The backendRefs name each Service by its Ref, so the HTTPRoute follows the Services from the
    # data (a backendRef to a Service that does not exist yet answers 500).
    manifest = http_route(args, created.name, {version: ref.name for version, ref in services.items()})
    router = GatewayApiRouter(manifest["spec"], {ref.name: version for version, ref in services.items()})
    reading = read_back(backend, router, args.stable, args.canary, args.route_targets)
    if args.traffic_policy:
        for version, ref in services.items():
            backend.object(f"{name}-{version}-trafficpolicy", version_traffic_policy(args, version, ref.name))
    route = backend.object(f"{name}-httproute", manifest, depends_on=reading.waits_for)
    redirect = (
        backend.object(f"{name}-https-redirect", https_redirect(args, created.name)) if _redirects(args.tls) else None
    )
    return GatewayApiRoutingParts(
        gateway=created, services=services, http_route=route, redirect=redirect, routes=reading.routes
    )


GATEWAY_API_ROUTING: ComponentKind[GatewayApiRoutingArgs, GatewayApiRoutingParts] = ComponentKind(
    type_token="canary:index:GatewayApiRouting",
    plan=plan_gateway_api_routing,
)
