"""The `versions:` entries of the stack config: one Deployment each, its probes, resources and autoscaler."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from pydantic import Field, StrictInt, StrictStr

from canary.config.value_types import (
    CheckId,
    ConfigModel,
    ImageRef,
    NestedKeyError,
    Quantity,
    Replicas,
    ScanReason,
    VersionName,
    args_default,
    args_doc,
    checked,
)
from canary.plan import pod_blocks
from canary.plan.rules import checks
from canary.plan.security_profiles import PROFILES, SCRATCH_VOLUME, ProfileName
from canary.plan.workload import Autoscaling, Compute, Probe, ProbeType, PullPolicy, Resources, Workload


class ProbeSettings(ConfigModel):
    """Readiness and liveness: an HTTP GET of `path`, or a TCP connect, on the app port."""

    type: ProbeType = Field(default=args_default(Probe, "type"), description=args_doc(Probe, "type"))
    path: Annotated[StrictStr, checked(checks.probe_path)] = Field(
        default=args_default(Probe, "path"), description=args_doc(Probe, "path")
    )

    @pydantic.model_validator(mode="after")
    def _path_only_for_http(self) -> ProbeSettings:
        # Here any path given is refused: in the Args only one other than the default can be told apart.
        if self.type == "tcp" and "path" in self.model_fields_set:
            raise NestedKeyError("path", self.path, checks.PATH_ONLY_FOR_HTTP)
        return self


class ComputeSettings(ConfigModel):
    cpu: Quantity = Field(description=args_doc(Compute, "cpu"))
    memory: Quantity = Field(description=args_doc(Compute, "memory"))


class ResourceSettings(ConfigModel):
    """Requests reserve capacity on a node; limits cap the container (memory over it is killed)."""

    requests: ComputeSettings = Field(
        default_factory=lambda: ComputeSettings(cpu=Resources().requests.cpu, memory=Resources().requests.memory),
        description=args_doc(Resources, "requests"),
    )
    limits: ComputeSettings = Field(
        default_factory=lambda: ComputeSettings(cpu=Resources().limits.cpu, memory=Resources().limits.memory),
        description=args_doc(Resources, "limits"),
    )

    @pydantic.model_validator(mode="after")
    def _requests_within_limits(self) -> ResourceSettings:
        for kind in ("cpu", "memory"):
            request = getattr(self.requests, kind)
            if (reason := checks.more_than_limit(request, getattr(self.limits, kind))) is not None:
                raise NestedKeyError(f"requests.{kind}", request, reason)
        return self


class AutoscalingSettings(ConfigModel):
    """A HorizontalPodAutoscaler on CPU; the Deployment's replica count is then left to it."""

    min: Annotated[StrictInt, checked(checks.autoscaling_replicas)] = Field(description=args_doc(Autoscaling, "min"))
    max: Annotated[StrictInt, checked(checks.autoscaling_replicas)] = Field(description=args_doc(Autoscaling, "max"))
    cpu: Annotated[StrictInt, checked(checks.utilization)] = Field(
        default=args_default(Autoscaling, "cpu"),
        description=args_doc(Autoscaling, "cpu"),
    )

    @pydantic.model_validator(mode="after")
    def _min_not_above_max(self) -> AutoscalingSettings:
        if (reason := checks.min_above_max(self.min, self.max)) is not None:
            raise NestedKeyError("min", self.min, reason)
        return self


def container_field(scope: str) -> Any:
    return Field(
        default_factory=dict,
        description=f"Fields of {scope} app container, as Kubernetes' `Container` spells them (`env`, `envFrom`, "
        "`command`, `args`, `ports` beyond the routed one, `volumeMounts`, `livenessProbe`, `readinessProbe`, "
        "`startupProbe`, `lifecycle`, `workingDir`, ...). Not `name`, `image` nor `securityContext` (the "
        "release's), nor a field a typed key sets too (`probe`, `resources`, `imagePullPolicy`). A probe given "
        "here replaces the default one.",
    )


def pod_field(scope: str) -> Any:
    return Field(
        default_factory=dict,
        description=f"Fields of {scope} `PodSpec` (`volumes`, `serviceAccountName`, `nodeSelector`, "
        "`tolerations`, `affinity`, `topologySpreadConstraints`, `initContainers`, `imagePullSecrets`, "
        "`priorityClassName`, `terminationGracePeriodSeconds`, containers beside the app's, ...). Not the app's "
        "container, nor `securityContext`, `hostNetwork`, `hostPID`, `hostIPC` or `automountServiceAccountToken` "
        "(the security profile's).",
    )


def pod_metadata_field(scope: str) -> Any:
    return Field(
        default_factory=dict,
        alias="podMetadata",
        description=f"`labels` and `annotations` of {scope} pod template; the `app` and `version` labels are "
        "the release's.",
    )


def deployment_field(scope: str) -> Any:
    return Field(
        default_factory=dict,
        description=f"Fields of {scope} `DeploymentSpec` (`strategy`, `minReadySeconds`, "
        "`revisionHistoryLimit`, `progressDeadlineSeconds`, ...); not `selector`, `template` nor `replicas`.",
    )


class VersionSettings(ConfigModel):
    """One version of the app: one Deployment, one DestinationRule subset."""

    name: VersionName = Field(
        description="Version name (a DNS-1123 label): the pod label `version`, the DestinationRule subset, "
        "the end of the Deployment's name `<app>-deployment-<name>`."
    )
    image: ImageRef = Field(description=args_doc(Workload, "image"))
    replicas: Replicas = Field(
        default=args_default(Workload, "replicas"),
        description="Pod count (0-1000); `0` keeps the version deployed without pods. Not together with `autoscaling`.",
    )
    image_pull_policy: PullPolicy = Field(
        default=args_default(Workload, "image_pull_policy"),
        alias="imagePullPolicy",
        description=args_doc(Workload, "image_pull_policy"),
    )
    probe: ProbeSettings = Field(
        default_factory=ProbeSettings,
        description=args_doc(Workload, "probe"),
    )
    resources: ResourceSettings = Field(
        default_factory=ResourceSettings,
        description="Container requests and limits, as Kubernetes quantities. Give `requests` and `limits` each "
        "whole (`cpu` and `memory`): a missing value is reported by its key, not filled from the default. "
        "A request above its limit is refused.",
    )
    security_profile: ProfileName = Field(
        default=args_default(Workload, "security_profile").name,
        alias="securityProfile",
        description="The pods' security context: `hardened`, or `root` for images that must start as root "
        "(see docs/workloads.md).",
    )
    run_as_user: Annotated[StrictInt, checked(checks.user_id)] = Field(
        default=args_default(Workload, "run_as_user"),
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
        description=args_doc(Workload, "scan_exceptions"),
    )
    container: dict[str, Any] = container_field("this version's")
    pod: dict[str, Any] = pod_field("this version's")
    pod_metadata: dict[str, Any] = pod_metadata_field("this version's")
    deployment: dict[str, Any] = deployment_field("this version's")

    @pydantic.model_validator(mode="after")
    def _replicas_or_autoscaling(self) -> VersionSettings:
        if self.autoscaling is not None and "replicas" in self.model_fields_set:
            raise ValueError("set replicas or autoscaling, not both: the autoscaler owns the replica count")
        # Here any runAsUser given is refused: in the Args only one other than the default can be told apart.
        if "run_as_user" in self.model_fields_set and not PROFILES[self.security_profile].runs_as_user:
            raise NestedKeyError("runAsUser", self.run_as_user, checks.RUN_AS_USER_NOT_APPLICABLE)
        for path, value, reason in pod_blocks.block_problems(self.blocks, self.scratch_volume):
            raise NestedKeyError(path, value, reason)
        for path, value, reason in pod_blocks.shortcut_problems(self.container, self.shortcuts_set):
            raise NestedKeyError(path, value, reason)
        return self

    @property
    def blocks(self) -> pod_blocks.PodBlocks:
        return pod_blocks.PodBlocks(
            container=self.container, pod=self.pod, pod_metadata=self.pod_metadata, deployment=self.deployment
        )

    @property
    def shortcuts_set(self) -> dict[str, str]:
        """The typed keys this version sets, which its `container` must then leave alone."""
        spelled = {"probe": "probe", "resources": "resources", "image_pull_policy": "imagePullPolicy"}
        return {spelled[name]: spelled[name] for name in spelled if name in self.model_fields_set}

    @property
    def scratch_volume(self) -> str | None:
        return SCRATCH_VOLUME if PROFILES[self.security_profile].read_only_root_filesystem else None
