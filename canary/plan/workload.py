"""The Workload vocabulary: what runs for one version (image, replicas, probe, resources, security
profile, the Kubernetes blocks laid over the generated pod), and the rules each value obeys.

The AppVersion plan (`canary.plan.app_version`) turns a Workload into its objects; the stack config
builds Workloads from `versions` (`canary.config.to_args`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal, get_args

from canary.plan import kubernetes_schema, pod_blocks
from canary.plan.pod_blocks import ContainerBlock, DeploymentBlock, PodBlock, PodMetadataBlock
from canary.plan.rules import checks
from canary.plan.security_profiles import HARDENED, SCRATCH_VOLUME, SecurityProfile

if TYPE_CHECKING:
    import pulumi


ProbeType = Literal["http", "tcp"]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]


@dataclass(frozen=True)
class Probe:
    """Readiness and liveness: an HTTP GET of `path`, or a TCP connect, on the app port."""

    type: ProbeType = "http"
    """`http`: an HTTP GET of `path`; `tcp`: a TCP connect. Default: `"http"`."""
    path: str = "/"
    """Absolute path of the HTTP GET; for the `http` probe type only. Default: `"/"`."""

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
    """CPU, in millicores (`500m`) or cores (`"2"`: quoted, a string). Required."""
    memory: str
    """Memory, in bytes with a suffix (`128Mi`, `1Gi`). Required."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {"cpu": checks.quantity, "memory": checks.quantity}

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)


@dataclass(frozen=True)
class Resources:
    """Requests reserve capacity on a node; limits cap the container (memory over it is killed)."""

    requests: Compute = Compute(cpu="100m", memory="128Mi")
    """What the scheduler reserves for the container on a node. Default: `Compute(cpu="100m", memory="128Mi")`."""
    limits: Compute = Compute(cpu="500m", memory="256Mi")
    """The cap: CPU above it is throttled, memory above it gets the container killed.
    Default: `Compute(cpu="500m", memory="256Mi")`."""

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
    """Fewest pods (1-1000); the Deployment starts with this many. Required."""
    max: int
    """Most pods (1-1000), at least `min`. Required."""
    cpu: int = 80
    """Target average CPU utilization, in percent of the CPU request (1-100). Default: `80`."""

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
    """The version's name: pod label `version`, DestinationRule subset, suffix of object names. Required."""
    image: pulumi.Input[str]
    """Container image reference, by tag or by digest (`name@sha256:...`). Required."""
    replicas: int = 1
    """Ignored with `autoscaling`: the Deployment starts at its `min` and the autoscaler owns the count.
    Default: `1`."""
    autoscaling: Autoscaling | None = None
    """A HorizontalPodAutoscaler on CPU utilization; None: a fixed `replicas`. Default: `None`."""
    image_pull_policy: PullPolicy = "IfNotPresent"
    """When the kubelet pulls the image. Default: `"IfNotPresent"`."""
    probe: Probe = Probe()
    """Readiness and liveness probes on the app port. Readiness every 5 s; liveness after 10 s, every 10 s; 3 misses
    fail either. Default: `Probe()`."""
    resources: Resources = Resources()
    """CPU and memory requests and limits of the app container. Default: `Resources()`."""
    security_profile: SecurityProfile = HARDENED
    """The pod's and its containers' security contexts: the hardened profile, or the root one its image may need.
    Default: `HARDENED`."""
    run_as_user: int = DEFAULT_RUN_AS_USER
    """UID and GID of profiles that set one (`hardened`). Default: `10001`."""
    scan_exceptions: Mapping[str, str] = field(default_factory=dict)
    """Scanner checks this version deliberately does not meet (check id -> reason), written on the Deployment as
    checkov skip annotations. Default: `{}`."""
    container: ContainerBlock = field(default_factory=dict)
    """Fields of the app's `Container`, as Kubernetes spells them (`env`, `command`, `volumeMounts`, ...),
    laid over the release-wide `container`; not `name`, `image` or `securityContext`. Default: `{}`."""
    pod: PodBlock = field(default_factory=dict)
    """Fields of the `PodSpec` (`volumes`, `nodeSelector`, `tolerations`, other containers, ...), laid over the
    release-wide `pod`; not the app's container nor the security context. Default: `{}`."""
    pod_metadata: PodMetadataBlock = field(default_factory=dict)
    """`labels` and `annotations` of the pod template, beside the release's `app` and `version` labels.
    Default: `{}`."""
    deployment: DeploymentBlock = field(default_factory=dict)
    """Fields of the `DeploymentSpec` (`strategy`, `minReadySeconds`, ...); not `selector`, `template`, `replicas`.
    Default: `{}`."""

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
