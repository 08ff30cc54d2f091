"""The stack as `canary rollout` reaches it outside a rollout, through the Pulumi CLI: selected, its
outputs, a secret of its config; each failure one line, the Automation API's own error types
read down to their first line."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from canary.rollout import preflight
from canary.rollout.prometheus_auth import AccessError, SecretReader

if TYPE_CHECKING:
    from canary.rollout.pulumi_stack import AutomationStack


class StackUnavailableError(Exception):
    """The stack cannot be selected: no Pulumi CLI, or the Automation API refused; one line."""


def first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def automation_stack(project_dir: Path, stack: str) -> AutomationStack:
    """The stack, selected through the Automation API (loaded only now); StackUnavailableError else."""
    if shutil.which("pulumi") is None:
        raise StackUnavailableError("the Pulumi CLI (pulumi) is not on PATH")
    from canary.rollout.pulumi_stack import AutomationStack

    try:
        return AutomationStack(project_dir, stack)
    except Exception as err:  # the Automation API raises its own types for a stack it cannot select
        raise StackUnavailableError(f"cannot select stack {stack}: {first_line(err)}") from None


def secret_reader(project_dir: Path, stack: str) -> SecretReader:
    """Reads a secret of the stack through the Automation API, only when a key asks for one."""

    def read(key: str) -> tuple[str, bool] | None:
        if shutil.which("pulumi") is None:
            raise AccessError(
                f"rollout.prometheusAuth.basicAuth.passwordSecret: reading {key} needs the Pulumi CLI (pulumi) on PATH"
            )
        from canary.rollout.pulumi_stack import AutomationStack

        try:
            return AutomationStack(project_dir, stack).config_value(key)
        except Exception as err:  # the Automation API raises its own types
            raise AccessError(
                f"rollout.prometheusAuth.basicAuth.passwordSecret: cannot read {key} of stack {stack}: "
                f"{first_line(err)}"
            ) from None

    return read


def dry_run_outputs(project_dir: Path, stack: str) -> dict[str, Any]:
    """The stack's outputs, for the split gate's URL; a dry run reads them only without --url."""
    if shutil.which("pulumi") is None:
        raise preflight.OutputsUnavailableError(
            "the split gate's URL comes from the stack's outputs, which need the Pulumi CLI (pulumi) on PATH: "
            "pass --url"
        )
    from canary.rollout.pulumi_stack import AutomationStack, StackError

    try:
        return AutomationStack(project_dir, stack).outputs()
    except StackError as err:  # says already which outputs it could not read
        raise preflight.OutputsUnavailableError(str(err)) from None
    except Exception as err:  # the Automation API raises its own types for a stack it cannot select
        raise preflight.OutputsUnavailableError(
            f"cannot read the outputs of stack {stack}: {first_line(err)}"
        ) from None
