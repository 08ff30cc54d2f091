"""The Pulumi back end of a plan: each declared object becomes a pulumi-kubernetes resource."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pulumi
import pulumi_kubernetes as k8s

from canary.components.api_versions import same_object_aliases
from canary.components.input_checks import checked_args
from canary.plan.backend import Child, ComponentKind, Dependency, Manifest, Ref
from canary.plan.istio import SERVED_VERSIONS

A = TypeVar("A")
R = TypeVar("R")

# Kinds with a typed class in the SDK: their outputs are typed too. Any other kind (Istio's)
# goes through CustomResource, whose resource type the provider derives the same way.
_TYPED: dict[tuple[str, str], Callable[..., Any]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Secret"): k8s.core.v1.Secret,
}


def _keyword(field: str) -> str:
    """A top-level field as the SDK's constructors take it (`automountServiceAccountToken` -> snake case)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", field).lower()


def _handle(dependency: Dependency) -> Any:
    return dependency.handle if isinstance(dependency, Ref) else dependency


def register(name: str, manifest: Manifest, opts: pulumi.ResourceOptions) -> Ref:
    """Register one object; its Ref names it by the name the provider reports back."""
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    fields = {key: value for key, value in manifest.items() if key not in ("apiVersion", "kind")}
    typed = _TYPED.get((api_version, kind))
    if typed is not None:
        resource = typed(name, opts=opts, **{_keyword(key): value for key, value in fields.items()})
        return Ref(name=resource.metadata.name, handle=resource)
    group = api_version.partition("/")[0]
    # The same object under another served version of its API must stay one object.
    aliases = same_object_aliases(api_version, kind, SERVED_VERSIONS.get(group, ()))
    custom = k8s.apiextensions.CustomResource(
        name,
        api_version=api_version,
        kind=kind,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=aliases)),
        **fields,
    )
    # A CustomResource's fields are read dynamically: the SDK declares none of them.
    name_output = custom.metadata.apply(lambda meta: meta["name"])  # type: ignore[attr-defined]
    return Ref(name=name_output, handle=custom)


class PulumiBackend:
    """Declares a component's objects and child components under `parent`."""

    def __init__(self, parent: pulumi.Resource) -> None:
        self._parent = parent

    def object(
        self,
        name: str,
        manifest: Manifest,
        *,
        depends_on: Sequence[Dependency] = (),
        ignore_changes: Sequence[str] = (),
    ) -> Ref:
        opts = pulumi.ResourceOptions(
            parent=self._parent,
            depends_on=[_handle(d) for d in depends_on] or None,
            ignore_changes=list(ignore_changes) or None,
        )
        return register(name, manifest, opts)

    def warn(self, message: str) -> None:
        pulumi.log.warn(message, resource=self._parent)

    def child(
        self, kind: ComponentKind[A, R], name: str, args: A, *, depends_on: Sequence[Dependency] = ()
    ) -> Child[R]:
        # Imported here, not at the top: every component imports this module for PlannedComponent.
        from canary.components.by_type import COMPONENTS

        component_class = COMPONENTS[kind.type_token]
        opts = pulumi.ResourceOptions(parent=self._parent, depends_on=[_handle(d) for d in depends_on] or None)
        component = component_class(name, args, opts)
        return Child(parts=component.parts, ref=Ref(name=name, handle=component))


class PlannedComponent(pulumi.ComponentResource):
    """A component whose objects come from a plan; subclasses name the plan and the outputs.

    `parts` is what the plan returned; the outputs it lists are registered as the component's.
    """

    parts: Any

    def __init__(
        self, kind: ComponentKind[A, Any], name: str, args: A, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(kind.type_token, name, None, opts)
        # Outputs among the Args are checked by their rules once known, before an object uses them.
        self.parts = kind.plan(PulumiBackend(self), name, checked_args(args))
        outputs = {key: pulumi.Output.from_input(value) for key, value in self.parts.outputs.items()}
        for key, value in outputs.items():
            setattr(self, key, value)
        self.register_outputs(outputs)
