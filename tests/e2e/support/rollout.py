"""The tutorial's release rolled out for real: its names, the mesh around it (loopback data plane, load,
a real Prometheus), the `canary rollout` command line, and what the stack file, the live
VirtualService and the stack's history say afterwards.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.dataplane import DataPlane, live_split
from tests.support.load import LoadGenerator
from tests.support.prometheus import Prometheus
from tests.support.stack import Workspace

APP = "nginx"  # the dev stack's


STEPS, STEP_DURATION, ANALYSIS_INTERVAL = "10,50", "12s", "3s"


LOAD_RATE = 150  # requests a second: 15 a second reach a canary at 10 %, 180 in a 12 s step (50 needed)


@dataclass
class Mesh:
    plane: DataPlane
    prometheus: Prometheus


def command(workspace: Workspace, mesh: Mesh, *flags: str, step_duration: str = STEP_DURATION) -> list[str]:
    return [
        str(workspace.root / "venv" / "bin" / "python"),
        "-m",
        "canary",
        "rollout",
        "--stack",
        workspace.stack,
        "--steps",
        STEPS,
        "--step-duration",
        step_duration,
        "--analysis-interval",
        ANALYSIS_INTERVAL,
        "--prometheus",
        mesh.prometheus.url,
        "--url",
        mesh.plane.url,
        "--host",
        "nginx-app.example.com",
        "--requests",
        "100",
        "--json",
        *flags,
    ]


@dataclass
class Outcome:
    code: int
    report: dict[str, Any]
    log: str


def rollout(workspace: Workspace, mesh: Mesh, *flags: str, step_duration: str = STEP_DURATION) -> Outcome:
    done = subprocess.run(
        command(workspace, mesh, *flags, step_duration=step_duration),
        cwd=workspace.root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return Outcome(done.returncode, report, done.stderr)


def history(workspace: Workspace) -> list[dict[str, Any]]:
    return json.loads(workspace.pulumi("stack", "history", "--json").check().stdout)  # type: ignore[no-any-return]


def wait_for_update(workspace: Workspace, message: str, timeout: float = 120) -> None:
    """Until the engine has recorded an update with this message: the step is being watched."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(entry.get("message") == message for entry in history(workspace)):
            return
        time.sleep(1)
    raise AssertionError(f"no update {message!r} within {timeout}s")


def stack_file(workspace: Workspace) -> dict[str, Any]:
    config = yaml.safe_load(workspace.stack_file.read_text())["config"]
    return {key.split(":", 1)[1]: value for key, value in config.items()}


def namespace_of(workspace: Workspace) -> str:
    """The namespace the workspace's stack deploys into, as its stack file says."""
    return str(stack_file(workspace)["namespace"])


def assert_all_agree(workspace: Workspace, plain_split: dict[str, int], last_update: str) -> None:
    """The stack file, the live VirtualService and the stack's history say the same."""
    config = stack_file(workspace)
    canary = config.get("canary") or {}
    stable = config.get("stable") or config["versions"][0]["name"]
    weight = canary.get("weight", 0)
    from_file = {stable: 100 - weight, canary["version"]: weight} if canary else {stable: 100}
    assert {v: pct for v, pct in from_file.items() if pct} == plain_split
    # Where Istio would send a plain request by the objects the API server holds.
    assert live_split(namespace_of(workspace)) == {version: float(pct) for version, pct in plain_split.items()}
    latest = history(workspace)[0]
    assert (latest["message"], latest["result"]) == (last_update, "succeeded")


def messages(workspace: Workspace) -> list[str]:
    return [entry.get("message", "") for entry in reversed(history(workspace))]


@contextlib.contextmanager
def serving_mesh(namespace: str, app: str, prometheus_dir: Path) -> Iterator[Mesh]:
    """Both versions healthy (they fail as often as each other: never), behind a real Prometheus."""
    with (
        DataPlane(namespace, app) as plane,
        Prometheus([plane.metrics_target], prometheus_dir) as prometheus,
        LoadGenerator(plane.url, rate=LOAD_RATE),
    ):
        # The preflight wants stable's series in Prometheus: wait for the first scrape of traffic.
        prometheus.wait_for('istio_requests_total{reporter="source",destination_version="v1"}')
        yield Mesh(plane, prometheus)
