"""The whole canary release: namespace, one AppVersion per version, Service, Gateway, routing."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from canary.plan import istio_blocks, kubernetes_schema, pod_blocks
from canary.plan import secret_env as secrets
from canary.plan.app_version import APP_VERSION, AppVersionArgs
from canary.plan.backend import Backend, ComponentKind, Manifest, Ref, metadata
from canary.plan.canary_rules import Canary
from canary.plan.gateway import GatewayTls
from canary.plan.gateway_api import version_service_problem
from canary.plan.istio import NETWORKING_API_VERSIONS, IstioApiVersion
from canary.plan.istio_routing import DEFAULT_VERSION_HEADER
from canary.plan.namespace_security import NAMESPACE_SECURITY, NamespaceSecurityArgs
from canary.plan.pod_blocks import ContainerBlock, DeploymentBlock, PodBlock, PodMetadataBlock, ServicePortBlock
from canary.plan.routing_apis import plan_routing
from canary.plan.rules import checks
from canary.plan.service import APP_SERVICE, AppServiceArgs, RoutedProtocol, service_port_problems
from canary.plan.service_account import (
    ServiceAccount,
    service_account,
    service_account_problems,
    with_service_account,
)
from canary.plan.workload import Workload, args_path, scratch_volume, shortcuts_set

if TYPE_CHECKING:
    import pulumi

RoutingApi = Literal["istio", "gateway-api"]
PROTOCOL_NEEDS_ISTIO = (
    "needs the istio routing API: the Gateway API routes gRPC with a GRPCRoute, which the release does not declare"
)


@dataclass(frozen=True)
class CanaryReleaseArgs:
    namespace: str
    """The release's namespace: created with Istio sidecar injection on, or an existing one (`create_namespace`).
    Required."""
    app: str
    """The app's name: pod label `app`, container name, prefix of every object's name. Required."""
    hosts: Sequence[str]
    """External host names; a leading `*.` wildcard is allowed. Required."""
    versions: Sequence[Workload]
    """One Deployment per version. Required."""
    stable: str | None = None
    """The version that gets the default traffic; None means the first of `versions`. Default: `None`."""
    canary: Canary | None = None
    """The canary version and who reaches it (cookie, headers, weight); None: all traffic to `stable`.
    Default: `None`."""
    port: int = 80
    """The container port, Service port and target port. Default: `80`."""
    gateway_selector: Mapping[str, str] = field(default_factory=lambda: {"istio": "ingressgateway"})
    """Labels of the ingress gateway pods that serve the hosts. Default: `{"istio": "ingressgateway"}`."""
    gateway_namespace: str = "istio-system"
    """Where the ingress gateway pods run (the NetworkPolicy admits them from there). Default: `"istio-system"`."""
    tls: GatewayTls | None = None
    """HTTPS on 443 with a TLS Secret (`credential_name`); None serves plain HTTP only. Default: `None`."""
    istio_api_version: IstioApiVersion = NETWORKING_API_VERSIONS[0]
    """The API version of the Istio networking objects; an older mesh may need an older one.
    Default: `"networking.istio.io/v1"`."""
    version_header: str | None = DEFAULT_VERSION_HEADER
    """Response header, set by the mesh, naming the version that answered; None for none.
    Default: `"x-canary-version"`."""
    mesh: bool = False
    """Also route in-mesh callers of the Service (the `mesh` gateway) by the same rules. Default: `False`."""
    load_balancer_dns: str | None = None
    """The external-dns target annotation (`external-dns.alpha.kubernetes.io/target`); None for none.
    Default: `None`."""
    mtls: bool = False
    """Sidecars accept only mutual TLS: a STRICT PeerAuthentication. Default: `False`."""
    network_policy: bool = False
    """A NetworkPolicy admitting only the ingress gateway and the namespace's own pods. Default: `False`."""
    routing_api: RoutingApi = "istio"
    """`istio`: Gateway, DestinationRule and VirtualService; `gateway-api`: Gateway and HTTPRoute.
    Default: `"istio"`."""
    gateway_class: str = "istio"
    """The GatewayClass of the `gateway-api` Gateway. Default: `"istio"`."""
    create_namespace: bool = True
    """Create (and on destroy delete) the namespace; False deploys into an existing one, left as it is.
    Default: `True`."""
    container: ContainerBlock = field(default_factory=dict)
    """Fields of every version's app `Container`, as Kubernetes spells them; each version's own lie over them.
    Default: `{}`."""
    pod: PodBlock = field(default_factory=dict)
    """Fields of every version's `PodSpec`; each version's own lie over them. Default: `{}`."""
    pod_metadata: PodMetadataBlock = field(default_factory=dict)
    """`labels` and `annotations` of every version's pod template. Default: `{}`."""
    deployment: DeploymentBlock = field(default_factory=dict)
    """Fields of every version's `DeploymentSpec` (`strategy`, `minReadySeconds`, ...). Default: `{}`."""
    service_account: ServiceAccount | None = None
    """The ServiceAccount every version's pods run as; None: the namespace's `default`. Default: `None`."""
    service_ports: Sequence[ServicePortBlock] = ()
    """Ports the app Service exposes beside the routed one, as `ServicePort` spells them (each named). Default: `()`."""
    protocol: RoutedProtocol = "http"
    """What the routed port speaks, so that Istio treats it right: `http`, `http2` or `grpc`. Default: `"http"`."""
    traffic_policy: Mapping[str, Any] = field(default_factory=dict)
    """The DestinationRule's `trafficPolicy`, as Istio spells it (`connectionPool`, `outlierDetection`,
    `loadBalancer`); under `gateway-api`, on a DestinationRule per version Service. Default: `{}`."""
    http_route: Mapping[str, Any] = field(default_factory=dict)
    """Fields of every HTTP route beside the routing: `timeout`, `retries`, `corsPolicy` (Istio's spelling);
    under `gateway-api`, `timeout` only (HTTPRoute `timeouts.request`). Default: `{}`."""
    secret_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Environment variables whose values are secrets (`pulumi.Output.secret(...)`): kept in one Secret
    `<app>-env`, which every version's app container reads them from. Default: `{}`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "namespace": checks.namespace_name,
        "app": checks.app_name,
        "hosts": checks.hosts,
        "versions": checks.Each(
            checks.is_instance(Workload, "Workload"), empty_reason="must list at least one version"
        ),
        "stable": checks.optional(checks.version_name),
        "canary": checks.optional_instance(Canary, "Canary"),
        "port": checks.port,
        "gateway_selector": checks.gateway_selector,
        "gateway_namespace": checks.gateway_namespace_name,
        "tls": checks.optional_instance(GatewayTls, "GatewayTls"),
        "istio_api_version": checks.one_of(*NETWORKING_API_VERSIONS),
        "version_header": checks.optional(checks.response_header_name),
        "mesh": checks.boolean,
        "load_balancer_dns": checks.load_balancer_dns,
        "mtls": checks.boolean,
        "network_policy": checks.boolean,
        "routing_api": checks.one_of(*get_args(RoutingApi)),
        "gateway_class": checks.dns_subdomain,
        "create_namespace": checks.boolean,
        "service_account": checks.optional_instance(ServiceAccount, "ServiceAccount"),
        "protocol": checks.one_of(*get_args(RoutedProtocol)),
    }

    def __post_init__(self) -> None:
        for block in ("container", "pod", "pod_metadata", "deployment"):
            # The SDK's typed Args (`PodSpecArgs`) are taken as the mappings they spell.
            object.__setattr__(self, block, kubernetes_schema.plain(getattr(self, block)))
        # All here, not only in the Args of the parts: by the time those are built, the namespace
        # and the Deployments are declared.
        checks.check_fields(self, self.FIELD_RULES)
        owned = checks.owned_namespace(self.namespace, self.gateway_namespace, self.create_namespace)
        checks.refuse(self, "namespace", self.namespace, owned)
        names = [workload.version for workload in self.versions]
        if (twice := checks.repeated(names)) is not None:
            index, reason = twice
            checks.refuse(self, f"versions[{index}].version", names[index], reason)
        if self.stable is not None:
            checks.refuse(self, "stable", self.stable, checks.unknown_version(self.stable, names))
        if self.canary is not None:
            version = self.canary.version
            checks.refuse(self, "canary.version", version, checks.unknown_version(version, names))
            checks.refuse(self, "canary.version", version, checks.canary_is_stable(version, self.stable_version))
        if self.mesh and self.routing_api == "gateway-api":
            checks.refuse(self, "mesh", self.mesh, checks.MESH_NEEDS_ISTIO)
        if self.protocol != "http" and self.routing_api == "gateway-api":
            checks.refuse(self, "protocol", self.protocol, PROTOCOL_NEEDS_ISTIO)
        if self.routing_api == "gateway-api":
            for index, version in enumerate(names):
                checks.refuse(self, f"versions[{index}].version", version, version_service_problem(self.app, version))
        versions = [
            pod_blocks.VersionBlocks(workload.blocks, shortcuts_set(workload), scratch_volume(workload))
            for workload in self.versions
        ]
        for path, value, reason in pod_blocks.release_problems(self.blocks, versions, self.app, self.port):
            checks.refuse(self, args_path(path), value, reason)
        object.__setattr__(self, "service_ports", kubernetes_schema.plain(self.service_ports))
        for path, value, reason in service_port_problems(self.service_ports, self.port, self.protocol):
            checks.refuse(self, f"service_ports{path}", value, reason)
        if self.service_account is not None:
            for path, value, reason in service_account_problems(self.blocks, [w.blocks for w in self.versions]):
                checks.refuse(self, args_path(path), value, reason)
        cookies = istio_blocks.routed_cookies(self.canary)
        for path, value, reason in istio_blocks.traffic_policy_problems(self.traffic_policy, cookies):
            checks.refuse(self, f"traffic_policy.{path}" if path else "traffic_policy", value, reason)
        for path, value, reason in istio_blocks.http_route_problems(self.http_route, self.routing_api):
            checks.refuse(self, f"http_route.{path}" if path else "http_route", value, reason)
        for path, value, reason in secrets.secret_env_problems(self.secret_env):
            checks.refuse(self, f"secret_env{path}", value, reason)
        names = list(self.secret_env)
        for path, value, reason in secrets.env_conflicts(names, self.blocks, [w.blocks for w in self.versions]):
            checks.refuse(self, path, value, reason)

    @property
    def blocks(self) -> pod_blocks.PodBlocks:
        """The release-wide blocks, which every version's own lie over."""
        return pod_blocks.PodBlocks(
            container=self.container, pod=self.pod, pod_metadata=self.pod_metadata, deployment=self.deployment
        )

    def merged(self, workload: Workload, service_account: Any = None, secret: Any = None) -> Workload:
        """`workload` with its blocks laid over the release-wide ones, running as `service_account` if given,
        reading `secret_env` from the Secret named `secret` if given."""
        blocks = workload.blocks.over(self.blocks)
        pod = blocks.pod if service_account is None else with_service_account(blocks.pod, service_account)
        container = dict(blocks.container)
        exceptions = dict(workload.scan_exceptions)
        if secret is not None:
            container["env"] = [*container.get("env", []), *secrets.env_references(list(self.secret_env), secret)]
            check, reason = secrets.SCAN_EXCEPTION
            exceptions.setdefault(check, reason)
        return dataclasses.replace(
            workload,
            scan_exceptions=exceptions,
            container=container,
            pod=pod,
            pod_metadata=blocks.pod_metadata,
            deployment=blocks.deployment,
        )

    @property
    def stable_version(self) -> str:
        return self.stable if self.stable is not None else self.versions[0].version


@dataclass(frozen=True)
class CanaryReleaseParts:
    namespace: Ref | None
    """The Namespace object, when the release creates it."""
    namespace_name: Any
    urls: list[str]
    routes: list[dict[str, Any]]

    @property
    def outputs(self) -> dict[str, Any]:
        return {"namespace": self.namespace_name, "urls": self.urls, "routes": self.routes}


def urls(hosts: Sequence[str], tls: bool) -> list[str]:
    """One URL per concrete host; a wildcard host names no single address to visit."""
    scheme = "https" if tls else "http"
    return [f"{scheme}://{host}/" for host in hosts if not host.startswith("*.")]


def namespace(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, labels={"istio-injection": "enabled"})}


def plan_canary_release(backend: Backend, name: str, args: CanaryReleaseArgs) -> CanaryReleaseParts:
    created: Ref | None = None
    ns: Any = args.namespace
    if args.create_namespace:
        # Children take the namespace from the Namespace's declared name, so each is created after
        # it and deleted before it.
        created = backend.object(f"{name}-namespace", namespace(args.namespace))
        ns = created.name

    workload_dependencies = []
    if args.mtls or args.network_policy:
        # Before the workloads, so that no pod ever runs without them.
        security = backend.child(
            NAMESPACE_SECURITY,
            f"{name}-security",
            NamespaceSecurityArgs(
                namespace=ns,
                app=args.app,
                mtls=args.mtls,
                network_policy=args.network_policy,
                gateway_namespace=args.gateway_namespace,
                gateway_selector=args.gateway_selector,
                istio_api_version=args.istio_api_version,
                # Someone else's namespace: its other workloads are not the release's to lock down.
                namespace_wide=args.create_namespace,
            ),
        )
        workload_dependencies.append(security.ref)

    account: Any = None
    if args.service_account is not None:
        account = args.service_account.name
        if not args.service_account.existing:
            # The pods name the ServiceAccount by the object's own name: it is created before them.
            account = backend.object(f"{name}-serviceaccount", service_account(ns, args.service_account)).name

    secret: Any = None
    if args.secret_env:
        # The pods name the Secret by the object's own name, so it exists before they start.
        secret = backend.object(f"{name}-secret-env", secrets.secret(ns, args.app, args.secret_env)).name

    versions = {
        workload.version: backend.child(
            APP_VERSION,
            f"{name}-{workload.version}",
            AppVersionArgs(namespace=ns, app=args.app, workload=args.merged(workload, account, secret), port=args.port),
            depends_on=workload_dependencies,
        ).parts
        for workload in args.versions
    }
    any_version = next(iter(versions.values()))
    service = backend.child(
        APP_SERVICE,
        f"{name}-service",
        AppServiceArgs(
            namespace=ns,
            app=args.app,
            selector=any_version.app_labels,
            port=args.port,
            protocol=args.protocol,
            extra_ports=args.service_ports,
        ),
    ).parts
    # `<app>-service` stays whichever API routes: the stable name in-cluster callers use.
    return CanaryReleaseParts(
        namespace=created,
        namespace_name=ns,
        urls=urls(args.hosts, tls=args.tls is not None),
        routes=plan_routing(backend, name, args, ns, service.service.name, versions),
    )


CANARY_RELEASE: ComponentKind[CanaryReleaseArgs, CanaryReleaseParts] = ComponentKind(
    type_token="canary:index:CanaryRelease",
    plan=plan_canary_release,
)
