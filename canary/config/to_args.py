"""Validated stack settings -> the release's component Args, and the stack outputs the settings add.

This is the one place that knows both the config contract (`canary.config`) and the
components' own Args; the Pulumi program and `render` both go through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from canary.config import StackSettings, VersionSettings
from canary.plan.canary_rules import Canary, Sticky
from canary.plan.gateway import GatewayTls
from canary.plan.release import CanaryReleaseArgs
from canary.plan.security_profiles import PROFILES
from canary.plan.service_account import ServiceAccount
from canary.plan.workload import Autoscaling, Compute, Probe, Resources, Workload

RELEASE_NAME = "canary"
"""Logical name of the top component; every child's name starts with it."""


def workload(version: VersionSettings) -> Workload:
    autoscaling = version.autoscaling
    return Workload(
        version=version.name,
        image=version.image,
        replicas=version.replicas,
        autoscaling=Autoscaling(min=autoscaling.min, max=autoscaling.max, cpu=autoscaling.cpu) if autoscaling else None,
        image_pull_policy=version.image_pull_policy,
        probe=Probe(type=version.probe.type, path=version.probe.path),
        resources=Resources(
            requests=Compute(cpu=version.resources.requests.cpu, memory=version.resources.requests.memory),
            limits=Compute(cpu=version.resources.limits.cpu, memory=version.resources.limits.memory),
        ),
        security_profile=PROFILES[version.security_profile],
        run_as_user=version.run_as_user,
        scan_exceptions=dict(version.scan_exceptions),
        container=version.container,
        pod=version.pod,
        pod_metadata=version.pod_metadata,
        deployment=version.deployment,
    )


def release_args(settings: StackSettings, secret: Callable[[str], Any] = str) -> CanaryReleaseArgs:
    """The release's Args; `secret` wraps each `secretEnv` value (the program makes each a Pulumi secret)."""
    canary, tls = settings.canary, settings.gateway.tls
    return CanaryReleaseArgs(
        namespace=settings.namespace,
        app=settings.app,
        hosts=list(settings.hosts),
        versions=[workload(version) for version in settings.versions],
        stable=settings.stable_version,
        canary=Canary(
            version=canary.version,
            cookie=canary.cookie,
            headers=dict(canary.headers or {}),
            weight=canary.weight,
            sticky=Sticky(cookie=canary.sticky.cookie, max_age=canary.sticky.max_age) if canary.sticky else None,
            mirror=canary.mirror,
        )
        if canary is not None
        else None,
        port=settings.port,
        gateway_selector=dict(settings.gateway.selector),
        gateway_namespace=settings.gateway.namespace,
        tls=GatewayTls(credential_name=tls.credential_name, https_redirect=tls.https_redirect) if tls else None,
        istio_api_version=settings.istio_api_version,
        version_header=settings.routing.version_header or None,
        mesh=settings.routing.mesh,
        load_balancer_dns=settings.load_balancer_dns,
        mtls=settings.security.mtls,
        network_policy=settings.security.network_policy,
        routing_api=settings.routing.api,
        gateway_class=settings.gateway.class_name,
        create_namespace=settings.create_namespace,
        container=settings.container,
        pod=settings.pod,
        pod_metadata=settings.pod_metadata,
        deployment=settings.deployment,
        service_account=ServiceAccount(
            name=account.name, annotations=dict(account.annotations), existing=account.existing
        )
        if (account := settings.service_account) is not None
        else None,
        service_ports=[dict(port) for port in settings.service.ports],
        protocol=settings.service.protocol,
        traffic_policy=settings.traffic_policy,
        http_route=settings.http_route,
        secret_env={name: secret(value) for name, value in settings.secret_env.items()},
    )


def stack_outputs(settings: StackSettings, release_outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The stack's outputs: the release's own (namespace, urls, routes) and what the config chose.

    No output is ever None: the engine drops such outputs, so `pulumi stack output cookie` would
    fail and readers could not tell "off" from "absent". Empty means none.
    """
    canary = settings.canary
    return {
        **release_outputs,
        "stableVersion": settings.stable_version,
        "canaryVersion": settings.canary_version or "",
        "weight": settings.weight,
        "cookie": (canary.cookie if canary else None) or "",
        "canaryHeaders": dict((canary.headers if canary else None) or {}),
        "versionHeader": settings.routing.version_header or "",
        # Whatever the weight: `verify` checks the pins only while the plain route is split.
        "stickyCookie": canary.sticky.cookie if canary and canary.sticky else "",
    }
