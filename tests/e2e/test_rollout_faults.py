"""Faults in the middle of a real rollout, on the local cluster: the API server stopped for 20 s
and started again, the rollout and its `pulumi up` killed with SIGKILL, Prometheus answering an
error for one poll. After each, the stack file, the VirtualService the API server holds and the
engine's own history must agree, and nothing may be left half done without a word.

The release, the data plane, Prometheus and the command line are test_rollout.py's.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support.rollout import (
    Mesh,
    assert_all_agree,
    command,
    history,
    namespace_of,
    rollout,
    stack_file,
)
from tests.support.dataplane import live_split
from tests.support.loopback_http import QuietHandler, listening
from tests.support.stack import Workspace, kubectl


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"no {what} within {timeout}s")


def backend_locks(workspace: Workspace) -> list[Path]:
    """The lock files the file backend holds for this stack (one while an update runs)."""
    backend = Path(os.environ["PULUMI_BACKEND_URL"].removeprefix("file://"))
    return sorted((backend / ".pulumi" / "locks").glob(f"*/*/{workspace.stack}/*.json"))


def pending_operations(workspace: Workspace) -> list[dict[str, Any]]:
    return workspace.exported_state()["deployment"].get("pending_operations") or []


def weight_in_stack_file(workspace: Workspace) -> int:
    return int((stack_file(workspace).get("canary") or {}).get("weight", 0))


def is_running(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie has, whoever reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


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


def start_rollout(workspace: Workspace, mesh: Mesh, tmp_path: Path, *flags: str) -> subprocess.Popen[bytes]:
    """The rollout in a process group of its own (the Pulumi CLI joins it; its plugins each get
    a group of their own), its output to files: a pipe left unread for a minute could fill and
    stall it."""
    return subprocess.Popen(
        command(workspace, mesh, *flags),
        cwd=workspace.root,
        stdout=(tmp_path / "rollout.json").open("wb"),
        stderr=(tmp_path / "rollout.log").open("wb"),
        start_new_session=True,
    )


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc: the Pulumi CLI starts its plugins in process
    groups of their own, out of reach of a signal to the rollout's group."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The parent's pid is the second field after the command name, which may hold spaces.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        below = children.get(queue.pop(), [])
        found += below
        queue += below
    return found


def kill_everything_below(pid: int) -> None:
    """SIGKILL to `pid`'s process group and to every process below it, as a lost machine would
    be: taken all together, none left to clean up after the others."""
    below = descendants(pid)
    os.killpg(pid, signal.SIGKILL)
    for each in below:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)


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


class HeldUpdates:
    """An admission webhook on loopback that holds every update of the namespace's VirtualServices
    until released (at most 28 s; the API server gives up at 30 s and lets it through): a step's
    `pulumi up` then waits inside the VirtualService's update, with its operation pending in the
    state, for as long as the test needs to kill it there."""

    NAME = "istio-canary-e2e-hold-updates"

    def __init__(self, folder: Path, namespace: str) -> None:
        self.release = threading.Event()
        self.held = threading.Event()
        key, cert = folder / "webhook.key", folder / "webhook.crt"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        hook = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.held.set()
                hook.release.wait(28)
                body = json.dumps(
                    {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                     "response": {"uid": review["request"]["uid"], "allowed": True}}
                ).encode()  # fmt: skip
                self.send_body(200, body)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._served = contextlib.ExitStack()
        port = urllib.parse.urlsplit(self._served.enter_context(listening(Handler, context))).port
        configuration = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": self.NAME},
            "webhooks": [
                {
                    "name": "hold.istio-canary.test",
                    "clientConfig": {
                        "url": f"https://127.0.0.1:{port}/hold",
                        "caBundle": base64.b64encode(cert.read_bytes()).decode(),
                    },
                    "rules": [
                        {"apiGroups": ["networking.istio.io"], "apiVersions": ["*"], "operations": ["UPDATE"],
                         "resources": ["virtualservices"]}
                    ],
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                    "failurePolicy": "Ignore",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "timeoutSeconds": 30,
                }
            ],
        }  # fmt: skip
        kubectl("apply", "-f", "-", stdin=json.dumps(configuration)).check()

    def close(self) -> None:
        self.release.set()
        kubectl("delete", "validatingwebhookconfiguration", self.NAME, "--ignore-not-found").check()
        self._served.close()


def test_a_rollout_killed_during_pulumi_up_is_found_said_and_recovered_by_the_rerun(
    release: Workspace, mesh: Mesh, tmp_path: Path
) -> None:
    hold = HeldUpdates(tmp_path, namespace_of(release))
    try:
        running = start_rollout(release, mesh, tmp_path, "--promote")
        # The first step's update of the VirtualService is held: its operation is pending.
        assert hold.held.wait(120), "the first step's update never reached the API server"
        wait_until(lambda: bool(pending_operations(release)), "pending operation", timeout=20, every=0.5)
        assert backend_locks(release)
        # The rollout, its `pulumi up` and the plugins it started, as a lost machine would be.
        below = descendants(running.pid)
        assert any(Path(f"/proc/{pid}/exe").resolve().name.startswith("pulumi-language-") for pid in below), below
        kill_everything_below(running.pid)
        running.wait(30)
        wait_until(lambda: not any(map(is_running, below)), "exit of the plugins", 30)
    finally:
        hold.close()
    assert backend_locks(release) and pending_operations(release)

    outcome = rollout(release, mesh, "--promote")
    print(outcome.log)
    assert (outcome.code, outcome.report["outcome"]) == (0, "promoted"), outcome.log
    recovered = outcome.report["recovered"]
    assert len(recovered) == 2, recovered
    assert "locked by an update that no longer runs" in recovered[0] and "pulumi cancel" in recovered[0]
    assert "left pending (updating " in recovered[1] and "pulumi refresh" in recovered[1]
    assert all(line in outcome.log for line in recovered)
    assert "took over the stale rollout lock" in outcome.log  # the killed rollout's own lock
    assert [step["weight"] for step in outcome.report["steps"]] == [10, 50]
    assert backend_locks(release) == [] and pending_operations(release) == []
    assert_all_agree(release, {"v2": 100}, "canary rollout: promote v2")


class FlakyProxy:
    """Prometheus behind a loopback proxy that answers 503 to the next `fail_next` queries."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.fail_next = 0
        self.failed = 0
        proxy = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                if proxy.fail_next > 0:
                    proxy.fail_next -= 1
                    proxy.failed += 1
                    self.send_error(503, "Service Unavailable")
                    return
                self.forward_get(proxy.upstream)

        self._served = contextlib.ExitStack()
        self.url = self._served.enter_context(listening(Handler))

    def close(self) -> None:
        self._served.close()


def test_prometheus_failing_one_poll_is_held_and_the_rollout_goes_on(release: Workspace, mesh: Mesh) -> None:
    proxy = FlakyProxy(mesh.prometheus.url)
    try:
        args = [*command(release, mesh), "--prometheus", proxy.url]
        running = subprocess.Popen(args, cwd=release.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The first step is being watched: its update is in the history.
        wait_until(
            lambda: any(e.get("message") == "canary rollout: v2 at 10%" for e in history(release)),
            "first step's update",
            every=1,
        )
        proxy.fail_next = 1  # the next poll's first query: that poll fails, the next ones answer
        out, err = running.communicate(timeout=300)
    finally:
        proxy.close()
    report = json.loads(out)
    assert (running.returncode, report["outcome"]) == (0, "completed"), err
    assert proxy.failed == 1
    (error,) = report["analysis"]["poll_errors"]
    assert "answered 503" in error["error"], error
    assert "held" in err
    assert_all_agree(release, {"v1": 50, "v2": 50}, "canary rollout: v2 at 50%")
    assert live_split(namespace_of(release)) == {"v1": 50.0, "v2": 50.0}
