"""One version of the app: its Deployment, and what keeps it available and right-sized.

A PodDisruptionBudget guards every version that runs more than one pod, and an optional
HorizontalPodAutoscaler owns the replica count. What runs (the Workload) is `canary.plan.workload`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from canary.plan import kubernetes_schema, labels, pod_blocks
from canary.plan.backend import Backend, ComponentKind, Manifest, Ref, metadata
from canary.plan.rules import checks, names
from canary.plan.security_profiles import SCRATCH_VOLUME, container_security_context, pod_security_context
from canary.plan.workload import Autoscaling, Probe, Resources, Workload, args_path, scratch_volume

if TYPE_CHECKING:
    import pulumi


@dataclass(frozen=True)
class AppVersionArgs:
    namespace: pulumi.Input[str]
    """The release's namespace, where the Deployment runs. Required."""
    app: str
    """The app's name: pod label `app`, container name, prefix of object names. Required."""
    workload: Workload
    """The version: its image and how its pods are run. Required."""
    port: int = 80
    """The container port, named `http`. Default: `80`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "namespace": checks.namespace_name,
        "app": checks.app_name,
        "workload": checks.is_instance(Workload, "Workload"),
        "port": checks.port,
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)
        # The workload's blocks are whole here (a release lays its own under them first).
        for path, value, reason in pod_blocks.merged_problems(
            self.workload.blocks, self.app, self.port, scratch_volume(self.workload)
        ):
            checks.refuse(self, f"workload.{args_path(path)}", value, reason)


@dataclass(frozen=True)
class AppVersionParts:
    deployment: Ref
    labels: dict[str, str]
    """Every label of the version's pods."""
    app_labels: dict[str, str]
    """The labels that all versions' pods share: what a Service selects them by."""
    version_labels: dict[str, str]
    """The labels that tell this version's pods apart: what a DestinationRule subset selects."""

    @property
    def outputs(self) -> dict[str, Any]:
        return {"deployment_name": self.deployment.name}


# Server-side apply: the stack config is the truth for every field the Deployment declares. A
# field another manager took over (the autoscaler's `spec.replicas`, a `kubectl scale`) is taken
# back instead of failing the update with a conflict.
FORCE_ANNOTATION = {"pulumi.com/patchForce": "true"}


def deployment_name(app: str, version: str) -> str:
    return f"{app}-deployment-{version}"


def scan_exceptions(workload: Workload) -> dict[str, str]:
    """Checks this version deliberately does not meet: its profile's, then its own."""
    return {**workload.security_profile.scan_exceptions, **workload.scan_exceptions}


def skip_annotations(exceptions: Mapping[str, str]) -> dict[str, str]:
    """checkov's skip annotations (`checkov.io/skipN: CHECK=reason`), in check order."""
    ordered = sorted(exceptions.items())
    return {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(ordered, 1)}


def probes(probe: Probe) -> tuple[dict[str, Any], dict[str, Any]]:
    """(readiness, liveness) on the app's named port."""
    action: dict[str, Any]
    if probe.type == "http":
        action = {"httpGet": {"path": probe.path, "port": "http"}}
    else:
        action = {"tcpSocket": {"port": "http"}}
    # Readiness decides whether the mesh routes to the pod: check often, react fast.
    readiness = {**action, "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 3}
    # Liveness restarts the container: give it time to start and several misses before acting.
    liveness = {**action, "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3}
    return readiness, liveness


def resource_requirements(resources: Resources) -> dict[str, Any]:
    return {
        "requests": {"cpu": resources.requests.cpu, "memory": resources.requests.memory},
        "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    }


def container(app: str, port: int, workload: Workload) -> dict[str, Any]:
    profile = workload.security_profile
    readiness, liveness = probes(workload.probe)
    spec: dict[str, Any] = {
        "name": app,
        "image": workload.image,
        "imagePullPolicy": workload.image_pull_policy,
        "ports": [{"name": "http", "containerPort": port}],
        "readinessProbe": readiness,
        "livenessProbe": liveness,
        "resources": resource_requirements(workload.resources),
        "securityContext": container_security_context(profile, workload.run_as_user),
    }
    if profile.read_only_root_filesystem:
        # A read-only root filesystem still needs somewhere for scratch files.
        spec["volumeMounts"] = [{"name": SCRATCH_VOLUME, "mountPath": "/tmp"}]
    own = workload.container
    # A probe or resources given whole in `container` replace the defaults rather than mix with
    # them: an `exec` probe merged into the default `httpGet` one would be two handlers.
    for key in pod_blocks.SHORTCUT_FIELDS:
        if key in own:
            del spec[key]
    merged: dict[str, Any] = kubernetes_schema.merge(spec, own, "Container")
    return merged


def pod_spec(app: str, port: int, workload: Workload) -> dict[str, Any]:
    profile = workload.security_profile
    spec: dict[str, Any] = {
        # The app does not call the Kubernetes API: no token to steal.
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(profile, workload.run_as_user),
        "containers": [container(app, port, workload)],
    }
    if profile.read_only_root_filesystem:
        spec["volumes"] = [{"name": SCRATCH_VOLUME, "emptyDir": {}}]
    merged: dict[str, Any] = kubernetes_schema.merge(spec, workload.pod, "PodSpec")
    # The profile holds for every container of the pod, not only the app's.
    for key in ("containers", "initContainers"):
        for other in merged.get(key) or []:
            if other.get("name") != app:
                other["securityContext"] = container_security_context(profile, workload.run_as_user)
    return merged


def deployment(namespace: pulumi.Input[str], app: str, port: int, workload: Workload) -> Manifest:
    pod_labels = labels.pod_labels(app, workload.version)
    template_metadata: dict[str, Any] = {"labels": {**workload.pod_metadata.get("labels", {}), **pod_labels}}
    if annotations := workload.pod_metadata.get("annotations"):
        template_metadata["annotations"] = dict(annotations)
    spec: dict[str, Any] = {
        # With an autoscaler the count is its to set: the Deployment starts at the
        # autoscaler's minimum, and the back end leaves later changes to it.
        "replicas": workload.min_replicas,
        "selector": {"matchLabels": pod_labels},
        "template": {"metadata": template_metadata, "spec": pod_spec(app, port, workload)},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(
            deployment_name(app, workload.version),
            namespace,
            # The pods' labels on the Deployment too: `kubectl get deploy -l app=...` finds it.
            labels=pod_labels,
            annotations={**FORCE_ANNOTATION, **skip_annotations(scan_exceptions(workload))},
        ),
        "spec": {**spec, **workload.deployment},
    }


def disruption_budget(namespace: pulumi.Input[str], app: str, version: str) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(f"{app}-{version}", namespace),
        # One pod at a time may be evicted by a node drain: the version keeps serving throughout.
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels.pod_labels(app, version)}},
    }


def autoscaler(
    namespace: pulumi.Input[str], app: str, version: str, target: pulumi.Input[str], autoscaling: Autoscaling
) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(f"{app}-{version}", namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": autoscaling.min,
            "maxReplicas": autoscaling.max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": autoscaling.cpu},
                    },
                }
            ],
        },
    }


def untagged_image(workload: Workload) -> str | None:
    """A warning when the image names neither a tag nor a digest, else None (and for an output)."""
    image = workload.image
    if not isinstance(image, str) or not names.image_without_tag_or_digest(image):
        return None
    return (
        f"version {workload.version}: image {image!r} has no tag or digest, so it means {image + ':latest'!r}, "
        "whatever that is when a node pulls it; pin a tag or a digest"
    )


def plan_app_version(backend: Backend, name: str, args: AppVersionArgs) -> AppVersionParts:
    workload = args.workload
    if (warning := untagged_image(workload)) is not None:
        backend.warn(warning)
    # Under an autoscaler, `spec.replicas` is ignored after creation. Dropping the field instead
    # would, under server-side apply, hand it back to its default of 1 the moment the version
    # moves from `replicas` to `autoscaling`; ignored, the provider keeps applying the live count
    # while it owns the field and leaves it out once the autoscaler has taken it over.
    deployment_ref = backend.object(
        f"{name}-deployment",
        deployment(args.namespace, args.app, args.port, workload),
        ignore_changes=["spec.replicas"] if workload.autoscaling is not None else [],
    )
    if workload.min_replicas > 1:
        backend.object(f"{name}-pdb", disruption_budget(args.namespace, args.app, workload.version))
    if workload.autoscaling is not None:
        backend.object(
            f"{name}-hpa",
            # It scales the Deployment by the name the Deployment got.
            autoscaler(args.namespace, args.app, workload.version, deployment_ref.name, workload.autoscaling),
            depends_on=[deployment_ref],
        )
    return AppVersionParts(
        deployment=deployment_ref,
        labels=labels.pod_labels(args.app, workload.version),
        app_labels=labels.app_labels(args.app),
        version_labels=labels.version_labels(workload.version),
    )


APP_VERSION: ComponentKind[AppVersionArgs, AppVersionParts] = ComponentKind(
    type_token="canary:index:AppVersion", plan=plan_app_version
)
