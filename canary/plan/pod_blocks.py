"""A version's pod as Kubernetes spells it: the `container`, `pod`, `podMetadata` and `deployment` blocks.

A block holds fields of the object it lands in, spelled as the API spells them, so a team can
copy them from the Deployment it runs today. What the release itself decides stays the
release's: the app container's `name` and `image`, the `app` and `version` labels, the
Deployment's `selector`, `template` and `replicas`, and the pods' security context (the
version's `securityProfile`). A block setting one of those is refused, naming the key that owns
it; so is a field set both through a typed shortcut (`probe`, `resources`, `imagePullPolicy`)
and in `container`.

Every rule yields `(path, value, reason)` with the path below the version (`container.env[0].name`),
so each door prefixes it with its own spelling of where the version sits.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from canary.plan import kubernetes_schema, labels
from canary.plan.kubernetes_schema import KubernetesType, Problem
from canary.plan.rules import names

Block = Mapping[str, Any]
ContainerBlock = Annotated[
    Mapping[str, Any],
    KubernetesType("core/v1:Container", name="ContainerFields", without=("name", "image", "securityContext")),
]
PodBlock = Annotated[
    Mapping[str, Any],
    KubernetesType(
        "core/v1:PodSpec",
        name="PodFields",
        without=("securityContext", "hostNetwork", "hostPID", "hostIPC", "automountServiceAccountToken"),
    ),
]
PodMetadataBlock = Annotated[
    Mapping[str, Any], KubernetesType("meta/v1:ObjectMeta", fields=("annotations", "labels"), name="PodMetadata")
]
DeploymentBlock = Annotated[
    Mapping[str, Any],
    KubernetesType(
        "apps/v1:DeploymentSpec",
        fields=("minReadySeconds", "paused", "progressDeadlineSeconds", "revisionHistoryLimit", "strategy"),
        name="DeploymentFields",
    ),
]
ServicePortBlock = Annotated[Mapping[str, Any], KubernetesType("core/v1:ServicePort")]


@dataclass(frozen=True)
class PodBlocks:
    """The four blocks of one version, or of the whole release; empty means none."""

    container: Block = field(default_factory=dict)
    pod: Block = field(default_factory=dict)
    pod_metadata: Block = field(default_factory=dict)
    deployment: Block = field(default_factory=dict)

    def over(self, base: PodBlocks) -> PodBlocks:
        """These blocks laid over `base` (the release-wide ones) as a strategic merge patch."""
        return PodBlocks(
            container=kubernetes_schema.merge(base.container, self.container, "Container"),
            pod=kubernetes_schema.merge(base.pod, self.pod, "PodSpec"),
            pod_metadata={
                key: {**base.pod_metadata.get(key, {}), **self.pod_metadata.get(key, {})}
                for key in ("labels", "annotations")
                if key in base.pod_metadata or key in self.pod_metadata
            },
            deployment=kubernetes_schema.merge(base.deployment, self.deployment, "DeploymentSpec"),
        )


# Block spellings: the stack file's keys. The Args door spells `pod_metadata` its own way.
CONTAINER, POD, POD_METADATA, DEPLOYMENT = "container", "pod", "podMetadata", "deployment"

PROFILE_OWNS = (
    "is set by securityProfile: the pods run under the version's profile, never a mix of it and the pod's own "
    "(see docs/workloads.md)"
)
_CONTAINER_OWNED = {
    "image": "is the release's: set the version's `image`",
    "securityContext": PROFILE_OWNS,
}
_POD_OWNED = {
    key: PROFILE_OWNS
    for key in ("securityContext", "hostNetwork", "hostPID", "hostIPC", "automountServiceAccountToken")
}
_DEPLOYMENT_OWNED = {
    "selector": "is the release's: it selects the version's pods by their `app` and `version` labels",
    "template": "is the release's: set the pod through `container`, `pod` and `podMetadata`",
    "replicas": "is the release's: set the version's `replicas` or `autoscaling`",
}
_OWNED_LABELS = {
    labels.APP: "is the release's: every pod carries `app: <app>`, the Service's selector",
    labels.VERSION: "is the release's: every pod carries `version: <version>`, the subset's selector",
}
SHORTCUT_FIELDS = {
    "readinessProbe": "probe",
    "livenessProbe": "probe",
    "resources": "resources",
    "imagePullPolicy": "imagePullPolicy",
}
"""A container field -> the typed shortcut (its stack-file key) that sets it too."""
ROUTED_PORT_NAME = "http"


def _mapping(block: Any, where: str) -> Iterator[Problem]:
    if not isinstance(block, Mapping):
        yield where, block, "must be a mapping"


def block_problems(blocks: PodBlocks, scratch_volume: str | None) -> Iterator[Problem]:
    """What is wrong in the blocks each on its own: the schema, the release's own fields, names."""
    for where, block, kind in (
        (CONTAINER, blocks.container, "Container"),
        (POD, blocks.pod, "PodSpec"),
        (DEPLOYMENT, blocks.deployment, "DeploymentSpec"),
    ):
        if not isinstance(block, Mapping):
            yield where, block, "must be a mapping"
            continue
        found = kubernetes_schema.schema_problems(block, kind)  # type: ignore[arg-type]
        yield from ((f"{where}.{path}" if path else where, value, reason) for path, value, reason in found)
        if found:
            continue
        owned = {CONTAINER: _CONTAINER_OWNED, POD: _POD_OWNED, DEPLOYMENT: _DEPLOYMENT_OWNED}[where]
        yield from ((f"{where}.{key}", block[key], owned[key]) for key in block if key in owned)
    if isinstance(blocks.pod, Mapping):
        yield from _pod_problems(blocks.pod, scratch_volume)
    yield from _metadata_problems(blocks.pod_metadata)


def _pod_problems(pod: Block, scratch_volume: str | None) -> Iterator[Problem]:
    for key in ("containers", "initContainers"):
        for index, container in enumerate(pod.get(key) or []):
            where = f"{POD}.{key}[{index}]"
            if "securityContext" in container:
                yield f"{where}.securityContext", container["securityContext"], PROFILE_OWNS
    for index, volume in enumerate(pod.get("volumes") or []):
        if scratch_volume is not None and volume.get("name") == scratch_volume and set(volume) != {"name", "emptyDir"}:
            yield (
                f"{POD}.volumes[{index}]",
                volume,
                f"is the profile's scratch volume {scratch_volume!r} (an emptyDir at /tmp): name yours otherwise",
            )


def _metadata_problems(metadata: Any) -> Iterator[Problem]:
    if not isinstance(metadata, Mapping):
        yield POD_METADATA, metadata, "must be a mapping"
        return
    for key, value in metadata.items():
        where = f"{POD_METADATA}.{key}"
        if key not in ("labels", "annotations"):
            yield where, value, "unknown field (a pod template's metadata takes labels and annotations)"
        elif not isinstance(value, Mapping):
            yield where, value, "must be a mapping"
        else:
            for name, text in value.items():
                yield from _metadata_entry(where, key, name, text)


def _metadata_entry(where: str, key: str, name: Any, text: Any) -> Iterator[Problem]:
    entry = f"{where}[{name!r}]"
    if not isinstance(name, str):
        yield entry, name, "must be a string"
    elif (bad_key := names.label_key(name)) is not None:
        yield entry, name, bad_key
    elif not isinstance(text, str):
        yield entry, text, "must be a string (quote numbers and booleans)"
    elif key == "labels" and name in _OWNED_LABELS:
        yield entry, text, _OWNED_LABELS[name]
    elif key == "labels" and (bad_value := names.label_value(text)) is not None:
        yield entry, text, bad_value


def shortcut_problems(container: Block, shortcuts_set: Mapping[str, str]) -> Iterator[Problem]:
    """A field set both in `container` and through a typed shortcut (shortcut key -> how the door spells it)."""
    for key, shortcut in SHORTCUT_FIELDS.items():
        if key in container and shortcut in shortcuts_set:
            yield (
                f"{CONTAINER}.{key}",
                container[key],
                f"is set by {shortcuts_set[shortcut]} too: keep one of {shortcuts_set[shortcut]} and container.{key}",
            )


def merged_problems(blocks: PodBlocks, app: str, port: int, scratch_volume: str | None) -> Iterator[Problem]:
    """What is wrong only once a version's blocks are laid over the release-wide ones."""
    # The SDK's `ContainerArgs` needs a name: the app's own is taken, as it changes nothing.
    if blocks.container.get("name", app) != app:
        yield f"{CONTAINER}.name", blocks.container["name"], f"is the release's: the app's container is named {app!r}"
    for key in ("containers", "initContainers"):
        for index, container in enumerate(blocks.pod.get(key) or []):
            if container.get("name") == app:
                where = f"{POD}.{key}[{index}].name"
                yield where, app, "is the app's own container: set its fields in `container`"
    for index, extra in enumerate(blocks.container.get("ports") or []):
        if extra.get("containerPort") == port or extra.get("name") == ROUTED_PORT_NAME:
            yield (
                f"{CONTAINER}.ports[{index}]",
                extra,
                f"is the routed port ({ROUTED_PORT_NAME} {port}), which `port` sets: list only the others",
            )
    volumes = {volume.get("name") for volume in blocks.pod.get("volumes") or []}
    if scratch_volume is not None:
        volumes.add(scratch_volume)
    mounts = [(CONTAINER, blocks.container)] + [
        (f"{POD}.{key}[{index}]", other)
        for key in ("containers", "initContainers")
        for index, other in enumerate(blocks.pod.get(key) or [])
    ]
    for where, container in mounts:
        for index, mount in enumerate(container.get("volumeMounts") or []):
            if mount.get("name") not in volumes:
                yield (
                    f"{where}.volumeMounts[{index}].name",
                    mount.get("name"),
                    f"names no volume of the pod (volumes: {sorted(v for v in volumes if v)})",
                )


@dataclass(frozen=True)
class VersionBlocks:
    """One version as the release-wide checks see it: its own blocks and what its shortcuts set."""

    blocks: PodBlocks
    shortcuts_set: Mapping[str, str]
    """Typed shortcuts the version sets -> how its door spells them."""
    scratch_volume: str | None


def release_problems(
    release: PodBlocks, versions: list[VersionBlocks], app: str, port: int, versions_key: str = "versions"
) -> Iterator[Problem]:
    """The release-wide blocks on their own, then each version's laid over them."""
    scratch = next((version.scratch_volume for version in versions if version.scratch_volume), None)
    yield from block_problems(release, scratch)
    for index, version in enumerate(versions):
        merged = version.blocks.over(release)
        where = f"{versions_key}[{index}]"
        found = [
            *shortcut_problems(merged.container, version.shortcuts_set),
            *merged_problems(merged, app, port, version.scratch_volume),
        ]
        yield from ((f"{where}.{path}", value, reason) for path, value, reason in found)
