"""The ServiceAccount the app's pods run as: created with the release, or one that already exists."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from canary.plan.backend import Manifest, metadata
from canary.plan.kubernetes_schema import Problem
from canary.plan.pod_blocks import PodBlocks
from canary.plan.rules import checks

if TYPE_CHECKING:
    import pulumi


@dataclass(frozen=True)
class ServiceAccount:
    """Every version's pods run as `name`; `annotations` carry cloud workload identity."""

    name: str
    """The ServiceAccount's name (a DNS subdomain). Required."""
    annotations: Mapping[str, str] = field(default_factory=dict)
    """On the ServiceAccount the release creates: cloud workload identity (`eks.amazonaws.com/role-arn`, ...).
    Default: `{}`."""
    existing: bool = False
    """True: the ServiceAccount exists already; the release neither creates nor, on destroy, deletes it.
    Default: `False`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "name": checks.dns_subdomain,
        "annotations": checks.Entries(key=checks.label_key, value=checks.is_instance(str, "string")),
        "existing": checks.boolean,
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)
        if self.existing and self.annotations:
            checks.refuse(self, "annotations", dict(self.annotations), ANNOTATIONS_NEED_CREATION)


ANNOTATIONS_NEED_CREATION = (
    "apply only to a ServiceAccount the release creates; annotate the existing one where it is managed"
)
SERVICE_ACCOUNT_NAME_TWICE = "is set by serviceAccount too: keep one of serviceAccount.name and pod.serviceAccountName"


def service_account(namespace: pulumi.Input[str], account: ServiceAccount) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(account.name, namespace, annotations=account.annotations),
        # The pods mount no token (the security profile); nor does anything else by default.
        "automountServiceAccountToken": False,
    }


def with_service_account(pod: Mapping[str, Any], name: pulumi.Input[str]) -> dict[str, Any]:
    """A version's `pod` block with the pods running as `name`."""
    return {**pod, "serviceAccountName": name}


def service_account_problems(release: PodBlocks, versions: Sequence[PodBlocks]) -> Iterator[Problem]:
    """A `pod.serviceAccountName` beside `serviceAccount`: two answers to one question."""
    where = [("pod", release.pod)] + [(f"versions[{i}].pod", blocks.pod) for i, blocks in enumerate(versions)]
    for path, pod in where:
        if isinstance(pod, Mapping) and "serviceAccountName" in pod:
            yield f"{path}.serviceAccountName", pod["serviceAccountName"], SERVICE_ACCOUNT_NAME_TWICE
