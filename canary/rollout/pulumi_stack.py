"""The Pulumi stack a rollout drives (`ReleaseStack`), and the Automation API's LocalWorkspace that drives it.

Every change is a stack config change written to `Pulumi.<stack>.yaml` (as `pulumi config set`
writes it) followed by `pulumi up`; the stack file is always where the release stands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from canary.config import PROJECT, StackSettings, parse_settings
from canary.config.files import stack_config
from canary.rollout.release_tags import AutomationTags


@dataclass(frozen=True)
class Change:
    """One step of an update the engine plans: `update` of `VirtualService` `nginx-virtualservice`."""

    op: str
    type: str
    name: str

    def __str__(self) -> str:
        return f"{self.op} {self.type.rsplit(':', 1)[-1]} {self.name}"


@dataclass(frozen=True)
class Update:
    """What one `pulumi up` did, and the stack's outputs after it."""

    changes: dict[str, int]
    """Resources per operation, `same` left out."""
    outputs: dict[str, Any] = field(default_factory=dict)


class ReleaseStack(Protocol):
    name: str

    def settings(self) -> StackSettings:
        """The stack config as it stands, validated."""
        ...

    def pending(self) -> list[Change]:
        """What an update would change now (a preview)."""
        ...

    def set_weight(self, weight: int) -> None: ...

    def promote(self, version: str) -> None:
        """Make `version` the stable one and end the canary."""
        ...

    def retire(self, version: str) -> None:
        """Remove `version` from the versions deployed."""
        ...

    def up(self, message: str, on_output: Callable[[str], None] | None = None) -> Update: ...


class AutomationStack:
    """A stack of this project, selected in a LocalWorkspace on the project directory."""

    def __init__(self, project_dir: Path, name: str) -> None:
        # Imported here: the Automation API is only needed once a rollout really runs.
        from pulumi import automation

        self.name = name
        self._project_dir = project_dir
        self._automation = automation
        self._stack = automation.select_stack(stack_name=name, work_dir=str(project_dir))

    def settings(self) -> StackSettings:
        return parse_settings(stack_config(self._project_dir, self.name))

    def pending(self) -> list[Change]:
        changes: list[Change] = []

        def collect(event: Any) -> None:
            pre = event.resource_pre_event
            if pre is not None and pre.metadata.op.value != "same":
                metadata = pre.metadata
                changes.append(Change(op=metadata.op.value, type=metadata.type, name=metadata.urn.rsplit("::", 1)[-1]))

        self._stack.preview(on_event=collect, color="never")
        return changes

    def _set(self, key: str, value: str, *, path: bool = False) -> None:
        self._stack.set_config(f"{PROJECT}:{key}", self._automation.ConfigValue(value=value), path=path)

    def set_weight(self, weight: int) -> None:
        self._set("canary.weight", str(weight), path=True)

    def promote(self, version: str) -> None:
        self._set("stable", version)
        # Pulumi.yaml's default for `canary` is {}: without the key there is no canary.
        self._stack.remove_config(f"{PROJECT}:canary")

    def retire(self, version: str) -> None:
        names = [v.name for v in self.settings().versions]
        self._stack.remove_config(f"{PROJECT}:versions[{names.index(version)}]", path=True)

    def tags(self) -> AutomationTags:
        """The stack's tags in its backend: where the release's shared records live."""
        return AutomationTags(self._stack.workspace, self.name)

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs as the last update left them (empty for a stack never deployed)."""
        return {key: output.value for key, output in self._stack.outputs().items()}

    def up(self, message: str, on_output: Callable[[str], None] | None = None) -> Update:
        result = self._stack.up(message=message, on_output=on_output, color="never")
        changes = {str(op): n for op, n in (result.summary.resource_changes or {}).items() if op != "same" and n}
        outputs = {key: output.value for key, output in result.outputs.items()}
        return Update(changes=changes, outputs=outputs)
