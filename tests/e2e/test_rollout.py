"""`canary rollout` for real: the Automation API driving the real CLI against the local cluster,
a loopback data plane that routes by the live VirtualService, and Debian's Prometheus scraping it.

After every scenario the stack file, the VirtualService the API server holds and the engine's own
`pulumi stack history` must tell the same story.

The data plane reports every request as both proxies of a real call would (the gateway as
`reporter="source"`, the version's sidecar as `reporter="destination"`), Prometheus scrapes it
every second, and the rollout polls its analysis every 3 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

from tests.e2e.support.rollout import (
    APP,
    Mesh,
    assert_all_agree,
    command,
    history,
    messages,
    namespace_of,
    rollout,
    stack_file,
    wait_for_update,
)
from tests.support.dataplane import live_split
from tests.support.prometheus import free_port
from tests.support.stack import Workspace, live_object


def test_a_healthy_canary_failing_as_often_as_stable_walks_every_step_and_is_promoted_and_retired(
    release: Workspace, mesh: Mesh
) -> None:
    # Both versions fail 0.3 % of requests: the canary is no worse than stable, and under 1 %.
    mesh.plane.behave("v1", error_rate=0.003)
    mesh.plane.behave("v2", error_rate=0.003)
    outcome = rollout(release, mesh, "--promote", "--retire")
    print(outcome.log)  # what the docs show
    assert (outcome.code, outcome.report["outcome"]) == (0, "retired"), outcome.log
    report = outcome.report
    assert [step["weight"] for step in report["steps"]] == [10, 50]
    for step in report["steps"]:
        assert step["changes"] == {"update": 1}
        assert [gate["gate"] for gate in step["gates"]] == ["split", "health", "webhook"]
        assert step["gates"][1]["figures"]["canary_requests"] >= 50
        # A step is promoted only after its full duration.
        assert step["ended_seconds"] - step["started_seconds"] >= 12
    polls = report["polls"]
    assert len(polls) >= 8 and not any(poll["rollback"] for poll in polls)
    last = polls[-1]["versions"]
    assert last["v1"]["requests"] > 0 and last["v2"]["requests"] > 0
    assert {test["test"] for test in polls[-1]["tests"]} == {
        "error rate against stable", "error rate limit", "p99 limit", "p99 against stable"
    }  # fmt: skip
    assert report["analysis"]["resumed"] is False and report["verdict_seconds"] > 24
    assert messages(release)[-4:] == [
        "canary rollout: v2 at 10%",
        "canary rollout: v2 at 50%",
        "canary rollout: promote v2",
        "canary rollout: retire v1",
    ]
    config = stack_file(release)
    assert config["stable"] == "v2" and "canary" not in config and [v["name"] for v in config["versions"]] == ["v2"]
    assert_all_agree(release, {"v2": 100}, "canary rollout: retire v1")
    assert live_object("deployment", f"{APP}-deployment-v1", namespace_of(release)) is None


def test_a_canary_failing_5_percent_at_10_percent_is_rolled_back_mid_step(release: Workspace, mesh: Mesh) -> None:
    # 2 % of its requests also never reach it: 503s the gateway alone reports, naming no version.
    mesh.plane.behave("v2", error_rate=0.05, unreachable_rate=0.02)
    page = release.root / "rollout.html"
    outcome = rollout(release, mesh, "--promote", "--report", str(page), step_duration="120s")
    print(outcome.log)
    print(json.dumps(outcome.report["polls"][-1]))
    assert (outcome.code, outcome.report["outcome"]) == (1, "rolled back"), outcome.log
    report = outcome.report
    (step,) = report["steps"]
    assert step["weight"] == 10
    assert report["reason"].startswith("health gate failed at 10%: error rate"), report["reason"]
    # Judged as the evidence came: far sooner than the step's 120 s.
    watched = report["verdict_seconds"] - step["started_seconds"]
    print(f"rolled back {watched:.1f} s into its 120 s step ({report['verdict_seconds']:.1f} s after the start)")
    assert watched < 60, report["polls"]
    assert report["polls"][-1]["rollback"] is True
    assert report["polls"][-1]["unattributed_errors"] > 0
    assert stack_file(release)["canary"]["weight"] == 0
    assert_all_agree(release, {"v1": 100}, "canary rollout: roll back v2")
    # The same report as one page: the verdict, its reason, a chart per version.
    html = page.read_text()
    assert "rolled back" in html and "health gate failed at 10%: error rate" in html
    assert html.count("<svg") >= 2


def test_a_canary_far_slower_than_stable_is_rolled_back(release: Workspace, mesh: Mesh) -> None:
    # 5 ms and 40 ms: every stable request is within the 5 ms edge, so the canary is counted above
    # 10 ms against stable above 5 ms (none): a ratio of 2 tested, far under the 500 ms limit.
    mesh.plane.behave("v1", latency_ms=5)
    mesh.plane.behave("v2", latency_ms=40)
    outcome = rollout(release, mesh)
    assert (outcome.code, outcome.report["outcome"]) == (1, "rolled back"), outcome.log
    assert "p99 against stable" in outcome.report["reason"], outcome.report["reason"]
    assert_all_agree(release, {"v1": 100}, "canary rollout: roll back v2")


def test_a_dry_run_with_prometheus_unreachable_exits_2_and_changes_nothing(release: Workspace, mesh: Mesh) -> None:
    before = (release.stack_file.read_text(), len(history(release)))
    gone = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [*command(release, mesh), "--prometheus", gone, "--dry-run"],
        cwd=release.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr.startswith(f"canary rollout: error: Prometheus at {gone} is unreachable")
    assert done.stderr.count("\n") == 1
    assert (release.stack_file.read_text(), len(history(release))) == before
    assert live_split(namespace_of(release)) == {"v1": 100.0}


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
    assert outcome.report["analysis"]["resumed"] is True and "starts anew" in outcome.report["analysis"]["note"]
    assert [step["weight"] for step in outcome.report["steps"]] == [10, 50]
    assert_all_agree(release, {"v2": 100}, "canary rollout: promote v2")
