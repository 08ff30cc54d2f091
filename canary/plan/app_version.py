"""One version of the app: its Deployment, and what keeps it available and right-sized.

A PodDisruptionBudget guards every version that runs more than one pod, and an optional
HorizontalPodAutoscaler owns the replica count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from canary import labels, names
from canary.plan import checks, kubernetes_schema, pod_blocks
from canary.plan.backend import Backend, ComponentKind, Manifest, Ref, metadata
from canary.plan.pod_blocks import ContainerBlock, DeploymentBlock, PodBlock, PodMetadataBlock
from canary.security_profiles import (
    HARDENED,
    SCRATCH_VOLUME,
    SecurityProfile,
    container_security_context,
    pod_security_context,
)

if TYPE_CHECKING:
    import pulumi


ProbeType = Literal["http", "tcp"]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]


@dataclass(frozen=True)
class Probe:
    """Readiness and liveness: an HTTP GET of `path`, or a TCP connect, on the app port."""

    type: ProbeType = "http"
    path: str = "/"
    """Absolute path of the HTTP GET; for `type` `http` only."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "type": checks.one_of(*get_args(ProbeType)),
        "path": checks.probe_path,
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)
        if self.type != "http" and self.path != "/":
            checks.refuse(self, "path", self.path, checks.PATH_ONLY_FOR_HTTP)


@dataclass(frozen=True)
class Compute:
    """Kubernetes quantities, e.g. `cpu="100m"`, `memory="128Mi"`."""

    cpu: str
    """CPU, in millicores (`500m`) or cores (`"2"`)."""
    memory: str
    """Memory, in bytes with a suffix (`128Mi`, `1Gi`)."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {"cpu": checks.quantity, "memory": checks.quantity}

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)


@dataclass(frozen=True)
class Resources:
    """Requests reserve capacity on a node; limits cap the container (memory over it is killed)."""

    requests: Compute = Compute(cpu="100m", memory="128Mi")
    limits: Compute = Compute(cpu="500m", memory="256Mi")

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "requests": checks.is_instance(Compute, "Compute"),
        "limits": checks.is_instance(Compute, "Compute"),
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)
        for kind in ("cpu", "memory"):
            request = getattr(self.requests, kind)
            too_much = checks.more_than_limit(request, getattr(self.limits, kind))
            checks.refuse(self, f"requests.{kind}", request, too_much)


@dataclass(frozen=True)
class Autoscaling:
    """A HorizontalPodAutoscaler on CPU utilization (percent of the request)."""

    min: int
    """Fewest pods (1-1000); the Deployment starts with this many."""
    max: int
    """Most pods (1-1000), at least `min`."""
    cpu: int = 80
    """Target average CPU utilization, in percent of the CPU request (1-100)."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "min": checks.autoscaling_replicas,
        "max": checks.autoscaling_replicas,
        "cpu": checks.utilization,
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)
        checks.refuse(self, "min", self.min, checks.min_above_max(self.min, self.max))


DEFAULT_RUN_AS_USER = 10001


@dataclass(frozen=True)
class Workload:
    """What runs for one version: its image and how its pods are run."""

    version: str
    """The version's name: pod label `version`, DestinationRule subset, suffix of object names."""
    image: pulumi.Input[str]
    """Container image reference, by tag or by digest (`name@sha256:...`)."""
    replicas: int = 1
    """Ignored with `autoscaling`: the Deployment starts at its `min` and the autoscaler owns the count."""
    autoscaling: Autoscaling | None = None
    """A HorizontalPodAutoscaler on CPU utilization; None: a fixed `replicas`."""
    image_pull_policy: PullPolicy = "IfNotPresent"
    probe: Probe = Probe()
    resources: Resources = Resources()
    security_profile: SecurityProfile = HARDENED
    run_as_user: int = DEFAULT_RUN_AS_USER
    """UID and GID of profiles that set one (`hardened`)."""
    scan_exceptions: Mapping[str, str] = field(default_factory=dict)
    """Scanner checks this version deliberately does not meet: check id -> reason."""
    container: ContainerBlock = field(default_factory=dict)
    """Fields of the app's `Container`, as Kubernetes spells them (`env`, `command`, `volumeMounts`, ...),
    laid over the release-wide `container`; not `name`, `image` or `securityContext`."""
    pod: PodBlock = field(default_factory=dict)
    """Fields of the `PodSpec` (`volumes`, `nodeSelector`, `tolerations`, other containers, ...), laid over the
    release-wide `pod`; not the app's container nor the security context."""
    pod_metadata: PodMetadataBlock = field(default_factory=dict)
    """`labels` and `annotations` of the pod template, beside the release's `app` and `version` labels."""
    deployment: DeploymentBlock = field(default_factory=dict)
    """Fields of the `DeploymentSpec` (`strategy`, `minReadySeconds`, ...); not `selector`, `template`, `replicas`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "version": checks.version_name,
        "image": checks.image_reference,
        "replicas": checks.replicas,
        "autoscaling": checks.optional_instance(Autoscaling, "Autoscaling"),
        "image_pull_policy": checks.one_of(*get_args(PullPolicy)),
        "probe": checks.is_instance(Probe, "Probe"),
        "resources": checks.is_instance(Resources, "Resources"),
        "security_profile": checks.is_instance(SecurityProfile, "SecurityProfile such as HARDENED or ROOT"),
        "run_as_user": checks.user_id,
        "scan_exceptions": checks.Entries(key=checks.check_id, value=checks.scan_reason),
    }

    def __post_init__(self) -> None:
        for block in ("container", "pod", "pod_metadata", "deployment"):
            # The SDK's typed Args (`ContainerArgs`) are taken as the mappings they spell.
            object.__setattr__(self, block, kubernetes_schema.plain(getattr(self, block)))
        checks.check_fields(self, self.FIELD_RULES)
        # The default UID is no choice; another one is, and the profile would silently drop it.
        if not self.security_profile.runs_as_user and self.run_as_user != DEFAULT_RUN_AS_USER:
            checks.refuse(self, "run_as_user", self.run_as_user, checks.RUN_AS_USER_NOT_APPLICABLE)
        for path, value, reason in pod_blocks.block_problems(self.blocks, scratch_volume(self)):
            checks.refuse(self, args_path(path), value, reason)
        for path, value, reason in pod_blocks.shortcut_problems(self.blocks.container, shortcuts_set(self)):
            checks.refuse(self, args_path(path), value, reason)

    @property
    def blocks(self) -> pod_blocks.PodBlocks:
        return pod_blocks.PodBlocks(
            container=self.container, pod=self.pod, pod_metadata=self.pod_metadata, deployment=self.deployment
        )

    @property
    def min_replicas(self) -> int:
        return self.autoscaling.min if self.autoscaling is not None else self.replicas


def args_path(path: str) -> str:
    return (
        path.replace(pod_blocks.POD_METADATA, "pod_metadata", 1) if path.startswith(pod_blocks.POD_METADATA) else path
    )


def shortcuts_set(workload: Workload) -> dict[str, str]:
    """The typed shortcuts a Workload sets (other than their defaults) -> their Args spelling."""
    chosen = {
        "probe": workload.probe != Probe(),
        "resources": workload.resources != Resources(),
        "imagePullPolicy": workload.image_pull_policy != "IfNotPresent",
    }
    spelled = {"probe": "probe", "resources": "resources", "imagePullPolicy": "image_pull_policy"}
    return {key: spelled[key] for key, set_ in chosen.items() if set_}


def scratch_volume(workload: Workload) -> str | None:
    """The volume the profile adds for scratch files, if it adds one."""
    return SCRATCH_VOLUME if workload.security_profile.read_only_root_filesystem else None


@dataclass(frozen=True)
class AppVersionArgs:
    namespace: pulumi.Input[str]
    """The release's namespace, where the Deployment runs."""
    app: str
    """The app's name: pod label `app`, container name, prefix of object names."""
    workload: Workload
    """The version: its image and how its pods are run."""
    port: int = 80
    """The container port, named `http`."""

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
    type_token="canary:index:AppVersion", plan=plan_app_version, component="canary.components.app_version:AppVersion"
)
