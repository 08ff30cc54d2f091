"""The rollout's own secrets (`rollout.webhook`, `rollout.prometheus`): decrypted by the Pulumi CLI, never shown.

A stack file holds a secret as ciphertext that only the stack's secrets provider can open, so
`pulumi config get --path` decrypts each, as the CLI would for the program. What the rollout then
prints (the plan, errors, gate results, the report) shows `[secret]` in place of each value.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from canary.config import PROJECT
from canary.rollout.gates import GateResult
from canary.support.bounded_run import MEBIBYTE, CommandOutputError, run_bounded

if TYPE_CHECKING:
    from canary.rollout.control import Wait
    from canary.rollout.interfaces import View
    from canary.rollout.watch import Poll

SHOWN = "[secret]"
# `rollout.steps[0]` -> rollout, steps, [0]
_PART = re.compile(r"\[[0-9]+\]|[^.\[]+")
TIMEOUT = 60
MAX_SECRET_BYTES = MEBIBYTE
"""Far more than a URL or a password; what `pulumi config get` may write before it is stopped."""
Value = TypeVar("Value")


class SecretUnavailableError(Exception):
    """A secret could not be decrypted; the message is one line and holds no secret."""


@dataclass(frozen=True)
class Masker:
    """Replaces each secret value in a text with `[secret]`."""

    secrets: tuple[str, ...] = ()

    def text(self, text: str) -> str:
        # The longest first: a secret that contains another is masked whole.
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, SHOWN)
        return text

    def document(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON document with every string masked (the report, the plan)."""
        if not self.secrets:
            return dict(document)
        masked: dict[str, Any] = json.loads(self.text(json.dumps(document)))
        return masked

    def value(self, value: Value) -> Value:
        """A typed value (the rollout's report) with every string in it masked, as `document` masks
        its JSON: dataclasses, mappings, lists and tuples are walked."""
        return value if not self.secrets else cast("Value", self._masked(value))

    def _masked(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = dataclasses.fields(value)
            return dataclasses.replace(
                value, **{f.name: self._masked(getattr(value, f.name)) for f in fields if f.init}
            )
        if isinstance(value, Mapping):
            return {self._masked(key): self._masked(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._masked(item) for item in value)
        return value

    def gate(self, result: GateResult) -> GateResult:
        """A gate's result with every secret in its problems and figures masked."""
        if not self.secrets:
            return result
        problems = tuple(self.text(problem) for problem in result.problems)
        return dataclasses.replace(result, problems=problems, figures=self.document(result.figures))


@dataclass(frozen=True)
class MaskedView:
    """The rollout's live view, given every line and gate result masked."""

    inner: View
    masker: Masker

    def event(self, message: str) -> None:
        self.inner.event(self.masker.text(message))

    def watching(self, step: int, steps: int, weight: int, seconds_left: float) -> None:
        self.inner.watching(step, steps, weight, seconds_left)

    def poll(self, poll: Poll) -> None:
        self.inner.poll(poll)

    def gate(self, result: GateResult) -> None:
        self.inner.gate(self.masker.gate(result))

    def waiting(self, step: int, steps: int, wait: Wait, seconds_left: float | None) -> None:
        self.inner.waiting(step, steps, wait, seconds_left)


def reveal(project: Path, stack: str, path: str) -> str:
    """The decrypted value at `path` (`rollout.webhook`) of `stack`, read with the Pulumi CLI."""
    if shutil.which("pulumi") is None:
        raise SecretUnavailableError(f"{path} is a secret: reading it needs the Pulumi CLI (pulumi) on PATH")
    command = ["pulumi", "config", "get", "--path", f"{PROJECT}:{path}", "--stack", stack]
    try:
        done = run_bounded(command, limit=MAX_SECRET_BYTES, timeout=TIMEOUT, cwd=project)
    except CommandOutputError as err:
        raise SecretUnavailableError(f"{path} is a secret, and reading it failed: {err}") from None
    except OSError as err:
        raise SecretUnavailableError(f"{path} is a secret: cannot run pulumi ({err.strerror or err})") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise SecretUnavailableError(f"{path} is a secret, and pulumi could not decrypt it: {reason}")
    return done.stdout.removesuffix("\n")


def with_secrets(values: Mapping[str, str], revealed: Mapping[str, str]) -> dict[str, str]:
    """Config values (as the CLI passes them) with each decrypted secret put back at its path."""
    merged = dict(values)
    for path, secret in revealed.items():
        key, *below = _PART.findall(path)
        if not below:
            merged[key] = secret
            continue
        document = json.loads(merged.get(key) or "{}")
        node = document
        for part in below[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
        last = below[-1]
        if last.startswith("["):
            # A list item left out where it stood: back in its place.
            node.insert(int(last[1:-1]), secret)
        else:
            node[last] = secret
        merged[key] = json.dumps(document)
    return merged
