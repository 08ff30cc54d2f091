"""`secretEnv`: environment variables whose values are secrets, kept in one Secret of the release's own.

Every version's app container reads each value from that Secret (`valueFrom.secretKeyRef`); the
values themselves go nowhere else. No message ever shows one: a refused value is named by its
key, and shown as SHOWN_INSTEAD.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from canary.plan.backend import Manifest, metadata
from canary.plan.kubernetes_schema import Problem
from canary.plan.pod_blocks import PodBlocks
from canary.plan.rules import checks

if TYPE_CHECKING:
    import pulumi

SHOWN_INSTEAD = "(secret)"
"""What a message shows in place of a secret value."""
UNREAD_SECRET = "(secret: not decrypted)"
"""What a secret value reads as where it stays encrypted: `canary render` reads stack files alone."""
SCAN_EXCEPTION = (
    "CKV_K8S_35",
    "secretEnv: the app reads these values from its environment; they stay in the release's own Secret",
)
"""checkov prefers secrets mounted as files; `secretEnv` is environment variables by design."""
ENV_SET_TWICE = "is set by secretEnv too: keep one of secretEnv and container.env"

# What Kubernetes accepts as an env var name (a C identifier, or with `-` and `.` since 1.8,
# though not starting with a digit); the shell-safe subset is what apps read.
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def secret_name(app: str) -> str:
    return f"{app}-env"


def name_problem(name: Any) -> str | None:
    if not isinstance(name, str) or not _ENV_NAME.match(name) or len(name) > 253:
        return "must be an environment variable name: letters, digits and _, not starting with a digit"
    return None


def secret_env_problems(values: Any) -> Iterator[Problem]:
    """Names that are no env var names, values that are no strings; a value is never shown."""
    if not isinstance(values, Mapping):
        yield "", SHOWN_INSTEAD, "must be a mapping of environment variable names to secret values"
        return
    for name, value in values.items():
        if (reason := name_problem(name)) is not None:
            yield f"[{name!r}]", name, reason
        elif not isinstance(value, str) and not checks.unresolved(value):
            yield f"[{name!r}]", SHOWN_INSTEAD, "must be a string"


def env_conflicts(names: Sequence[str], release: PodBlocks, versions: Sequence[PodBlocks]) -> Iterator[Problem]:
    """An env var of a `container` block that `secretEnv` sets too."""
    where = [("container", release.container)] + [
        (f"versions[{index}].container", blocks.container) for index, blocks in enumerate(versions)
    ]
    for path, container in where:
        for index, entry in enumerate(container.get("env") or [] if isinstance(container, Mapping) else []):
            if isinstance(entry, Mapping) and entry.get("name") in names:
                yield f"{path}.env[{index}].name", entry["name"], ENV_SET_TWICE


def secret(namespace: pulumi.Input[str], app: str, values: Mapping[str, pulumi.Input[str]]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(secret_name(app), namespace),
        "type": "Opaque",
        "stringData": dict(values),
    }


def env_references(names: Sequence[str], secret: pulumi.Input[str]) -> list[dict[str, Any]]:
    """The app container's env entries that read each value from the Secret named `secret`."""
    return [{"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}} for name in sorted(names)]
