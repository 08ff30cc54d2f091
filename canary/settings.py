"""Stack config -> typed, validated settings: the contract users write in `Pulumi.<stack>.yaml`.

Everything the program reads from config is read here, once, and validated whole before any
resource is registered, so that a bad stack changes nothing. The models below are the one source
of every key, default and description: `python -m canary.config_reference --write` generates
`Pulumi.yaml`'s `config:` block and the README's config tables from them (a test keeps them equal).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NoReturn

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from canary.plan import checks
from canary.plan.app_version import Autoscaling, Probe, ProbeType, PullPolicy, Resources, Workload
from canary.plan.canary_rules import Canary, Sticky
from canary.plan.gateway import GatewayTls, IstioGatewayArgs
from canary.plan.gateway_api import version_service_problem
from canary.plan.istio import NETWORKING_API_VERSIONS, IstioApiVersion
from canary.plan.istio_routing import DEFAULT_VERSION_HEADER
from canary.plan.release import CanaryReleaseArgs, RoutingApi
from canary.policy import (
    Limits,
    Policy,
    alpha_problem,
    format_duration,
    parse_duration,
    percent_problem,
    steps_problem,
    tolerance_problem,
    url_problem,
)
from canary.security_profiles import PROFILES, ProfileName

PROJECT = "istio-canary"
ISTIO_API_VERSIONS = NETWORKING_API_VERSIONS


def _default(args_class: type, name: str) -> Any:
    """The default a component's Args give a field: the models below take theirs from there."""
    (declared,) = [f for f in dataclasses.fields(args_class) if f.name == name]
    if declared.default_factory is not dataclasses.MISSING:
        return declared.default_factory()
    return declared.default


class ConfigError(ValueError):
    """The stack config is invalid; the message lists every offending key and value."""


def _checked(check: checks.Rule) -> AfterValidator:
    """The Args' own rule for a value (`canary.plan.checks`): one rule set for both doors."""

    def validate(value: Any) -> Any:
        reason = check(value)
        if reason is not None:
            raise ValueError(reason)
        return value

    return AfterValidator(validate)


def _between(low: int, high: int) -> AfterValidator:
    def validate(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return AfterValidator(validate)


def _fail(reason: str) -> NoReturn:
    raise ValueError(reason)


# The types say what the stack file must hold (a string, an integer); what makes a value right is
# the Args' rule, the same function either way.
NamespaceName = Annotated[StrictStr, _checked(checks.namespace_name)]
AppName = Annotated[StrictStr, _checked(checks.app_name)]
VersionName = Annotated[StrictStr, _checked(checks.version_name)]
HostName = Annotated[StrictStr, _checked(checks.host_name)]
HeaderName = Annotated[StrictStr, _checked(checks.header_name)]
HeaderValue = Annotated[StrictStr, _checked(checks.header_value)]
Port = Annotated[StrictInt, _checked(checks.port)]
Percent = Annotated[StrictInt, _checked(checks.percent)]
Replicas = Annotated[StrictInt, _checked(checks.replicas)]
ImageRef = Annotated[StrictStr, _checked(checks.image_reference)]
CookiePair = Annotated[StrictStr, _checked(checks.cookie_pair)]
LabelKey = Annotated[StrictStr, _checked(checks.label_key)]
LabelValue = Annotated[StrictStr, _checked(checks.label_value)]
SecretName = Annotated[StrictStr, _checked(checks.dns_subdomain)]
CheckId = Annotated[StrictStr, _checked(checks.check_id)]
ScanReason = Annotated[StrictStr, _checked(checks.scan_reason)]
Quantity = Annotated[StrictStr, _checked(checks.quantity)]


class _Settings(BaseModel):
    # Unknown keys are errors, so a typo such as `canary.wieght` is never silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ProbeSettings(_Settings):
    """Readiness and liveness: an HTTP GET of `path`, or a TCP connect, on the app port."""

    type: ProbeType = Field(
        default=_default(Probe, "type"), description="`http`: an HTTP GET of `path`; `tcp`: a TCP connect."
    )
    path: Annotated[StrictStr, _checked(checks.probe_path)] = Field(
        default=_default(Probe, "path"), description="Absolute path of the HTTP GET; for `type: http` only."
    )

    @pydantic.model_validator(mode="after")
    def _path_only_for_http(self) -> ProbeSettings:
        # Here any path given is refused: in the Args only one other than the default can be told apart.
        if self.type == "tcp" and "path" in self.model_fields_set:
            raise _KeyError("path", self.path, checks.PATH_ONLY_FOR_HTTP)
        return self


class ComputeSettings(_Settings):
    cpu: Quantity = Field(description='CPU, in millicores (`500m`) or cores (`"2"`: quoted, a string).')
    memory: Quantity = Field(description="Memory, in bytes with a suffix (`128Mi`, `1Gi`).")


class ResourceSettings(_Settings):
    """Requests reserve capacity on a node; limits cap the container (memory over it is killed)."""

    requests: ComputeSettings = Field(
        default_factory=lambda: ComputeSettings(cpu=Resources().requests.cpu, memory=Resources().requests.memory),
        description="What the scheduler reserves for the container on a node.",
    )
    limits: ComputeSettings = Field(
        default_factory=lambda: ComputeSettings(cpu=Resources().limits.cpu, memory=Resources().limits.memory),
        description="The cap: CPU above it is throttled, memory above it gets the container killed.",
    )

    @pydantic.model_validator(mode="after")
    def _requests_within_limits(self) -> ResourceSettings:
        for kind in ("cpu", "memory"):
            request = getattr(self.requests, kind)
            if (reason := checks.more_than_limit(request, getattr(self.limits, kind))) is not None:
                raise _KeyError(f"requests.{kind}", request, reason)
        return self


class AutoscalingSettings(_Settings):
    """A HorizontalPodAutoscaler on CPU; the Deployment's replica count is then left to it."""

    min: Annotated[StrictInt, _checked(checks.autoscaling_replicas)] = Field(
        description="Fewest pods (1-1000); the Deployment starts with this many."
    )
    max: Annotated[StrictInt, _checked(checks.autoscaling_replicas)] = Field(
        description="Most pods (1-1000), at least `min`."
    )
    cpu: Annotated[StrictInt, _checked(checks.utilization)] = Field(
        default=_default(Autoscaling, "cpu"),
        description="Target average CPU utilization, in percent of the CPU request (1-100).",
    )

    @pydantic.model_validator(mode="after")
    def _min_not_above_max(self) -> AutoscalingSettings:
        if (reason := checks.min_above_max(self.min, self.max)) is not None:
            raise _KeyError("min", self.min, reason)
        return self


class VersionSettings(_Settings):
    """One version of the app: one Deployment, one DestinationRule subset."""

    name: VersionName = Field(
        description="Version name (a DNS-1123 label): the pod label `version`, the DestinationRule subset, "
        "the end of the Deployment's name `<app>-deployment-<name>`."
    )
    image: ImageRef = Field(description="Container image reference, by tag or by digest (`name@sha256:...`).")
    replicas: Replicas = Field(
        default=_default(Workload, "replicas"),
        description="Pod count; `0` keeps the version deployed without pods. Not together with `autoscaling`.",
    )
    image_pull_policy: PullPolicy = Field(
        default=_default(Workload, "image_pull_policy"),
        alias="imagePullPolicy",
        description="When the kubelet pulls the image.",
    )
    probe: ProbeSettings = Field(
        default_factory=ProbeSettings,
        description="Readiness and liveness probes on the app port. Readiness every 5 s; liveness after 10 s, "
        "every 10 s; 3 misses fail either.",
    )
    resources: ResourceSettings = Field(
        default_factory=ResourceSettings,
        description="Container requests and limits, as Kubernetes quantities. Give `requests` and `limits` each "
        "whole (`cpu` and `memory`): a missing value is reported by its key, not filled from the default. "
        "A request above its limit is refused.",
    )
    security_profile: ProfileName = Field(
        default=_default(Workload, "security_profile").name,
        alias="securityProfile",
        description="The pods' security context: `hardened`, or `root` for images that must start as root "
        "(see Production-ready workloads).",
    )
    run_as_user: Annotated[StrictInt, _checked(checks.user_id)] = Field(
        default=_default(Workload, "run_as_user"),
        alias="runAsUser",
        description="UID (and GID) the `hardened` profile runs as; set it to the image's user if it needs one. "
        "Not with the `root` profile.",
    )
    autoscaling: AutoscalingSettings | None = Field(
        default=None,
        description="A HorizontalPodAutoscaler on CPU utilization: the Deployment starts at `min` and its pod "
        "count is then left to the autoscaler (setting `replicas` too is an error).",
    )
    scan_exceptions: dict[CheckId, ScanReason] = Field(
        default_factory=dict,
        alias="scanExceptions",
        description="`{CHECK_ID: reason}`: scanner checks this version deliberately does not meet, written on "
        "the Deployment as checkov skip annotations.",
    )

    @pydantic.model_validator(mode="after")
    def _replicas_or_autoscaling(self) -> VersionSettings:
        if self.autoscaling is not None and "replicas" in self.model_fields_set:
            raise ValueError("set replicas or autoscaling, not both: the autoscaler owns the replica count")
        # Here any runAsUser given is refused: in the Args only one other than the default can be told apart.
        if "run_as_user" in self.model_fields_set and not PROFILES[self.security_profile].runs_as_user:
            raise _KeyError("runAsUser", self.run_as_user, checks.RUN_AS_USER_NOT_APPLICABLE)
        return self

    @property
    def min_replicas(self) -> int:
        return self.autoscaling.min if self.autoscaling is not None else self.replicas


def _share(value: Any) -> Any:
    # Before pydantic's float parsing, which would take YAML's true and "5" for numbers.
    if (reason := checks.mirror_percent(value)) is not None:
        _fail(reason)
    return value


class StickySettings(_Settings):
    """A cookie that keeps each client of the weighted route on the version that first answered it."""

    cookie: Annotated[StrictStr, _checked(checks.cookie_name)] = Field(
        description="The cookie's name (an RFC 6265 token, not `canary.cookie`'s name); its value names the version."
    )
    max_age: Annotated[StrictInt, _checked(checks.cookie_max_age)] = Field(
        default=_default(Sticky, "max_age"),
        alias="maxAge",
        description="Seconds the browser keeps the cookie (1 to 31536000, a year).",
    )


class CanarySettings(_Settings):
    """Which requests the canary version receives."""

    version: VersionName = Field(
        description="The version the selected requests go to; not the stable version (it already gets the traffic)."
    )
    cookie: CookiePair | None = Field(
        default=None,
        description="`name=value`: a request carrying this cookie (anywhere in its Cookie header) goes to `version`.",
    )
    headers: dict[HeaderName, HeaderValue] | None = Field(
        default=None,
        description="`{header: value}`, lower-case names, exact values: a request carrying all of them goes to "
        "`version`. An alternative to `cookie`: either one selects a request. Not empty.",
    )
    weight: Percent = Field(
        default=_default(Canary, "weight"),
        description="Percent (0-100) of the requests that `cookie` and `headers` do not select that go to `version`.",
    )
    sticky: StickySettings | None = Field(
        default=None,
        description="While 0 < `weight` < 100, every answer of the weighted route sets this cookie to the version "
        "that answered, and requests carrying it go back to that version: a browser stays on one version. At "
        "weight 0 or 100 no client is pinned.",
    )
    mirror: Annotated[float, pydantic.BeforeValidator(_share)] = Field(
        default=_default(Canary, "mirror"),
        description="Percent (0-100, decimals allowed) of the requests the default route serves that are also "
        "sent to `version`, whose answers are discarded: real load before any weight. `0` means none.",
    )

    @pydantic.model_validator(mode="after")
    def _sticky_cookie_differs(self) -> CanarySettings:
        if self.sticky is not None and (reason := checks.sticky_like_cookie(self.sticky.cookie, self.cookie)):
            raise _KeyError("sticky.cookie", self.sticky.cookie, reason)
        return self

    @pydantic.field_validator("headers")
    @classmethod
    def _headers_not_empty(cls, headers: dict[str, str] | None) -> dict[str, str] | None:
        # About the stack file: `headers: {}` reads as a match on nothing, which would select every
        # request; the key must be left out instead. (The Args' empty default means no header match.)
        if headers is not None and not headers:
            raise ValueError("must name at least one header (an empty match would send every request to the canary)")
        return headers


class TlsSettings(_Settings):
    """HTTPS on the gateway: a 443 server terminating TLS with a Kubernetes Secret."""

    credential_name: SecretName = Field(
        alias="credentialName",
        description="The Kubernetes TLS Secret (certificate and key): in `gateway.namespace` as Istio requires, or "
        "with `routing.api: gateway-api` in the app's namespace, beside its Gateway.",
    )
    https_redirect: StrictBool = Field(
        default=_default(GatewayTls, "https_redirect"),
        alias="httpsRedirect",
        description="Port 80 redirects to HTTPS; `false` serves plain HTTP on port 80 as well.",
    )


class GatewaySettings(_Settings):
    selector: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: _default(IstioGatewayArgs, "selector"),
        description="Labels of the ingress gateway pods that serve the Gateway (`istioctl install` labels them "
        "`istio: ingressgateway`). With `routing.api: gateway-api` Istio runs the Gateway's own pods, in the "
        "app's namespace, and this selects nothing there.",
    )
    namespace: Annotated[StrictStr, _checked(checks.gateway_namespace_name)] = Field(
        default=_default(CanaryReleaseArgs, "gateway_namespace"),
        description="Where the ingress gateway pods run: the NetworkPolicy admits them from there, and the TLS "
        "Secret lives there.",
    )
    tls: TlsSettings | None = Field(
        default=None, description="HTTPS: adds a 443 server terminating TLS (mode SIMPLE) with `credentialName`."
    )
    class_name: Annotated[StrictStr, _checked(checks.dns_subdomain)] = Field(
        default=_default(CanaryReleaseArgs, "gateway_class"),
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
        _fail("must be a lower-case header name, or false to turn the header off")
    if (reason := checks.header_name(value)) is not None:
        _fail(reason)
    return value


class RoutingSettings(_Settings):
    version_header: Annotated[str | Literal[False], pydantic.BeforeValidator(_header_name_or_false)] = Field(
        default=DEFAULT_VERSION_HEADER,
        alias="versionHeader",
        description="Response header, set by the mesh per destination, naming the version that answered; "
        "`false` turns it off.",
    )
    mesh: StrictBool = Field(
        default=_default(CanaryReleaseArgs, "mesh"),
        description="`true` binds the VirtualService to the `mesh` gateway too, so in-mesh callers of the Service "
        "(east-west traffic) follow the same routes.",
    )
    api: RoutingApi = Field(
        default=_default(CanaryReleaseArgs, "routing_api"),
        description="`istio`: an Istio Gateway, a DestinationRule and a VirtualService; `gateway-api`: a Kubernetes "
        "Gateway API Gateway and HTTPRoute, with one Service per version.",
    )

    @pydantic.model_validator(mode="after")
    def _mesh_only_with_istio(self) -> RoutingSettings:
        if self.mesh and self.api == "gateway-api":
            raise _KeyError("mesh", self.mesh, checks.MESH_NEEDS_ISTIO)
        return self


class SecuritySettings(_Settings):
    mtls: StrictBool = Field(
        default=_default(CanaryReleaseArgs, "mtls"),
        description="A PeerAuthentication `default` with mode STRICT: the namespace's sidecars accept only "
        "mutual-TLS connections. With `createNamespace: false`, `<app>-mtls` for the app's pods only.",
    )
    network_policy: StrictBool = Field(
        default=_default(CanaryReleaseArgs, "network_policy"),
        alias="networkPolicy",
        description="A NetworkPolicy admitting only the ingress gateway pods (`gateway.selector` in "
        "`gateway.namespace`) and the namespace's own pods; it covers every pod of the namespace, or with "
        "`createNamespace: false` the app's pods only.",
    )


def _steps(value: list[int]) -> list[int]:
    reason = steps_problem(value)
    if reason is not None:
        _fail(reason)
    return value


def _duration(value: str) -> str:
    if parse_duration(value) is None:
        _fail("must be a duration such as 90s, 2m or 1h")
    return value


def _http_url(value: str) -> str:
    reason = url_problem(value) if value else None
    if reason is not None:
        _fail(reason)
    return value


def _positive(value: float) -> float:
    if value <= 0:
        _fail("must be more than zero")
    return value


def _number(value: Any) -> Any:
    # YAML's true and "500" are not numbers, though pydantic's lax mode would take them as such.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail("must be a number")
    return value


def _percent(value: float) -> float:
    if (reason := percent_problem(value)) is not None:
        _fail(reason)
    return value


def _alpha(value: float) -> float:
    if (reason := alpha_problem(value)) is not None:
        _fail(reason)
    return value


def _tolerance(value: float) -> float:
    if (reason := tolerance_problem(value)) is not None:
        _fail(reason)
    return value


PositiveNumber = Annotated[float, pydantic.BeforeValidator(_number), AfterValidator(_positive)]


class RolloutSettings(_Settings):
    """What `canary rollout` does when its flags do not say."""

    steps: Annotated[list[StrictInt], AfterValidator(_steps)] = Field(
        default_factory=lambda: list(_default(Policy, "steps")),
        description="The canary weights to walk through, in percent, rising (`--steps`).",
    )
    step_duration: Annotated[StrictStr, AfterValidator(_duration)] = Field(
        default=format_duration(_default(Policy, "step_seconds")),
        alias="stepDuration",
        description="How long each step is watched before it is judged: `90s`, `2m`, `1h` (`--step-duration`).",
    )
    analysis_interval: Annotated[StrictStr, AfterValidator(_duration)] = Field(
        default=format_duration(_default(Policy, "analysis_seconds")),
        alias="analysisInterval",
        description="How often the sequential health analysis asks Prometheus during a step (`--analysis-interval`).",
    )
    min_requests: Annotated[StrictInt, _between(1, 10_000_000)] = Field(
        default=_default(Policy, "min_requests"),
        alias="minRequests",
        description="Canary requests a step must see before it is promoted; a step with fewer is extended once, "
        "then the rollout stops for want of evidence (`--min-requests`).",
    )
    alpha: Annotated[float, pydantic.BeforeValidator(_number), AfterValidator(_alpha)] = Field(
        default=_default(Limits, "alpha"),
        description="The chance, over the whole rollout, of rolling back a canary as good as stable (`--alpha`).",
    )
    split_tolerance: Annotated[float, pydantic.BeforeValidator(_number), AfterValidator(_tolerance)] = Field(
        default=_default(Limits, "split_tolerance"),
        alias="splitTolerance",
        description="Percentage points by which a route's observed split may differ from its weights before the "
        "split gate fails (`--split-tolerance`).",
    )
    max_error_rate: Annotated[float, pydantic.BeforeValidator(_number), AfterValidator(_percent)] = Field(
        default=_default(Limits, "max_error_rate"),
        alias="maxErrorRate",
        description="Percent of the canary's requests that may fail with a 5xx (`--max-error-rate`).",
    )
    max_p99_ms: PositiveNumber = Field(
        default=_default(Limits, "max_p99_ms"),
        alias="maxP99Ms",
        description="Most the canary's p99 latency may be, in milliseconds (`--max-p99-ms`).",
    )
    max_p99_ratio: PositiveNumber = Field(
        default=_default(Limits, "max_p99_ratio"),
        alias="maxP99Ratio",
        description="Most the canary's p99 may be, in times stable's over the same step (`--max-p99-ratio`).",
    )
    prometheus: Annotated[StrictStr, AfterValidator(_http_url)] = Field(
        default="",
        description='Prometheus\' base URL, for the health gate; `""` turns the gate off (`--prometheus`).',
    )
    webhook: Annotated[StrictStr, AfterValidator(_http_url)] = Field(
        default="",
        description="A URL to POST each step's figures to; a non-2xx answer fails the step (`--webhook`).",
    )


class StackSettings(_Settings):
    """The whole stack config, keyed exactly as users write it under `istio-canary:`."""

    namespace: NamespaceName = Field(
        description="The release's namespace. Created for it, labelled `istio-injection: enabled` so that Istio "
        "injects its sidecars, unless `createNamespace` is false. Never one of the cluster's own "
        "(`kube-system`, `kube-public`, `kube-node-lease`, `istio-system`) nor `gateway.namespace`; `default` "
        "only with `createNamespace: false`."
    )
    create_namespace: StrictBool = Field(
        default=_default(CanaryReleaseArgs, "create_namespace"),
        alias="createNamespace",
        description="`true`: the release creates the namespace and `destroy` deletes it. `false`: it deploys "
        "into an existing namespace that it never creates, labels or deletes (sidecar injection is then the "
        "namespace owner's to enable), and `security` covers only the app's pods.",
    )
    app: AppName = Field(
        description="App name: pod label `app` and prefix of every object name (an RFC 1035 label of at most "
        "55 characters, so that `<app>-service` fits)."
    )
    port: Port = Field(
        default=_default(CanaryReleaseArgs, "port"),
        description="Container port, Service port and targetPort (port name `http`).",
    )
    hosts: list[HostName] = Field(
        description="External host names the Gateway and VirtualService serve; a leading `*.` wildcard is allowed."
    )
    versions: list[VersionSettings] = Field(
        description="The versions of the app: one Deployment each, its pods labelled `version: <name>`."
    )
    stable: VersionName | None = Field(
        default=None, description='The version that gets the default traffic; unset or `""` means the first version.'
    )
    canary: CanarySettings | None = Field(
        default=None,
        description="Requests carrying `cookie`, or all of `headers`, go to the canary `version`, and so do "
        "`weight` percent of the others. Unset or `{}` means no canary.",
    )
    load_balancer_dns: str | None = Field(
        default=None,
        alias="loadBalancerDns",
        description="Value of the `external-dns.alpha.kubernetes.io/target` annotation on the VirtualService; "
        'unset or `""` means no annotation.',
    )
    gateway: GatewaySettings = Field(
        default_factory=GatewaySettings,
        description="The ingress gateway pods that serve the hosts (`selector`, in `namespace`), and HTTPS on 443 "
        "(`tls`; port 80 then redirects unless `httpsRedirect` is false).",
    )
    istio_api_version: IstioApiVersion = Field(
        default=_default(CanaryReleaseArgs, "istio_api_version"),
        alias="istioApiVersion",
        description="API version of the Istio networking objects; an older mesh may need an older one.",
    )
    routing: RoutingSettings = Field(
        default_factory=RoutingSettings,
        description="The response header naming the version that answered (`versionHeader`; `false` turns it off), "
        "and whether in-mesh callers of the Service follow the same routes (`mesh`).",
    )
    rollout: RolloutSettings = Field(
        default_factory=RolloutSettings,
        description="Defaults of `canary rollout`: its steps, how long each is watched, the limits a canary "
        "must meet and where its figures come from; the program itself does not read them.",
    )
    security: SecuritySettings = Field(
        default_factory=SecuritySettings,
        description="Namespace-wide protection: sidecars accept only mutual TLS (`mtls`); a NetworkPolicy admits "
        "only the ingress gateway and the namespace's own pods (`networkPolicy`).",
    )

    @pydantic.field_validator("canary", mode="before")
    @classmethod
    def _empty_canary_is_none(cls, value: Any) -> Any:
        # Pulumi.yaml's default for `canary` is {}: a declared key needs a default to stay optional.
        return None if value == {} else value

    @pydantic.field_validator("hosts")
    @classmethod
    def _hosts_unique_and_present(cls, hosts: list[str]) -> list[str]:
        if not hosts and checks.hosts.empty_reason:
            raise ValueError(checks.hosts.empty_reason)
        for below, value, reason in checks.problems(hosts, checks.hosts):
            raise _KeyError(below, value, reason)
        return hosts

    @pydantic.field_validator("versions")
    @classmethod
    def _versions_unique_and_present(cls, versions: list[VersionSettings]) -> list[VersionSettings]:
        if not versions:
            raise ValueError("must list at least one version")
        names_in_order = [v.name for v in versions]
        if (twice := checks.repeated(names_in_order)) is not None:
            index, reason = twice
            raise _KeyError(f"[{index}].name", names_in_order[index], reason)
        return versions

    @pydantic.field_validator("load_balancer_dns")
    @classmethod
    def _load_balancer_is_a_name(cls, value: str | None) -> str | None:
        if (reason := checks.load_balancer_dns(value)) is not None:
            raise ValueError(reason)
        return value or None

    @pydantic.model_validator(mode="after")
    def _versions_referenced_exist(self) -> StackSettings:
        known = [v.name for v in self.versions]
        if self.stable is not None and (reason := checks.unknown_version(self.stable, known)):
            raise _KeyError("stable", self.stable, reason)
        if self.canary is not None:
            if reason := checks.unknown_version(self.canary.version, known):
                raise _KeyError("canary.version", self.canary.version, reason)
            if reason := checks.canary_is_stable(self.canary.version, self.stable_version):
                raise _KeyError("canary.version", self.canary.version, reason)
        owned = checks.owned_namespace(self.namespace, self.gateway.namespace, self.create_namespace)
        if owned is not None:
            raise _KeyError("namespace", self.namespace, owned)
        if self.routing.api == "gateway-api":
            for index, version in enumerate(known):
                if (problem := version_service_problem(self.app, version)) is not None:
                    raise _KeyError(f"versions[{index}].name", version, problem)
        return self

    @property
    def stable_version(self) -> str:
        return self.stable if self.stable is not None else self.versions[0].name

    @property
    def canary_version(self) -> str | None:
        return self.canary.version if self.canary is not None else None

    @property
    def weight(self) -> int:
        return self.canary.weight if self.canary is not None else 0


class _KeyError(ValueError):
    """A cross-key error: raised from a validator, it names its key below the model that raised it."""

    def __init__(self, key: str, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.key, self.value, self.reason = key, value, reason


# Keys whose config value is a structured (JSON) value; every other key is a plain string.
_STRUCTURED = {"hosts", "versions", "canary", "gateway", "routing", "rollout", "security"}
_INTEGER = {"port"}
_BOOLEAN = {"createNamespace"}
_OPTIONAL_EMPTY = {"stable", "loadBalancerDns"}  # "" (the Pulumi.yaml default) means "not set"
_KEYS = {field.alias or name for name, field in StackSettings.model_fields.items()}


def parse_settings(raw: Mapping[str, str]) -> StackSettings:
    """Validate raw config values (strings, as Pulumi hands them over) keyed without the project prefix."""
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key, text in raw.items():
        if key not in _KEYS:
            errors.append(f"{key}: unknown key{_did_you_mean(key, _KEYS)}, got {_show(text)}")
        elif key in _STRUCTURED:
            try:
                values[key] = json.loads(text)
            except json.JSONDecodeError:
                errors.append(f"{key}: must be a structured value (a YAML list or mapping), got {_show(text)}")
        elif key in _INTEGER:
            if re.fullmatch(r"\s*-?[0-9]+\s*", text):
                values[key] = int(text)
            else:
                errors.append(f"{key}: must be an integer, got {_show(text)}")
        elif key in _BOOLEAN:
            if text.strip() in ("true", "false"):
                values[key] = text.strip() == "true"
            else:
                errors.append(f"{key}: must be true or false, got {_show(text)}")
        elif key in _OPTIONAL_EMPTY and text == "":
            continue
        else:
            values[key] = text
    if not errors:
        try:
            return StackSettings.model_validate(values)
        except pydantic.ValidationError as err:
            errors.extend(_describe(error) for error in err.errors())
    raise ConfigError(f"invalid stack config (keys under {PROJECT}:):\n  " + "\n  ".join(errors))


def _describe(error: Mapping[str, Any]) -> str:
    """One pydantic error as `key.path: what is wrong, got value`."""
    loc = [part for part in error["loc"] if not _is_type_tag(part)]
    path = _path(loc)
    if error["type"] == "value_error" and isinstance(error.get("ctx", {}).get("error"), _KeyError):
        key_error = error["ctx"]["error"]
        below = key_error.key if key_error.key.startswith("[") or not path else f".{key_error.key}"
        return f"{path}{below}: {key_error.reason}, got {_show(key_error.value)}"
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind == "extra_forbidden":
        parent = _path(loc[:-1])
        return f"{path}: unknown key in {parent or 'config'}, got {_show(value)}"
    if kind == "value_error":
        reason = str(error["ctx"]["error"])
    elif kind == "literal_error":
        reason = f"must be one of {error['ctx']['expected']}"
    else:
        reason = _TYPE_REASONS.get(kind, error["msg"])
    return f"{path}: {reason}, got {_show(value)}"


_TYPE_REASONS = {
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


_show = checks.show


def _did_you_mean(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(sorted(known))})"


def _is_type_tag(part: Any) -> bool:
    # pydantic inserts the branch tried in a union (`str`, `literal[False]`, `function-after[...]`).
    return isinstance(part, str) and (part.endswith("]") or part in {"str", "int", "bool"})


def _path(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_settings() -> StackSettings:
    """Read the current stack's config for this project and validate it whole."""
    # pulumi.Config offers no listing of keys; the runtime's config map is the only place that
    # has them all, and listing them is what turns a misspelt top-level key into an error.
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    every_key = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    ours = sorted(key for key in every_key if key.startswith(prefix))
    secret = [key[len(prefix) :] for key in ours if runtime_config.is_config_secret(key)]
    if secret:
        raise ConfigError(refuse_secrets(secret))
    return parse_settings({key[len(prefix) :]: runtime_config.get_config(key) for key in ours})


def refuse_secrets(keys: list[str]) -> str:
    """Why secret config is refused: every value ends up in plain text in objects and outputs."""
    lines = [
        f"{key}: stored as a secret; its values go into cluster objects and stack outputs in plain text, "
        "so store it without --secret"
        for key in keys
    ]
    return f"invalid stack config (keys under {PROJECT}:):\n  " + "\n  ".join(lines)
