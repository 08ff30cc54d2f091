"""Drive the real Pulumi CLI and kubectl, the way a user does, against the local cluster.

A `Workspace` is a copy of the project in a temporary folder (so stack files written by a test
never touch the checkout) whose virtualenv is the checkout's. Each method runs one CLI command
and returns what it printed; nothing here reimplements what the CLI or the API server decides.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROJECT_FILES = ["Pulumi.yaml", "__main__.py", "canary", "requirements.txt"]
COMMAND_TIMEOUT = 600


@dataclass
class Result:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self) -> Result:
        if self.returncode != 0:
            raise AssertionError(
                f"{' '.join(self.command)} exited {self.returncode}\n"
                f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
            )
        return self


def run(
    command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, stdin: str | None = None
) -> Result:
    done = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return Result(command, done.returncode, done.stdout, done.stderr)


def kubectl(*args: str, stdin: str | None = None) -> Result:
    return run(["kubectl", *args], stdin=stdin)


def kubectl_json(*args: str) -> Any:
    return json.loads(kubectl(*args, "-o", "json").check().stdout)


def live_object(kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    """The object as the API server holds it, or None when it does not exist."""
    args = ["get", kind, name, "-o", "json"]
    if namespace:
        args += ["-n", namespace]
    result = kubectl(*args)
    if result.returncode != 0:
        if "NotFound" in result.stderr:
            return None
        result.check()
    return json.loads(result.stdout)


class Workspace:
    """A copy of the project with one stack, run through the real `pulumi` CLI."""

    def __init__(self, root: Path, stack: str) -> None:
        self.root = root
        self.stack = stack
        root.mkdir(parents=True, exist_ok=True)
        for name in PROJECT_FILES:
            source = PROJECT_DIR / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, root / name)
        # The CLI runs the program in the virtualenv Pulumi.yaml names (`venv`): the checkout's.
        (root / "venv").symlink_to(PROJECT_DIR / "venv")

    # --- stack file -------------------------------------------------------------------------

    @property
    def stack_file(self) -> Path:
        return self.root / f"Pulumi.{self.stack}.yaml"

    def write_config(self, values: dict[str, Any], *, comment: str = "") -> None:
        """Write the stack file with these project keys (values as YAML), keeping its salt."""
        document = yaml.safe_load(self.stack_file.read_text()) if self.stack_file.exists() else None
        document = document or {}
        document["config"] = {f"istio-canary:{key}": value for key, value in values.items()}
        self.stack_file.write_text(comment + yaml.safe_dump(document, sort_keys=False))

    def use_shipped(self, name: str, **overrides: Any) -> dict[str, Any]:
        """The config of a shipped stack file, with some keys overridden; written to this stack."""
        shipped = yaml.safe_load((PROJECT_DIR / f"Pulumi.{name}.yaml").read_text())["config"]
        values = {key.split(":", 1)[1]: value for key, value in shipped.items()}
        values.update(overrides)
        self.write_config(values)
        return values

    # --- CLI ----------------------------------------------------------------------------------

    def pulumi(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return run(["pulumi", *args, "--stack", self.stack, "--non-interactive"], cwd=self.root, env=env)

    def init(self) -> None:
        run(["pulumi", "stack", "init", self.stack, "--non-interactive"], cwd=self.root).check()

    def up(self, env: dict[str, str] | None = None) -> Result:
        return self.pulumi("up", "--yes", "--skip-preview", env=env)

    def preview(self, *args: str) -> Result:
        return self.pulumi("preview", *args)

    def destroy(self) -> Result:
        return self.pulumi("destroy", "--yes", "--skip-preview")

    def remove(self) -> None:
        self.pulumi("stack", "rm", "--yes", "--force")

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "output", "--json").check().stdout)

    def last_update(self) -> dict[str, Any]:
        """The newest entry of `pulumi stack history`: the engine's own record of the update."""
        history = json.loads(self.pulumi("stack", "history", "--json").check().stdout)
        return history[0]

    def exported_state(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "export").check().stdout)

    def render(self, out: Path, outputs: Path | None = None) -> Result:
        args = ["venv/bin/python", "-m", "canary", "render", "--stack", self.stack, "--out", str(out)]
        if outputs is not None:
            args += ["--outputs", str(outputs)]
        return run(args, cwd=self.root)
