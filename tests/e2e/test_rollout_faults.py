"""Faults in the middle of a real rollout, on the local cluster: the rollout and its `pulumi up`
killed with SIGKILL, Prometheus answering an error for one poll (the API server stopped mid-update
is test_api_server_outage.py's). After each, the stack file, the VirtualService the API server
holds and the engine's own history must agree, and nothing may be left half done without a word.

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
import urllib.parse
from pathlib import Path

from tests.e2e.support.faults import (
    backend_locks,
    is_running,
    pending_operations,
    start_rollout,
    wait_until,
)
from tests.e2e.support.rollout import (
    Mesh,
    assert_all_agree,
    command,
    history,
    namespace_of,
    rollout,
)
from tests.support.dataplane import live_split
from tests.support.loopback_http import QuietHandler, listening
from tests.support.stack import Workspace, kubectl


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
