"""One rule set, two doors: each bad value is refused by the Args and by the stack file for the same reason.

Every row below puts one bad value into an Args object (`canary.plan.rules.checks` rules, run when it is
built) and, where the stack config can say the same thing, into a stack file. Both must refuse it
naming the field in their own spelling (`Canary.weight`, `canary.weight`), with the same reason and
the same value. A last test keeps the table whole: every field an Args class puts a rule on has a row.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest

from canary.components.app_version import AppVersion
from canary.config import ConfigError, parse_settings
from canary.config.files import as_config_strings
from canary.plan.app_version import AppVersionArgs
from canary.plan.canary_rules import Canary, Sticky
from canary.plan.gateway import GatewayTls, IstioGatewayArgs
from canary.plan.gateway_api import GatewayApiRoutingArgs
from canary.plan.istio_routing import RoutingRulesArgs
from canary.plan.namespace_security import NamespaceSecurityArgs
from canary.plan.release import CanaryReleaseArgs
from canary.plan.rules import checks
from canary.plan.security_profiles import HARDENED, ROOT, SecurityProfile
from canary.plan.service import AppServiceArgs
from canary.plan.service_account import ServiceAccount
from canary.plan.workload import Autoscaling, Compute, Probe, Resources, Workload
from tests.support.config_edits import changed
from tests.support.project import BASELINE

V1 = Workload(version="v1", image="registry.example.com/web:1.0")
V2 = Workload(version="v2", image="registry.example.com/web:2.0")
HOSTS = ["web.example.com"]
SUBSETS = {"v1": {"version": "v1"}, "v2": {"version": "v2"}}

# A valid value of each Args class; a row changes one field (or a few, for a rule across fields).
VALID: dict[type, Callable[[], dict[str, Any]]] = {
    Probe: dict,
    Compute: lambda: {"cpu": "100m", "memory": "128Mi"},
    Resources: dict,
    Autoscaling: lambda: {"min": 1, "max": 3},
    Workload: lambda: {"version": "v1", "image": "registry.example.com/web:1.0"},
    SecurityProfile: lambda: {"name": "hardened", "runs_as_user": True, "read_only_root_filesystem": True},
    Sticky: lambda: {"cookie": "pin"},
    Canary: lambda: {"version": "v2", "cookie": "version=v2"},
    GatewayTls: lambda: {"credential_name": "web-cert"},
    AppVersionArgs: lambda: {"namespace": "shop", "app": "web", "workload": V1},
    AppServiceArgs: lambda: {"namespace": "shop", "app": "web", "selector": {"app": "web"}},
    IstioGatewayArgs: lambda: {"namespace": "shop", "app": "web", "hosts": HOSTS},
    RoutingRulesArgs: lambda: {
        "namespace": "shop",
        "app": "web",
        "hosts": HOSTS,
        "service_host": "web-service",
        "gateway": "web-gateway",
        "subsets": SUBSETS,
        "stable": "v1",
        "canary": Canary(version="v2"),
    },
    GatewayApiRoutingArgs: lambda: {
        "namespace": "shop",
        "app": "web",
        "hosts": HOSTS,
        "selectors": SUBSETS,
        "stable": "v1",
        "canary": Canary(version="v2"),
    },
    NamespaceSecurityArgs: lambda: {"namespace": "shop", "app": "web"},
    ServiceAccount: lambda: {"name": "web"},
    CanaryReleaseArgs: lambda: {
        "namespace": "shop",
        "app": "web",
        "hosts": HOSTS,
        "versions": [V1, V2],
        "canary": Canary(version="v2", cookie="version=v2"),
    },
}
CLASSES = {cls.__name__: cls for cls in VALID}


@dataclass(frozen=True)
class Row:
    field: str
    """The field as the Args error names it: `Class.field`, with `[...]` below it."""
    bad: Any
    """The value both doors must show."""
    args: dict[str, Any] | None = None
    """The Args fields to change; by default `{field: bad}`."""
    key: str | None = None
    """The key the stack error names; None where the stack file cannot say this."""
    stack: dict[str, Any] = field(default_factory=dict)
    """Stack keys to change (paths as `changed` takes them); by default `{key: bad}`."""

    @property
    def id(self) -> str:
        return f"{self.field}={self.bad!r}"[:70]


def row(field: str, bad: Any, key: str | None = None, *, args: dict[str, Any] | None = None, **stack: Any) -> Row:
    return Row(field, bad, args, key, {path.replace("__", "."): value for path, value in stack.get("at", {}).items()})


def at(**paths: Any) -> dict[str, Any]:
    return {"at": paths}


NAMESPACE_ROWS = [
    (cls, [row(f"{cls}.namespace", "Bad NS", "namespace"), row(f"{cls}.namespace", "kube-system", "namespace")])
    for cls in ("AppVersionArgs", "AppServiceArgs", "IstioGatewayArgs", "RoutingRulesArgs", "GatewayApiRoutingArgs")
]

ROWS: list[Row] = [
    # Workloads
    row("Probe.type", "grpc", "versions[0].probe.type"),
    row("Probe.path", "healthz", "versions[0].probe.path"),
    row(
        "Probe.path",
        "/health",
        "versions[0].probe.path",
        args={"type": "tcp", "path": "/health"},
        **at(**{"versions[0].probe": {"type": "tcp", "path": "/health"}}),
    ),
    row("Compute.cpu", "100 m", "versions[0].resources.requests.cpu"),
    row("Compute.cpu", "0", "versions[0].resources.requests.cpu"),
    row("Compute.memory", "128MB", "versions[0].resources.requests.memory"),
    # Decimal raised Overflow (a traceback) for an exponent past its range; Kubernetes holds an int64.
    row("Compute.cpu", "1e999999999", "versions[0].resources.requests.cpu"),
    row("Compute.memory", "9999999999Ei", "versions[0].resources.requests.memory"),
    row(
        "Resources.requests.cpu",
        "1",
        "versions[0].resources.requests.cpu",
        args={"requests": Compute(cpu="1", memory="128Mi"), "limits": Compute(cpu="500m", memory="256Mi")},
        **at(**{"versions[0].resources": {"requests": {"cpu": "1", "memory": "128Mi"}}}),
    ),
    row(
        "Resources.requests.memory",
        "1Gi",
        "versions[0].resources.requests.memory",
        args={"requests": Compute(cpu="100m", memory="1Gi")},
        **at(**{"versions[0].resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}}),
    ),
    row("Resources.requests", "100m"),
    row("Resources.limits", None),
    row("Autoscaling.min", 0, "versions[0].autoscaling.min", **at(**{"versions[0].autoscaling": {"min": 0, "max": 3}})),
    row(
        "Autoscaling.max",
        1001,
        "versions[0].autoscaling.max",
        **at(**{"versions[0].autoscaling": {"min": 1, "max": 1001}}),
    ),
    row(
        "Autoscaling.cpu",
        0,
        "versions[0].autoscaling.cpu",
        **at(**{"versions[0].autoscaling": {"min": 1, "max": 3, "cpu": 0}}),
    ),
    row(
        "Autoscaling.min",
        5,
        "versions[0].autoscaling.min",
        args={"min": 5, "max": 2},
        **at(**{"versions[0].autoscaling": {"min": 5, "max": 2}}),
    ),
    row("Workload.version", "V1", "versions[0].name"),
    row("Workload.image", "web app:1", "versions[0].image"),
    row("Workload.image", "Reyanshkharga/nginx:v2", "versions[0].image"),
    row("Workload.replicas", -3, "versions[0].replicas"),
    row("Workload.replicas", 1.5, "versions[0].replicas"),
    # Kubernetes holds an int32; one version with more pods than an autoscaler may reach is a typo.
    row("Workload.replicas", 10**27, "versions[0].replicas"),
    row("Workload.autoscaling", {"min": 1, "max": 2}),
    row("Workload.image_pull_policy", "Sometimes", "versions[0].imagePullPolicy"),
    row("Workload.probe", "/healthz"),
    row("Workload.resources", {"requests": {"cpu": "1"}}),
    row("Workload.security_profile", "root"),
    row("Workload.run_as_user", 0, "versions[0].runAsUser"),
    row(
        "Workload.run_as_user",
        20000,
        "versions[0].runAsUser",
        args={"security_profile": ROOT, "run_as_user": 20000},
        **at(**{"versions[0].securityProfile": "root", "versions[0].runAsUser": 20000}),
    ),
    row(
        "Workload.scan_exceptions['K8S_43']",
        "K8S_43",
        "versions[0].scanExceptions.K8S_43",
        args={"scan_exceptions": {"K8S_43": "why"}},
        **at(**{"versions[0].scanExceptions": {"K8S_43": "why"}}),
    ),
    row(
        "Workload.scan_exceptions['CKV_K8S_43']",
        "tag=1.0",
        "versions[0].scanExceptions.CKV_K8S_43",
        args={"scan_exceptions": {"CKV_K8S_43": "tag=1.0"}},
        **at(**{"versions[0].scanExceptions": {"CKV_K8S_43": "tag=1.0"}}),
    ),
    row("SecurityProfile.name", "paranoid", "versions[0].securityProfile"),
    row("SecurityProfile.runs_as_user", "yes"),
    row("SecurityProfile.read_only_root_filesystem", 1),
    row("SecurityProfile.added_capabilities[0]", "net admin", args={"added_capabilities": ("net admin",)}),
    row("SecurityProfile.scan_exceptions['CKV_K8S_43']", "", args={"scan_exceptions": {"CKV_K8S_43": ""}}),
    # Which requests the canary gets
    row("Sticky.cookie", "pin me", "canary.sticky.cookie"),
    row("Sticky.max_age", 0, "canary.sticky.maxAge", **at(**{"canary.sticky": {"cookie": "pin", "maxAge": 0}})),
    row("Canary.version", "V2", "canary.version"),
    row("Canary.cookie", "ver sion=v2", "canary.cookie"),
    row("Canary.cookie", "version=", "canary.cookie"),
    row(
        "Canary.headers['X-Canary']",
        "X-Canary",
        "canary.headers.X-Canary",
        args={"headers": {"X-Canary": "yes"}},
        **at(**{"canary.headers": {"X-Canary": "yes"}}),
    ),
    row(
        "Canary.headers['x-canary']",
        "",
        "canary.headers.x-canary",
        args={"headers": {"x-canary": ""}},
        **at(**{"canary.headers": {"x-canary": ""}}),
    ),
    row("Canary.weight", 150, "canary.weight"),
    row("Canary.weight", -1, "canary.weight"),
    row("Canary.weight", "10", "canary.weight"),
    row("Canary.sticky", "pin"),
    row("Canary.mirror", 100.5, "canary.mirror"),
    row("Canary.mirror", True, "canary.mirror"),
    row(
        "Canary.sticky.cookie",
        "version",
        "canary.sticky.cookie",
        args={"sticky": Sticky(cookie="version")},
        **at(**{"canary.sticky": {"cookie": "version"}}),
    ),
    row("GatewayTls.credential_name", "Web Cert", "gateway.tls.credentialName"),
    row(
        "GatewayTls.https_redirect",
        "yes",
        "gateway.tls.httpsRedirect",
        **at(**{"gateway.tls": {"credentialName": "web-cert", "httpsRedirect": "yes"}}),
    ),
    # The components' own Args
    *[r for _, rows in NAMESPACE_ROWS for r in rows],
    row("AppVersionArgs.app", "1web", "app"),
    row("AppVersionArgs.workload", "nginx"),
    row("AppVersionArgs.port", 0, "port"),
    row("AppServiceArgs.app", "w" * 56, "app"),
    row("AppServiceArgs.selector", {}),
    row("AppServiceArgs.selector['Bad Key']", "Bad Key", args={"selector": {"Bad Key": "web"}}),
    row("AppServiceArgs.port", 65536, "port"),
    row("IstioGatewayArgs.app", "Web", "app"),
    row("IstioGatewayArgs.hosts", [], "hosts"),
    row("IstioGatewayArgs.hosts", "web.example.com"),
    row("IstioGatewayArgs.hosts[0]", "Web.example.com", "hosts[0]", args={"hosts": ["Web.example.com"]}),
    row(
        "IstioGatewayArgs.hosts[1]",
        "web.example.com",
        "hosts[1]",
        args={"hosts": ["web.example.com", "web.example.com"]},
        **at(hosts=["web.example.com", "web.example.com"]),
    ),
    row("IstioGatewayArgs.selector", {}, "gateway.selector"),
    row(
        "IstioGatewayArgs.selector['istio']",
        "ingress gateway",
        "gateway.selector.istio",
        args={"selector": {"istio": "ingress gateway"}},
        **at(**{"gateway.selector": {"istio": "ingress gateway"}}),
    ),
    row("IstioGatewayArgs.tls", "web-cert"),
    row("IstioGatewayArgs.api_version", "networking.istio.io/v2", "istioApiVersion"),
    row("RoutingRulesArgs.app", "web_1", "app"),
    row("RoutingRulesArgs.hosts", [], "hosts"),
    row("RoutingRulesArgs.service_host", "Web Service"),
    row("RoutingRulesArgs.gateway", "istio-system/Web Gateway"),
    row("RoutingRulesArgs.subsets", {}),
    row("RoutingRulesArgs.subsets['V1']", "V1", args={"subsets": {"V1": {"version": "V1"}}, "stable": "V1"}),
    row("RoutingRulesArgs.stable", "V1", "stable"),
    row("RoutingRulesArgs.stable", "v3"),
    row("RoutingRulesArgs.canary", "v2"),
    row("RoutingRulesArgs.canary.version", "v3", args={"canary": Canary(version="v3")}),
    row(
        "RoutingRulesArgs.canary.version",
        "v1",
        "canary.version",
        args={"canary": Canary(version="v1")},
        **at(**{"canary.version": "v1"}),
    ),
    row("RoutingRulesArgs.version_header", "X-Version", "routing.versionHeader"),
    row("RoutingRulesArgs.load_balancer_dns", "not a host", "loadBalancerDns"),
    row("RoutingRulesArgs.mesh", "yes", "routing.mesh"),
    row("RoutingRulesArgs.api_version", "v1", "istioApiVersion"),
    row("RoutingRulesArgs.https", "yes"),
    row("GatewayApiRoutingArgs.app", "Web", "app"),
    row("GatewayApiRoutingArgs.hosts[0]", "web.*.example.com", "hosts[0]", args={"hosts": ["web.*.example.com"]}),
    row("GatewayApiRoutingArgs.selectors", {}),
    row(
        "GatewayApiRoutingArgs.selectors['service']",
        "service",
        "versions[1].name",
        args={"selectors": {"v1": {"version": "v1"}, "service": {"version": "service"}}, "canary": None},
        **at(routing={"api": "gateway-api"}, canary={}, **{"versions[1].name": "service"}),
    ),
    row("GatewayApiRoutingArgs.stable", "v3"),
    row("GatewayApiRoutingArgs.canary", {"version": "v2"}),
    row("GatewayApiRoutingArgs.port", -1, "port"),
    row("GatewayApiRoutingArgs.gateway_class", "Istio Class", "gateway.className"),
    row("GatewayApiRoutingArgs.tls", True),
    row("GatewayApiRoutingArgs.version_header", "cookie", "routing.versionHeader"),
    row("GatewayApiRoutingArgs.load_balancer_dns", "lb_1.example.com", "loadBalancerDns"),
    row("NamespaceSecurityArgs.namespace", "istio-system", "namespace"),
    row("NamespaceSecurityArgs.app", "1web", "app"),
    row("NamespaceSecurityArgs.mtls", "yes", "security.mtls"),
    row("NamespaceSecurityArgs.network_policy", 1, "security.networkPolicy"),
    row("NamespaceSecurityArgs.gateway_namespace", "Istio_System", "gateway.namespace"),
    row("NamespaceSecurityArgs.gateway_selector", {}, "gateway.selector"),
    row("NamespaceSecurityArgs.istio_api_version", "networking.istio.io/v2", "istioApiVersion"),
    row("NamespaceSecurityArgs.namespace_wide", "no"),
    # The whole release
    row("CanaryReleaseArgs.namespace", "Bad NS", "namespace"),
    row("CanaryReleaseArgs.namespace", "kube-system", "namespace"),
    row("CanaryReleaseArgs.namespace", "kube-public", "namespace"),
    row("CanaryReleaseArgs.namespace", "kube-node-lease", "namespace"),
    row("CanaryReleaseArgs.namespace", "istio-system", "namespace"),
    row("CanaryReleaseArgs.namespace", "default", "namespace"),
    row(
        "CanaryReleaseArgs.namespace",
        "ingress",
        "namespace",
        args={"namespace": "ingress", "gateway_namespace": "ingress"},
        **at(namespace="ingress", **{"gateway.namespace": "ingress"}),
    ),
    row("CanaryReleaseArgs.app", "1web", "app"),
    row("CanaryReleaseArgs.hosts", [], "hosts"),
    row("CanaryReleaseArgs.versions", [], "versions"),
    row("CanaryReleaseArgs.versions[1]", "nginx", args={"versions": [V1, "nginx"]}),
    row(
        "CanaryReleaseArgs.versions[1].version",
        "v1",
        "versions[1].name",
        args={"versions": [V1, V1], "canary": None},
        **at(canary={}, **{"versions[1].name": "v1"}),
    ),
    row(
        "CanaryReleaseArgs.versions[1].version",
        "service",
        "versions[1].name",
        args={"versions": [V1, Workload("service", "nginx:1")], "canary": None, "routing_api": "gateway-api"},
        **at(routing={"api": "gateway-api"}, canary={}, **{"versions[1].name": "service"}),
    ),
    row("CanaryReleaseArgs.stable", "V1", "stable"),
    row("CanaryReleaseArgs.stable", "v3", "stable"),
    row("CanaryReleaseArgs.canary", "v2"),
    row("CanaryReleaseArgs.canary.version", "v3", "canary.version", args={"canary": Canary(version="v3")}),
    row("CanaryReleaseArgs.canary.version", "v1", "canary.version", args={"canary": Canary(version="v1")}),
    row("CanaryReleaseArgs.port", 0, "port"),
    row("CanaryReleaseArgs.gateway_selector", {}, "gateway.selector"),
    row("CanaryReleaseArgs.gateway_namespace", "Istio_System", "gateway.namespace"),
    row("CanaryReleaseArgs.tls", {"credentialName": "web-cert"}),
    row("CanaryReleaseArgs.istio_api_version", "networking.istio.io/v2", "istioApiVersion"),
    row("CanaryReleaseArgs.version_header", "host", "routing.versionHeader"),
    row("CanaryReleaseArgs.mesh", "true", "routing.mesh"),
    row(
        "CanaryReleaseArgs.mesh",
        True,
        "routing.mesh",
        args={"mesh": True, "routing_api": "gateway-api"},
        **at(routing={"api": "gateway-api", "mesh": True}),
    ),
    row("CanaryReleaseArgs.load_balancer_dns", "not a host", "loadBalancerDns"),
    row("CanaryReleaseArgs.mtls", "yes", "security.mtls"),
    row("CanaryReleaseArgs.network_policy", "yes", "security.networkPolicy"),
    row("CanaryReleaseArgs.routing_api", "gateway", "routing.api"),
    row("CanaryReleaseArgs.gateway_class", "Istio Class", "gateway.className"),
    row("CanaryReleaseArgs.create_namespace", "no", "createNamespace"),
    # The pod's own fields, the Service's other ports, whom the pods run as, Istio's own fields.
    row(
        "Workload.container.env[0].name",
        {"value": "x"},
        "versions[0].container.env[0].name",
        args={"container": {"env": [{"value": "x"}]}},
        **at(**{"versions[0].container": {"env": [{"value": "x"}]}}),
    ),
    row("Workload.container.image", "x:1", "versions[0].container.image", args={"container": {"image": "x:1"}}),
    row("Workload.deployment.replicas", 3, "versions[0].deployment.replicas", args={"deployment": {"replicas": 3}}),
    row(
        "Workload.pod.securityContext",
        {"runAsUser": 0},
        "versions[0].pod.securityContext",
        args={"pod": {"securityContext": {"runAsUser": 0}}},
    ),
    row(
        "CanaryReleaseArgs.pod_metadata.labels['app']",
        "other",
        "podMetadata.labels['app']",
        args={"pod_metadata": {"labels": {"app": "other"}}},
        **at(podMetadata={"labels": {"app": "other"}}),
    ),
    row("AppServiceArgs.protocol", "tcp"),
    row("AppServiceArgs.extra_ports[0].name", {"port": 81}, args={"extra_ports": [{"port": 81}]}),
    row("RoutingRulesArgs.destination_port", 0),
    row(
        "RoutingRulesArgs.traffic_policy.tls",
        {"mode": "DISABLE"},
        args={"traffic_policy": {"tls": {"mode": "DISABLE"}}},
    ),
    row("GatewayApiRoutingArgs.http_route.retries", {"attempts": 2}, args={"http_route": {"retries": {"attempts": 2}}}),
    row("CanaryReleaseArgs.protocol", "tcp", "service.protocol"),
    row(
        "CanaryReleaseArgs.service_ports[0].port",
        80,
        "service.ports[0].port",
        args={"service_ports": [{"name": "admin", "port": 80}]},
        **at(service={"ports": [{"name": "admin", "port": 80}]}),
    ),
    row("CanaryReleaseArgs.service_account", "web"),
    row("ServiceAccount.name", "Web_1", "serviceAccount.name", **at(serviceAccount={"name": "Web_1"})),
    row(
        "ServiceAccount.existing",
        "yes",
        "serviceAccount.existing",
        **at(serviceAccount={"name": "web", "existing": "yes"}),
    ),
    row(
        "ServiceAccount.annotations",
        {"a": "b"},
        "serviceAccount.annotations",
        args={"existing": True, "annotations": {"a": "b"}},
        **at(serviceAccount={"name": "web", "existing": True, "annotations": {"a": "b"}}),
    ),
    row(
        "CanaryReleaseArgs.traffic_policy.outlierDetection.interval",
        "0.5ms",
        "trafficPolicy.outlierDetection.interval",
        args={"traffic_policy": {"outlierDetection": {"interval": "0.5ms"}}},
        **at(trafficPolicy={"outlierDetection": {"interval": "0.5ms"}}),
    ),
    row(
        "CanaryReleaseArgs.http_route.match",
        [],
        "httpRoute.match",
        args={"http_route": {"match": []}},
        **at(httpRoute={"match": []}),
    ),
    row(
        "CanaryReleaseArgs.secret_env['API-KEY']",
        "API-KEY",
        "secretEnv['API-KEY']",
        args={"secret_env": {"API-KEY": "x"}},
        **at(secretEnv={"API-KEY": "x"}),
    ),
    # A trailing newline: `$` matches before it, so each name rule must match whole.
    row("CanaryReleaseArgs.namespace", "shop\n", "namespace"),
    row("CanaryReleaseArgs.app", "web\n", "app"),
    row("CanaryReleaseArgs.hosts[0]", "web.example.com\n", "hosts[0]", args={"hosts": ["web.example.com\n"]}),
    row("Workload.version", "v1\n", "versions[0].name"),
    row("Workload.image", "nginx:1.27\n", "versions[0].image"),
    row("Canary.version", "v2\n", "canary.version"),
    row("Canary.cookie", "version=v2\n", "canary.cookie"),
    row(
        "Canary.headers['x-canary\\n']",
        "x-canary\n",
        "canary.headers['x-canary\\n']",
        args={"headers": {"x-canary\n": "yes"}},
        **at(**{"canary.headers": {"x-canary\n": "yes"}}),
    ),
    row(
        "Canary.headers['x-canary']",
        "yes\r\nx-injected: 1",
        "canary.headers.x-canary",
        args={"headers": {"x-canary": "yes\r\nx-injected: 1"}},
        **at(**{"canary.headers": {"x-canary": "yes\r\nx-injected: 1"}}),
    ),
    row(
        "IstioGatewayArgs.selector['istio']",
        "ingressgateway\n",
        "gateway.selector.istio",
        args={"selector": {"istio": "ingressgateway\n"}},
        **at(**{"gateway.selector": {"istio": "ingressgateway\n"}}),
    ),
    row("CanaryReleaseArgs.load_balancer_dns", "lb.example.com\n", "loadBalancerDns"),
    row("CanaryReleaseArgs.version_header", "x-version\n", "routing.versionHeader"),
    # Headers the app's own answers carry: the mesh would overwrite them on every answer.
    row("CanaryReleaseArgs.version_header", "set-cookie", "routing.versionHeader"),
    row("RoutingRulesArgs.version_header", "content-type", "routing.versionHeader"),
    row("GatewayApiRoutingArgs.version_header", "location", "routing.versionHeader"),
]


def args_error(case: Row) -> checks.ArgsError:
    cls = CLASSES[case.field.split(".")[0]]
    name = case.field.split(".")[1].split("[")[0]
    values = {**VALID[cls](), **(case.args if case.args is not None else {name: case.bad})}
    with pytest.raises(checks.ArgsError) as raised:
        cls(**values)
    return raised.value


def stack_lines(case: Row) -> list[str]:
    assert case.key is not None
    config = copy.deepcopy(BASELINE)
    for path, value in (case.stack or {case.key: case.bad}).items():
        changed(config, path, value)
    with pytest.raises(ConfigError) as raised:
        parse_settings(as_config_strings(config))
    return [line.strip() for line in str(raised.value).splitlines()[1:]]


@pytest.mark.parametrize("case", ROWS, ids=[case.id for case in ROWS])
def test_a_bad_value_is_refused_by_both_doors_for_the_same_reason(case: Row) -> None:
    error = args_error(case)
    shown = checks.show(case.bad)
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{case.field} ") and message.endswith(f", got {shown}"), message
    reason = message[len(case.field) + 1 : -len(f", got {shown}")]
    assert reason.strip(), message
    if case.key is not None:
        assert f"{case.key}: {reason}, got {shown}" in stack_lines(case)


def ruled_fields() -> set[str]:
    return {f"{cls.__name__}.{name}" for cls in VALID for name in checks.rules_of(cls)}


def test_the_table_has_a_row_for_every_field_an_args_class_puts_a_rule_on() -> None:
    covered = {case.field.split("[")[0] for case in ROWS} | {
        ".".join(case.field.split(".")[:2]).split("[")[0] for case in ROWS
    }
    assert ruled_fields() - covered == set()
    # Every Args class of the package is in the table.
    import canary

    exported = {getattr(canary, name) for name in canary.__all__}
    assert {cls for cls in exported if isinstance(cls, type) and dataclasses.is_dataclass(cls)} <= set(VALID)


def test_the_issues_release_is_refused_with_its_first_mistake() -> None:
    # Each object checks itself as it is built: the first mistake stops the rest.
    with pytest.raises(ValueError, match=r"^Workload.version must be lower-case letters.*, got 'V1'$"):
        CanaryReleaseArgs(
            namespace="Bad NS",
            app="web",
            hosts=HOSTS,
            versions=[Workload("V1", "nginx:1.27")],
            canary=Canary(version="V1", weight=150),
        )
    with pytest.raises(ValueError, match=r"^CanaryReleaseArgs.namespace must be lower-case letters.*, got 'Bad NS'$"):
        CanaryReleaseArgs(namespace="Bad NS", app="web", hosts=HOSTS, versions=[V1])
    with pytest.raises(ValueError, match=r"^CanaryReleaseArgs.canary.version must differ from the stable version"):
        CanaryReleaseArgs(namespace="shop", app="web", hosts=HOSTS, versions=[V1, V2], canary=Canary(version="v1"))
    with pytest.raises(ValueError, match=r"^Workload.replicas must be from 0 to 1000, got -3$"):
        Workload("v2", "nginx:1.27", replicas=-3)
    with pytest.raises(ValueError, match=r"^Canary.weight must be from 0 to 100, got 150$"):
        Canary(version="v2", weight=150)


def test_good_args_are_accepted() -> None:
    for cls, valid in VALID.items():
        assert cls(**valid())
    assert Workload("v1", "nginx:1.27", security_profile=ROOT).run_as_user == 10001
    assert Probe(type="tcp").path == "/"
    assert CanaryReleaseArgs(**{**VALID[CanaryReleaseArgs](), "namespace": "default", "create_namespace": False})
    assert HARDENED.runs_as_user


def _app_version(image: Any) -> AppVersion:
    return AppVersion(
        "web-v1", AppVersionArgs(namespace="shop", app="web", workload=Workload(version="v1", image=image))
    )


def test_an_output_is_checked_once_known_with_the_same_message_and_nothing_is_sent(recorded) -> None:
    @pulumi.runtime.test
    def deploy() -> pulumi.Output[str]:
        return _app_version(pulumi.Output.from_input("Reyanshkharga/nginx:v2")).deployment_name

    with pytest.raises(pulumi.RunError) as raised:
        deploy()
    with pytest.raises(ValueError) as plain:
        Workload(version="v1", image="Reyanshkharga/nginx:v2")
    assert str(raised.value) == str(plain.value)
    assert [r.type for r in recorded.registrations if r.custom] == []


@pulumi.runtime.test
def test_a_good_output_reaches_the_object(recorded) -> pulumi.Output[Any]:
    version = _app_version(pulumi.Output.from_input("registry.example.com/web:1.0"))

    def check(_: Any) -> None:
        (deployment,) = [r for r in recorded.registrations if r.type == "kubernetes:apps/v1:Deployment"]
        (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "registry.example.com/web:1.0"

    return version.deployment_name.apply(check)


def test_the_readmes_component_section_shows_an_args_error_as_raised() -> None:
    from tests.support.project import PROJECT_DIR

    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme[readme.index("## Using the components in your own program") :]
    call, shown = re.search(r"`(Canary\([^`]*\))` raises `ArgsError: ([^`]*)`", section).groups()
    with pytest.raises(checks.ArgsError) as raised:
        eval(call, {"Canary": Canary})  # the README's own example, run as written
    assert str(raised.value) == shown


def test_a_secret_output_that_breaks_a_rule_is_not_shown(recorded) -> None:
    @pulumi.runtime.test
    def deploy() -> pulumi.Output[str]:
        return _app_version(pulumi.Output.secret("Registry.example.com/Web:1")).deployment_name

    with pytest.raises(pulumi.RunError) as raised:
        deploy()
    assert str(raised.value).startswith("Workload.image must be an image reference")
    assert str(raised.value).endswith(", got [secret]") and "Web:1" not in str(raised.value)


@pytest.mark.parametrize(
    "image",
    [
        "nginx:1.27",
        "docker.io/library/nginx:1.27",
        "localhost:5000/web:1",
        "registry.example.com:5000/team/web@sha256:" + "a" * 64,
        "Registry.Example.com/web:1",
        "ghcr.io/team/web-app_1.x:1.0-rc.1",
        "nginx:1.27@sha256:" + "0" * 64,
        "reyanshkharga/nginx:v2",
    ],
)
def test_image_references_of_the_distribution_grammar_are_accepted(image: str) -> None:
    assert Workload(version="v1", image=image).image == image


@pytest.mark.parametrize(
    "image",
    [
        "Reyanshkharga/nginx:v2",  # an upper-case path component, not a registry host
        "registry.example.com/Team/web:1",
        "web app:1",
        "web:",
        "web:1@sha256:abc",
        "web:" + "t" * 129,
        "registry.example.com:port/web:1",
        "-web:1",
        "",
    ],
)
def test_image_references_outside_the_grammar_are_refused(image: str) -> None:
    with pytest.raises(checks.ArgsError, match=r"^Workload.image must be an image reference"):
        Workload(version="v1", image=image)


def test_a_number_python_will_not_write_out_is_refused_by_name_not_with_a_value_error() -> None:
    # repr() refuses a whole number past 4,300 digits: the error's own message raised a ValueError.
    with pytest.raises(checks.ArgsError) as raised:
        Workload(version="v1", image="registry.example.com/web:1.0", replicas=10**5000)
    assert str(raised.value) == "Workload.replicas must be from 0 to 1000, got a number of more than 4,300 digits"
