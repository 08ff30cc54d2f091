"""`verify` and `rollout` through the Gateway API stack, end to end.

The shipped gateway-api stack (without its TLS Secret, as in test_gateway_api) on the local
cluster; the loopback data plane routes every request as istiod's Gateway API controller
programs the gateway from the live Gateway and HTTPRoute (the oracle); Debian's Prometheus
scrapes it. `verify` proves the split before and after, the rollout's split gate at each step,
and the live objects, read through the same translation, end as the outcome says.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support.rollout import Mesh, serving_mesh
from tests.support.dataplane import live_split
from tests.support.stack import Workspace, live_object

NAMESPACE, APP, HOST = "e2e-gwapi-rollout", "web", "web.gateway-api.example.com"
STEPS, STEP_DURATION, ANALYSIS_INTERVAL = "10,50", "12s", "3s"


@pytest.fixture
def release(deploy: Callable[..., Workspace]) -> Workspace:
    """The gateway-api stack deployed: v1 stable, v2 the canary (cookie version=v2) at 0 %."""
    return deploy(
        "gateway-api",
        namespace=NAMESPACE,
        gateway={"className": "istio"},
        security={},
        canary={"version": "v2", "cookie": "version=v2"},
    )


@pytest.fixture
def mesh(release: Workspace, tmp_path: Path) -> Iterator[Mesh]:
    with serving_mesh(NAMESPACE, APP, tmp_path / "prometheus") as served:
        yield served


def python(workspace: Workspace) -> str:
    return str(workspace.root / "venv" / "bin" / "python")


def verify(workspace: Workspace, mesh: Mesh) -> dict[str, Any]:
    done = subprocess.run(
        [python(workspace), "-m", "canary", "verify", "--stack", workspace.stack, "--url", mesh.plane.url,
         "--host", HOST, "--requests", "400", "--json"],
        cwd=workspace.root, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def rollout(workspace: Workspace, mesh: Mesh, *flags: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [python(workspace), "-m", "canary", "rollout", "--stack", workspace.stack, "--steps", STEPS,
         "--step-duration", STEP_DURATION, "--analysis-interval", ANALYSIS_INTERVAL,
         "--prometheus", mesh.prometheus.url, "--url", mesh.plane.url, "--host", HOST,
         "--requests", "100", "--json", *flags],
        cwd=workspace.root, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report, done.stderr


def test_a_healthy_canary_is_verified_promoted_and_retired_through_the_gateway_api(
    release: Workspace, mesh: Mesh
) -> None:
    assert live_split(NAMESPACE) == {"v1": 100.0}
    assert live_split(NAMESPACE, {"cookie": "_ga=1; version=v2"}) == {"v2": 100.0}
    verify(release, mesh)
    mesh.plane.behave("v1", error_rate=0.003)
    mesh.plane.behave("v2", error_rate=0.003)
    code, report, log = rollout(release, mesh, "--promote", "--retire")
    print(log)
    assert (code, report["outcome"]) == (0, "retired"), log
    assert [step["weight"] for step in report["steps"]] == [10, 50]
    for step in report["steps"]:
        # The split gate verified each step's split through the HTTPRoute the data plane follows.
        split_gate = step["gates"][0]
        assert (split_gate["gate"], split_gate["ok"]) == ("split", True), step
    assert live_split(NAMESPACE) == {"v2": 100.0}
    assert live_object("deployment", f"{APP}-deployment-v1", NAMESPACE) is None
    mesh.plane.wait_for_split({"v2": 100})
    # verify allows at most 1 % failed requests: at 0.3 %, 400 requests fail 5 or more about
    # once in 130 runs (binomial), so the last check is of the split alone.
    mesh.plane.behave("v2", error_rate=0)
    verify(release, mesh)


def test_a_failing_canary_is_rolled_back_through_the_gateway_api(release: Workspace, mesh: Mesh) -> None:
    # 20 %: within the 12 s step at 10 % (about 150 canary requests) the test against stable
    # misses it less than once in 1,000 runs by simulation; at 5 % it missed 29 % of them.
    mesh.plane.behave("v2", error_rate=0.2)
    code, report, log = rollout(release, mesh, "--promote")
    print(log)
    assert (code, report["outcome"]) == (1, "rolled back"), log
    assert report["reason"].startswith("health gate failed at 10%: error rate"), report["reason"]
    assert live_split(NAMESPACE) == {"v1": 100.0}
    assert live_split(NAMESPACE, {"cookie": "version=v2"}) == {"v2": 100.0}
