"""`canary rollout` under what real traffic brings, on the local cluster with a real Prometheus:
a shared outage held rather than rolled back, evidence that outlives an interrupted run, a thin
canary held until the hold limit and stopped with its own exit status.

The fixtures and helpers are test_rollout.py's: the dev stack deployed, the loopback data plane
routing by the live VirtualService at 150 requests a second, Prometheus scraping it every second,
the analysis polled every 3 s.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time

from tests.e2e.support.rollout import (
    Mesh,
    assert_all_agree,
    command,
    rollout,
    stack_file,
    wait_for_update,
)
from tests.support.stack import Workspace

EVIDENCE = "canary-rollout:analysis"


def tags(workspace: Workspace) -> dict[str, str]:
    listed = json.loads(workspace.pulumi("stack", "tag", "ls", "--json").check().stdout)
    return {key: value for key, value in listed.items() if key.startswith("canary-rollout:")}


def test_a_shared_outage_during_a_step_is_held_not_rolled_back(release: Workspace, mesh: Mesh) -> None:
    mesh.plane.behave("v1", error_rate=0.003)
    mesh.plane.behave("v2", error_rate=0.003)

    def outage() -> None:
        # Both versions fail 30 % of their requests for 9 s (three polls) in the first step.
        wait_for_update(release, "canary rollout: v2 at 10%")
        time.sleep(4)
        for version in ("v1", "v2"):
            mesh.plane.behave(version, error_rate=0.3)
        time.sleep(9)
        for version in ("v1", "v2"):
            mesh.plane.behave(version, error_rate=0.003)

    incident = threading.Thread(target=outage)
    incident.start()
    outcome = rollout(release, mesh, step_duration="24s")
    incident.join()
    print(outcome.log)
    assert (outcome.code, outcome.report["outcome"]) == (0, "completed"), outcome.log
    holds = outcome.report["holds"]
    assert holds and all(hold["weight"] == 10 for hold in holds), holds
    assert any(
        reason.startswith("error rate limit: stable too at or above the limit") for reason in holds[0]["reasons"]
    )
    assert holds[0]["stable"]["error_rate"] >= 1.0
    assert any(poll["hold"] for poll in outcome.report["polls"])
    assert "held at 10%: error rate limit: stable too" in outcome.log
    # The held intervals extend the step beyond its 24 s.
    first = outcome.report["steps"][0]
    assert first["ended_seconds"] - first["started_seconds"] > 24 + 2
    assert_all_agree(release, {"v1": 50, "v2": 50}, "canary rollout: v2 at 50%")


def test_an_interrupted_rollout_keeps_its_evidence_and_the_rerun_continues_it(release: Workspace, mesh: Mesh) -> None:
    mesh.plane.behave("v1", error_rate=0.003)
    mesh.plane.behave("v2", error_rate=0.003)
    running = subprocess.Popen(
        command(release, mesh, "--promote", step_duration="30s"),
        cwd=release.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_update(release, "canary rollout: v2 at 50%")
    time.sleep(8)  # a few polls of the second step
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=300)
    first = json.loads(out)
    assert (running.returncode, first["outcome"]) == (130, "interrupted"), err
    assert EVIDENCE in tags(release)
    kept = {test["test"]: test["e_value"] for test in first["polls"][-1]["tests"]}

    outcome = rollout(release, mesh, "--promote")
    assert (outcome.code, outcome.report["outcome"]) == (0, "promoted"), outcome.log
    analysis = outcome.report["analysis"]
    assert analysis["resumed"] is True
    assert analysis["note"].startswith("continuing the evidence of v1 -> v2 kept with the stack"), analysis
    # The rerun's first poll (its interval left out of the comparison) starts from the kept e-values.
    (comparison,) = [t for t in outcome.report["polls"][0]["tests"] if t["test"] == "error rate against stable"]
    assert abs(comparison["e_value"] - kept["error rate against stable"]) <= 1e-6 * max(
        1.0, kept["error rate against stable"]
    )
    assert comparison["e_value"] != 1.0
    # The release ended: its evidence is gone from the stack's tags.
    assert EVIDENCE not in tags(release)
    assert_all_agree(release, {"v2": 100}, "canary rollout: promote v2")


def test_a_thin_canary_is_held_then_stops_with_exit_3_and_its_weight_kept(release: Workspace, mesh: Mesh) -> None:
    outcome = rollout(release, mesh, "--min-requests", "1000000", "--hold-limit", "9s")
    assert (outcome.code, outcome.report["outcome"]) == (3, "held"), outcome.log
    report = outcome.report
    assert report["reason"].startswith("held at 10% for want of evidence:"), report["reason"]
    assert "the weight stays at 10%, and a rerun continues from there" in report["reason"]
    assert report["holds"][0]["reasons"] == ["thin evidence"]
    (step,) = report["steps"]
    # Watched for the step's 12 s, then held an interval (3 s) at a time up to the 9 s limit.
    (health,) = [gate for gate in step["gates"] if gate["gate"] == "health"]
    assert 12 + 9 <= health["figures"]["watched_seconds"] < 12 + 9 + 3
    assert stack_file(release)["canary"]["weight"] == 10
    assert_all_agree(release, {"v1": 90, "v2": 10}, "canary rollout: v2 at 10%")
    assert EVIDENCE in tags(release)  # kept for the rerun
