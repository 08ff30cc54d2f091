"""The API server stopped for 20 s in the middle of a step's update, then started again: the
rollout retries the update, finishes, and the stack file, the VirtualService the API server holds
and the engine's own history agree. Alone in its run (`ALONE_TESTS` in `.ci/run`): while the API
server is down, every other test talking to it would fail.

The release, the data plane, Prometheus and the command line are test_rollout.py's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support.faults import backend_locks, is_running, start_rollout, wait_until, weight_in_stack_file
from tests.e2e.support.rollout import Mesh, assert_all_agree, history, rollout
from tests.support.stack import Workspace, kubectl


class ApiServer:
    """The local cluster's kube-apiserver, stopped and started again exactly as kwokctl ran it
    (same arguments, folder, environment and log), its new pid recorded where kwokctl keeps it,
    so that e2e/down stops it as before."""

    def __init__(self) -> None:
        self.pid_file = Path(os.environ["KUBECONFIG"]).parent / "pids" / "kube-apiserver.pid"
        self._run: tuple[list[bytes], str, dict[bytes, bytes], str] | None = None

    @property
    def pid(self) -> int:
        return int(self.pid_file.read_text().strip())

    def stop(self) -> None:
        pid = self.pid
        proc = Path(f"/proc/{pid}")
        args = (proc / "cmdline").read_bytes().split(b"\0")[:-1]
        environ = dict(entry.split(b"=", 1) for entry in (proc / "environ").read_bytes().split(b"\0") if b"=" in entry)
        self._run = (args, os.readlink(proc / "cwd"), environ, os.readlink(proc / "fd" / "2"))
        os.kill(pid, signal.SIGKILL)  # as a crash: nothing in flight is finished
        wait_until(lambda: not is_running(pid), "exit of the API server", timeout=30)

    def start(self) -> None:
        assert self._run is not None, "start() only after stop()"
        args, cwd, environ, log = self._run
        self._run = None
        with open(log if log.startswith("/") else os.devnull, "ab") as out:
            process = subprocess.Popen(
                args, cwd=cwd, env=environ, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
            )
        self.pid_file.write_text(str(process.pid))  # kwokctl reads it with no newline
        wait_until(lambda: kubectl("get", "--raw", "/readyz").returncode == 0, "ready API server", 120, 0.5)

    @property
    def stopped(self) -> bool:
        return self._run is not None


@pytest.fixture
def api_server() -> Iterator[ApiServer]:
    server = ApiServer()
    yield server
    # Whatever the test did, the cluster answers again for the tests after it.
    if server.stopped:
        server.start()


def failed_updates_are_followed_by_a_success(workspace: Workspace) -> None:
    """Every update the engine recorded as failed was done again, and that one succeeded."""
    entries = list(reversed(history(workspace)))
    for index, entry in enumerate(entries):
        if entry["result"] != "succeeded":
            later = [e for e in entries[index + 1 :] if e.get("message") == entry.get("message")]
            assert later and later[-1]["result"] == "succeeded", (entry, entries)


def test_the_api_server_stopped_for_20s_mid_update_is_waited_for_and_the_rollout_finishes(
    release: Workspace, mesh: Mesh, api_server: ApiServer, tmp_path: Path
) -> None:
    running = start_rollout(release, mesh, tmp_path)
    # The first step's `pulumi up` is under way: the weight is in the stack file, the stack locked.
    wait_until(lambda: weight_in_stack_file(release) == 10 and bool(backend_locks(release)), "first step's update")
    api_server.stop()
    time.sleep(20)
    api_server.start()
    running.wait(timeout=600)
    report = json.loads((tmp_path / "rollout.json").read_text())
    log = (tmp_path / "rollout.log").read_text()
    print(log)
    assert (running.returncode, report["outcome"]) == (0, "completed"), log
    assert "the update failed" in log and "trying again" in log
    assert [step["weight"] for step in report["steps"]] == [10, 50]
    assert_all_agree(release, {"v1": 50, "v2": 50}, "canary rollout: v2 at 50%")
    failed_updates_are_followed_by_a_success(release)
    # Converged: the stack's state is the stack file's, and a rerun promotes from there.
    release.preview("--expect-no-changes").check()
    again = rollout(release, mesh, "--promote")
    assert (again.code, again.report["outcome"]) == (0, "promoted"), again.log
    assert_all_agree(release, {"v2": 100}, "canary rollout: promote v2")
