"""One version of the app: its Deployment, and what keeps it available and right-sized.

Pods carry the labels `app` and `version`. A PodDisruptionBudget guards every version that runs
more than one pod, and an optional HorizontalPodAutoscaler owns the replica count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from canary.security_profiles import PROFILES, SCRATCH_VOLUME, container_security_context, pod_security_context
from canary.settings import ProbeSettings, ResourceSettings, VersionSettings


def pod_labels(app: str, version: str) -> dict[str, str]:
    # The Service selects on `app` alone; the DestinationRule subsets select on `version`.
    return {"app": app, "version": version}


def deployment_name(app: str, version: str) -> str:
    return f"{app}-deployment-{version}"


def scan_exceptions(version: VersionSettings) -> dict[str, str]:
    """Checks this version deliberately does not meet: its profile's, then the stack's own."""
    return {**PROFILES[version.security_profile].scan_exceptions, **version.scan_exceptions}


def skip_annotations(exceptions: Mapping[str, str]) -> dict[str, str] | None:
    """checkov's skip annotations (`checkov.io/skipN: CHECK=reason`), in check order."""
    ordered = sorted(exceptions.items())
    return {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(ordered, 1)} or None


def probes(probe: ProbeSettings) -> tuple[k8s.core.v1.ProbeArgs, k8s.core.v1.ProbeArgs]:
    """(readiness, liveness) on the app's named port."""
    if probe.type == "http":
        action = {"http_get": k8s.core.v1.HTTPGetActionArgs(path=probe.path, port="http")}
    else:
        action = {"tcp_socket": k8s.core.v1.TCPSocketActionArgs(port="http")}
    # Readiness decides whether the mesh routes to the pod: check often, react fast.
    readiness = k8s.core.v1.ProbeArgs(**action, period_seconds=5, timeout_seconds=2, failure_threshold=3)
    # Liveness restarts the container: give it time to start and several misses before acting.
    liveness = k8s.core.v1.ProbeArgs(
        **action, initial_delay_seconds=10, period_seconds=10, timeout_seconds=2, failure_threshold=3
    )
    return readiness, liveness


def resource_requirements(resources: ResourceSettings) -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": resources.requests.cpu, "memory": resources.requests.memory},
        limits={"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    )


def deployment_spec(app: str, port: int, version: VersionSettings) -> k8s.apps.v1.DeploymentSpecArgs:
    labels = pod_labels(app, version.name)
    profile = PROFILES[version.security_profile]
    readiness, liveness = probes(version.probe)
    scratch = profile.read_only_root_filesystem
    return k8s.apps.v1.DeploymentSpecArgs(
        # With an autoscaler the count is its to set: the Deployment starts at the autoscaler's
        # minimum and `AppVersion` ignores later changes (see `replica_options`).
        replicas=version.autoscaling.min if version.autoscaling is not None else version.replicas,
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
            spec=k8s.core.v1.PodSpecArgs(
                # The app does not call the Kubernetes API: no token to steal.
                automount_service_account_token=False,
                security_context=pod_security_context(profile, version.run_as_user),
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name=app,
                        image=version.image,
                        image_pull_policy=version.image_pull_policy,
                        ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=port)],
                        readiness_probe=readiness,
                        liveness_probe=liveness,
                        resources=resource_requirements(version.resources),
                        security_context=container_security_context(profile, version.run_as_user),
                        volume_mounts=[k8s.core.v1.VolumeMountArgs(name=SCRATCH_VOLUME, mount_path="/tmp")]
                        if scratch
                        else None,
                    )
                ],
                # A read-only root filesystem still needs somewhere for scratch files.
                volumes=[k8s.core.v1.VolumeArgs(name=SCRATCH_VOLUME, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())]
                if scratch
                else None,
            ),
        ),
    )


def disruption_budget_spec(app: str, version: str) -> k8s.policy.v1.PodDisruptionBudgetSpecArgs:
    # One pod at a time may be evicted by a node drain: the version keeps serving throughout.
    return k8s.policy.v1.PodDisruptionBudgetSpecArgs(
        max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pod_labels(app, version))
    )


def autoscaler_spec(app: str, version: VersionSettings) -> k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs:
    assert version.autoscaling is not None
    return k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
        scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
            api_version="apps/v1", kind="Deployment", name=deployment_name(app, version.name)
        ),
        min_replicas=version.autoscaling.min,
        max_replicas=version.autoscaling.max,
        metrics=[
            k8s.autoscaling.v2.MetricSpecArgs(
                type="Resource",
                resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                    name="cpu",
                    target=k8s.autoscaling.v2.MetricTargetArgs(
                        type="Utilization", average_utilization=version.autoscaling.cpu
                    ),
                ),
            )
        ],
    )


# Server-side apply: the stack config is the truth for every field the Deployment declares. A
# field another manager took over (the autoscaler's `spec.replicas`, a `kubectl scale`) is taken
# back instead of failing the update with a conflict.
FORCE_ANNOTATION = {"pulumi.com/patchForce": "true"}


def replica_options(version: VersionSettings) -> pulumi.ResourceOptions:
    """How the Deployment's replica count is owned.

    Under an autoscaler, `spec.replicas` is ignored after creation. Dropping the field instead
    would, under server-side apply, hand it back to its default of 1 the moment the version moves
    from `replicas` to `autoscaling`; ignored, the provider keeps applying the live count while it
    owns the field and leaves it out once the autoscaler has taken it over.
    """
    return pulumi.ResourceOptions(ignore_changes=["spec.replicas"] if version.autoscaling is not None else None)


@dataclass(frozen=True)
class AppVersionArgs:
    namespace: pulumi.Input[str]
    app: str
    port: int
    version: VersionSettings


class AppVersion(pulumi.ComponentResource):
    """A Deployment running one version of the app, with its disruption budget and autoscaler."""

    deployment_name: pulumi.Output[str]
    """Name of the Deployment (`<app>-deployment-<version>`)."""

    def __init__(self, name: str, args: AppVersionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("canary:index:AppVersion", name, None, opts)
        version = args.version
        child = pulumi.ResourceOptions(parent=self)
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=deployment_name(args.app, version.name),
                namespace=args.namespace,
                # The pods' labels on the Deployment too: `kubectl get deploy -l app=...` finds it.
                labels=pod_labels(args.app, version.name),
                annotations={**FORCE_ANNOTATION, **(skip_annotations(scan_exceptions(version)) or {})},
            ),
            spec=deployment_spec(args.app, args.port, version),
            opts=pulumi.ResourceOptions.merge(child, replica_options(version)),
        )
        if version.min_replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{args.app}-{version.name}", namespace=args.namespace),
                spec=disruption_budget_spec(args.app, version.name),
                opts=child,
            )
        if version.autoscaling is not None:
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{args.app}-{version.name}", namespace=args.namespace),
                spec=autoscaler_spec(args.app, version),
                # It scales the Deployment by name: create it once the Deployment exists.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deployment]),
            )
        self.deployment_name = self.deployment.metadata.name
        self.register_outputs({"deployment_name": self.deployment_name})
