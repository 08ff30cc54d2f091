"""The whole stack config, `StackSettings`: the contract users write under `istio-canary:` in `Pulumi.<stack>.yaml`.

These models (this one and those it nests) are the one source of every key, default and
description: `python -m canary.config.reference --write` generates `Pulumi.yaml`'s `config:`
block and the config tables from them, and `canary.config.parse` reads the keys' types off them.
"""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from pydantic import Field, StrictBool

from canary.config.canary import CanarySettings
from canary.config.network import GatewaySettings, RoutingSettings, SecuritySettings
from canary.config.rollout import RolloutSettings
from canary.config.service import ServiceAccountSettings, ServiceSettings
from canary.config.value_types import (
    AppName,
    ConfigModel,
    HostName,
    NamespaceName,
    NestedKeyError,
    Port,
    VersionName,
    args_default,
)
from canary.config.versions import (
    VersionSettings,
    container_field,
    deployment_field,
    pod_field,
    pod_metadata_field,
)
from canary.plan import pod_blocks
from canary.plan.gateway_api import version_service_problem
from canary.plan.istio import NETWORKING_API_VERSIONS, IstioApiVersion
from canary.plan.istio_blocks import http_route_problems, routed_cookies, traffic_policy_problems
from canary.plan.release import PROTOCOL_NEEDS_ISTIO, CanaryReleaseArgs
from canary.plan.rules import checks
from canary.plan.secret_env import env_conflicts, secret_env_problems
from canary.plan.service_account import service_account_problems

PROJECT = "istio-canary"
"""The project's name: the prefix of every key (`istio-canary:app`)."""
ISTIO_API_VERSIONS = NETWORKING_API_VERSIONS


def _secret_values(values: Any) -> Any:
    # Before pydantic's own checks, whose messages would show the value.
    for below, value, reason in secret_env_problems(values):
        raise NestedKeyError(below, value, reason)
    return values


class StackSettings(ConfigModel):
    """The whole stack config, keyed exactly as users write it under `istio-canary:`."""

    namespace: NamespaceName = Field(
        description="The release's namespace. Created for it, labelled `istio-injection: enabled` so that Istio "
        "injects its sidecars, unless `createNamespace` is false. Never one of the cluster's own "
        "(`kube-system`, `kube-public`, `kube-node-lease`, `istio-system`) nor `gateway.namespace`; `default` "
        "only with `createNamespace: false`."
    )
    create_namespace: StrictBool = Field(
        default=args_default(CanaryReleaseArgs, "create_namespace"),
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
        default=args_default(CanaryReleaseArgs, "port"),
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
        default=args_default(CanaryReleaseArgs, "istio_api_version"),
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

    container: dict[str, Any] = container_field("every version's")
    pod: dict[str, Any] = pod_field("every version's")
    pod_metadata: dict[str, Any] = pod_metadata_field("every version's")
    deployment: dict[str, Any] = deployment_field("every version's")
    service_account: ServiceAccountSettings | None = Field(
        default=None,
        alias="serviceAccount",
        description="The ServiceAccount every version's pods run as (`name`): created with the release unless "
        "`existing`, with `annotations` for cloud workload identity. Unset or `{}`: the namespace's `default`. "
        "Not together with `pod.serviceAccountName`.",
    )
    traffic_policy: dict[str, Any] = Field(
        default_factory=dict,
        alias="trafficPolicy",
        description="The DestinationRule's `trafficPolicy`, as Istio spells it (`connectionPool`, "
        "`outlierDetection`, `loadBalancer`, ...), checked against Istio's schema. Not `tls` (the mesh's mutual "
        "TLS), nor a consistent-hash cookie named like a cookie the release routes by. With `routing.api: "
        "gateway-api`, on a DestinationRule per version Service.",
    )
    http_route: dict[str, Any] = Field(
        default_factory=dict,
        alias="httpRoute",
        description="Fields of every VirtualService HTTP route beside the routing, as Istio spells them: "
        "`timeout`, `retries`, `corsPolicy`. With `routing.api: gateway-api`, `timeout` only (each HTTPRoute "
        "rule's `timeouts.request`, whole h, m, s or ms); `retries` and `corsPolicy` are refused there.",
    )
    secret_env: Annotated[dict[str, Any], pydantic.BeforeValidator(_secret_values)] = Field(
        default_factory=dict,
        alias="secretEnv",
        description="Environment variables of every version whose values are secrets: `pulumi config set "
        "--secret --path 'secretEnv.API_TOKEN' VALUE`. Kept in one Secret `<app>-env` of the release's own, "
        "which every version's app container reads them from; a value not stored as a secret is refused. "
        "`canary render` cannot decrypt them: it writes everything but that Secret.",
    )
    service: ServiceSettings = Field(
        default_factory=ServiceSettings,
        description="The app Service: what the routed port speaks (`protocol`) and the `ports` it exposes beside it.",
    )

    @pydantic.field_validator("service_account", mode="before")
    @classmethod
    def _empty_service_account_is_none(cls, value: Any) -> Any:
        # Pulumi.yaml's default for an optional mapping is {}.
        return None if value == {} else value

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
            raise NestedKeyError(below, value, reason)
        return hosts

    @pydantic.field_validator("versions")
    @classmethod
    def _versions_unique_and_present(cls, versions: list[VersionSettings]) -> list[VersionSettings]:
        if not versions:
            raise ValueError("must list at least one version")
        names_in_order = [v.name for v in versions]
        if (twice := checks.repeated(names_in_order)) is not None:
            index, reason = twice
            raise NestedKeyError(f"[{index}].name", names_in_order[index], reason)
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
            raise NestedKeyError("stable", self.stable, reason)
        if self.canary is not None:
            if reason := checks.unknown_version(self.canary.version, known):
                raise NestedKeyError("canary.version", self.canary.version, reason)
            if reason := checks.canary_is_stable(self.canary.version, self.stable_version):
                raise NestedKeyError("canary.version", self.canary.version, reason)
        owned = checks.owned_namespace(self.namespace, self.gateway.namespace, self.create_namespace)
        if owned is not None:
            raise NestedKeyError("namespace", self.namespace, owned)
        if self.routing.api == "gateway-api":
            for index, version in enumerate(known):
                if (problem := version_service_problem(self.app, version)) is not None:
                    raise NestedKeyError(f"versions[{index}].name", version, problem)
        release = pod_blocks.PodBlocks(
            container=self.container, pod=self.pod, pod_metadata=self.pod_metadata, deployment=self.deployment
        )
        versions = [
            pod_blocks.VersionBlocks(version.blocks, version.shortcuts_set, version.scratch_volume)
            for version in self.versions
        ]
        for path, value, reason in pod_blocks.release_problems(release, versions, self.app, self.port):
            raise NestedKeyError(path, value, reason)
        for path, value, reason in self.service.port_problems(self.port):
            raise NestedKeyError(f"service.ports{path}", value, reason)
        if self.service.protocol != "http" and self.routing.api == "gateway-api":
            raise NestedKeyError("service.protocol", self.service.protocol, PROTOCOL_NEEDS_ISTIO)
        if self.service_account is not None:
            for path, value, reason in service_account_problems(release, [version.blocks for version in self.versions]):
                raise NestedKeyError(path, value, reason)
        cookies = routed_cookies(self.canary)
        for path, value, reason in traffic_policy_problems(self.traffic_policy, cookies):
            raise NestedKeyError(f"trafficPolicy.{path}" if path else "trafficPolicy", value, reason)
        for path, value, reason in http_route_problems(self.http_route, self.routing.api):
            raise NestedKeyError(f"httpRoute.{path}" if path else "httpRoute", value, reason)
        names = list(self.secret_env)
        for path, value, reason in env_conflicts(names, release, [version.blocks for version in self.versions]):
            raise NestedKeyError(path, value, reason)
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
