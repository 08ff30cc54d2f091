"""`canary rollout` for real: the Automation API driving the real CLI against the local cluster,
a loopback data plane that routes by the live VirtualService, and Debian's Prometheus scraping it.

After every scenario the stack file, the VirtualService the API server holds and the engine's own
`pulumi stack history` must tell the same story.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.mesh import split_for
from tests.e2e.dataplane import DataPlane
from tests.e2e.load import LoadGenerator
from tests.e2e.prometheus import Prometheus
from tests.e2e.stack import Workspace, live_object

NAMESPACE, APP = "canary-deployment", "nginx"  # the dev stack's
STEPS, STEP_DURATION = "10,50", "12s"


@dataclass
class Mesh:
    plane: DataPlane
    prometheus: Prometheus


@pytest.fixture
def release(new_workspace: Any) -> Workspace:
    """The tutorial's release, deployed: v1 stable, v2 the canary (cookie version=v2) at 0 %."""
    workspace: Workspace = new_workspace("rollout")
    workspace.use_shipped("dev")
    workspace.up().check()
    return workspace


@pytest.fixture
def mesh(release: Workspace, tmp_path: Path) -> Iterator[Mesh]:
    with (
        DataPlane(NAMESPACE, APP) as plane,
        Prometheus([plane.metrics_target], tmp_path / "prometheus") as prometheus,
        LoadGenerator(plane.url, rate=60),
    ):
        yield Mesh(plane, prometheus)


def command(workspace: Workspace, mesh: Mesh, *flags: str) -> list[str]:
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
        STEP_DURATION,
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


def rollout(workspace: Workspace, mesh: Mesh, *flags: str) -> Outcome:
    done = subprocess.run(
        command(workspace, mesh, *flags), cwd=workspace.root, capture_output=True, text=True, timeout=600, check=False
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


def assert_all_agree(workspace: Workspace, plain_split: dict[str, int], last_update: str) -> None:
    """The stack file, the live VirtualService and the stack's history say the same."""
    config = stack_file(workspace)
    canary = config.get("canary") or {}
    stable = config.get("stable") or config["versions"][0]["name"]
    weight = canary.get("weight", 0)
    from_file = {stable: 100 - weight, canary["version"]: weight} if canary else {stable: 100}
    assert {v: pct for v, pct in from_file.items() if pct} == plain_split
    spec = live_object("virtualservice", f"{APP}-virtualservice", NAMESPACE)["spec"]  # type: ignore[index]
    assert split_for(spec, {}) == plain_split
    latest = history(workspace)[0]
    assert (latest["message"], latest["result"]) == (last_update, "succeeded")


def messages(workspace: Workspace) -> list[str]:
    return [entry.get("message", "") for entry in reversed(history(workspace))]


def test_a_healthy_canary_walks_every_step_and_is_promoted_and_retired(release: Workspace, mesh: Mesh) -> None:
    outcome = rollout(release, mesh, "--promote", "--retire")
    assert (outcome.code, outcome.report["outcome"]) == (0, "retired"), outcome.log
    assert [step["weight"] for step in outcome.report["steps"]] == [10, 50]
    for step in outcome.report["steps"]:
        assert step["changes"] == {"update": 1}
        assert [gate["gate"] for gate in step["gates"]] == ["split", "health", "webhook"]
        health = step["gates"][1]["figures"]
        assert health["canary"]["requests"] > 0 and health["stable"]["requests"] > 0
    assert messages(release)[-4:] == [
        "canary rollout: v2 at 10%",
        "canary rollout: v2 at 50%",
        "canary rollout: promote v2",
        "canary rollout: retire v1",
    ]
    config = stack_file(release)
    assert config["stable"] == "v2" and "canary" not in config and [v["name"] for v in config["versions"]] == ["v2"]
    assert_all_agree(release, {"v2": 100}, "canary rollout: retire v1")
    assert live_object("deployment", f"{APP}-deployment-v1", NAMESPACE) is None


def test_a_canary_answering_5_percent_errors_is_rolled_back_at_its_first_step(release: Workspace, mesh: Mesh) -> None:
    mesh.plane.behave("v2", error_rate=0.05)
    outcome = rollout(release, mesh, "--promote")
    assert (outcome.code, outcome.report["outcome"]) == (1, "rolled back"), outcome.log
    assert [step["weight"] for step in outcome.report["steps"]] == [10]
    assert outcome.report["reason"].startswith("health gate failed at 10%: canary error rate ")
    assert "above the limit 1%" in outcome.report["reason"]
    assert stack_file(release)["canary"]["weight"] == 0
    assert_all_agree(release, {"v1": 100}, "canary rollout: roll back v2")


def test_a_canary_three_times_slower_than_stable_is_rolled_back(release: Workspace, mesh: Mesh) -> None:
    # 5 ms and 15 ms fall in Istio's 5-10 ms and 10-25 ms buckets: p99s of about 10 and 25 ms,
    # both far under the 500 ms limit.
    mesh.plane.behave("v1", latency_ms=5)
    mesh.plane.behave("v2", latency_ms=15)
    outcome = rollout(release, mesh)
    assert (outcome.code, outcome.report["outcome"]) == (1, "rolled back"), outcome.log
    (problem,) = outcome.report["steps"][0]["gates"][1]["problems"]
    assert "times stable's" in problem and "(at most 2 times)" in problem
    assert_all_agree(release, {"v1": 100}, "canary rollout: roll back v2")


def test_prometheus_stopped_mid_rollout_rolls_back_with_that_reason(release: Workspace, mesh: Mesh) -> None:
    running = subprocess.Popen(
        command(release, mesh), cwd=release.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for_update(release, "canary rollout: v2 at 10%")
    mesh.prometheus.stop()
    out, err = running.communicate(timeout=300)
    report = json.loads(out)
    assert (running.returncode, report["outcome"]) == (1, "rolled back"), err
    assert "is unreachable" in report["reason"] and "failing closed" in report["reason"]
    assert_all_agree(release, {"v1": 100}, "canary rollout: roll back v2")


def test_a_rollout_killed_mid_step_and_run_again_finishes_the_release(release: Workspace, mesh: Mesh) -> None:
    killed = subprocess.Popen(
        command(release, mesh, "--promote"), cwd=release.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_update(release, "canary rollout: v2 at 10%")
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(30)
    # Where the kill left it: the stack file and the cluster agree on 10 %.
    assert_all_agree(release, {"v1": 90, "v2": 10}, "canary rollout: v2 at 10%")

    outcome = rollout(release, mesh, "--promote")
    assert (outcome.code, outcome.report["outcome"]) == (0, "promoted"), outcome.log
    assert "resuming from there" in outcome.log
    assert [step["weight"] for step in outcome.report["steps"]] == [10, 50]
    assert_all_agree(release, {"v2": 100}, "canary rollout: promote v2")
