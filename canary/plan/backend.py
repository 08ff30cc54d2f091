"""What a plan declares objects through, and the back end that only collects them (for render)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    import pulumi

Manifest = dict[str, Any]
"""A Kubernetes object as the API spells it (camelCase keys); leaves may be Pulumi outputs."""

Dependency = Any
"""What an object may wait for: a `Ref`, or in the Pulumi back end any `pulumi.Resource`."""

A = TypeVar("A")
R = TypeVar("R")


@dataclass(frozen=True)
class Ref:
    """A declared object or component: its name, and the back end's handle to depend on."""

    name: pulumi.Input[str]
    handle: Any


@dataclass(frozen=True)
class ComponentKind(Generic[A, R]):
    """A component: its Pulumi type and the plan that builds it.

    The Pulumi class that runs it is found by the type token (`canary.components.by_type`): the
    plans know nothing of Pulumi."""

    type_token: str
    plan: Callable[[Backend, str, A], R]


@dataclass(frozen=True)
class Child(Generic[R]):
    """A component declared inside another: what its plan returned, and a Ref to depend on it."""

    parts: R
    ref: Ref


class Backend(Protocol):
    def object(
        self,
        name: str,
        manifest: Manifest,
        *,
        depends_on: Sequence[Dependency] = (),
        ignore_changes: Sequence[str] = (),
    ) -> Ref:
        """Declare one Kubernetes object under the logical `name`."""
        ...

    def child(
        self, kind: ComponentKind[A, R], name: str, args: A, *, depends_on: Sequence[Dependency] = ()
    ) -> Child[R]:
        """Declare a component inside the current one."""
        ...

    def warn(self, message: str) -> None:
        """Tell the user about something that works but is likely not what they meant."""
        ...


@dataclass
class Collector:
    """The render back end: every object's manifest, in the order the plan declared them."""

    manifests: list[Manifest] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def object(
        self,
        name: str,
        manifest: Manifest,
        *,
        depends_on: Sequence[Dependency] = (),
        ignore_changes: Sequence[str] = (),
    ) -> Ref:
        self.manifests.append(manifest)
        return Ref(name=manifest["metadata"]["name"], handle=manifest)

    def child(
        self, kind: ComponentKind[A, R], name: str, args: A, *, depends_on: Sequence[Dependency] = ()
    ) -> Child[R]:
        return Child(parts=kind.plan(self, name, args), ref=Ref(name=name, handle=None))

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def metadata(
    name: str,
    namespace: pulumi.Input[str] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, pulumi.Input[str]] | None = None,
) -> dict[str, Any]:
    """An object's metadata, leaving out what is empty (as the API server would show it)."""
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta
