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
    Outcome,
    assert_all_agree,
    command,
    rollout,
    stack_file,
)
from tests.support.stack import Workspace

EVIDENCE = "canary-rollout:analysis"


def _ctrl_c_as_in_a_terminal() -> None:
    # A command started in the background by a shell without job control (as CI runs this tier)
    # inherits SIGINT ignored, and Python then never raises KeyboardInterrupt: the rollout went
    # on to promote. The run here stands for one started at a terminal, where Ctrl-C reaches it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class FollowedRollout:
    """A rollout run in the background whose log is read as it is written, so that a test acts
    at a given poll of a given step. (The stack's history, polled instead, lagged by up to 30 s on
    a loaded machine: an interruption meant for the second step came during the promotion.)"""

    def __init__(self, release: Workspace, mesh: Mesh, *flags: str, step_duration: str) -> None:
        self.process = subprocess.Popen(
            command(release, mesh, *flags, step_duration=step_duration),
            cwd=release.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_ctrl_c_as_in_a_terminal,
        )
        self.log: list[str] = []
        self.polls: dict[int, int] = {}  # step number -> polls seen in it
        self.changed = threading.Condition()
        self.follower = threading.Thread(target=self._follow)
        self.follower.start()

    def _follow(self) -> None:
        assert self.process.stderr is not None
        step = 0
        for line in self.process.stderr:
            with self.changed:
                self.log.append(line)
                words = line.split()
                if len(words) > 2 and words[1] == "step":
                    step = int(words[2].split("/")[0])
                    self.polls[step] = 0
                elif len(words) > 2 and words[1:3] == ["poll", "at"] and step:
                    self.polls[step] += 1
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for_poll(self, step: int, poll: int, timeout: float = 180) -> None:
        with self.changed:
            seen = self.changed.wait_for(
                lambda: self.polls.get(step, 0) >= poll or self.process.poll() is not None, timeout
            )
            assert seen and self.polls.get(step, 0) >= poll, "".join(self.log)

    def finish(self, timeout: float = 600) -> Outcome:
        assert self.process.stdout is not None
        out = self.process.stdout.read()  # the follower alone reads the log
        self.process.wait(timeout=timeout)
        self.follower.join()
        report = json.loads(out) if out.strip() else {}
        return Outcome(self.process.returncode, report, "".join(self.log))


def tags(workspace: Workspace) -> dict[str, str]:
    listed = json.loads(workspace.pulumi("stack", "tag", "ls", "--json").check().stdout)
    return {key: value for key, value in listed.items() if key.startswith("canary-rollout:")}


def test_a_shared_outage_during_a_step_is_held_not_rolled_back(release: Workspace, mesh: Mesh) -> None:
    mesh.plane.behave("v1", error_rate=0.003)
    mesh.plane.behave("v2", error_rate=0.003)

    running = FollowedRollout(release, mesh, step_duration="24s")
    # Both versions fail 30 % of their requests for 9 s (three polls) in the first step.
    running.wait_for_poll(step=1, poll=1)
    for version in ("v1", "v2"):
        mesh.plane.behave(version, error_rate=0.3)
    time.sleep(9)
    for version in ("v1", "v2"):
        mesh.plane.behave(version, error_rate=0.003)
    outcome = running.finish()
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
    running = FollowedRollout(release, mesh, "--promote", step_duration="30s")
    running.wait_for_poll(step=2, poll=2)
    running.process.send_signal(signal.SIGINT)
    interrupted = running.finish(timeout=300)
    first = interrupted.report
    assert (interrupted.code, first["outcome"]) == (130, "interrupted"), interrupted.log
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
