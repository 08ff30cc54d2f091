"""`canary rollout` with the team's own metrics, against a Prometheus that wants credentials.

The data plane exports a business counter per version beside Istio's metrics (checkouts and failed
checkouts, `tests/support/app_metrics.py`), and a queue-lag gauge. Prometheus is reached as hosted ones
are: behind TLS from a CA of the test's own and basic auth (Prometheus' own `--web.config.file`),
the password a Pulumi secret of the stack; or behind a gateway that wants a bearer token (from an
environment variable) and a tenant header. No credential may appear in the log, `--json`, the
HTML report, or anything the rollout sends out: its notifications (Apprise's `json://`) and its
webhook's POSTs, received on loopback (`tests/e2e/support/receiver.py`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.support.receiver import Received, receiving
from tests.e2e.support.rollout import ANALYSIS_INTERVAL, APP, LOAD_RATE, STEPS, assert_all_agree, namespace_of
from tests.support.app_metrics import AppMetrics
from tests.support.dataplane import DataPlane
from tests.support.guarded_prometheus import bcrypt_hash, bearer_gateway, tls_material
from tests.support.load import LoadGenerator
from tests.support.prometheus import Prometheus
from tests.support.stack import Workspace

WHERE = '{namespace="{{ namespace }}",app="{{ app }}",version="{{ version }}"}'
CHECKOUTS = {
    "name": "checkout-failures",
    "kind": "ratio",
    "bad": f"shop_checkout_failures_total{WHERE}",
    "total": f"shop_checkouts_total{WHERE}",
}
QUEUE_LAG = {
    "name": "queue-lag",
    "kind": "threshold",
    "query": f"max(shop_queue_lag_seconds{WHERE})",
    "max": 60,
    "failureLimit": 2,
}
QUEUE_LAG_PATIENT = {**QUEUE_LAG, "failureLimit": 12}
"""Twelve polls (36 s at 3 s): far more than the lag is let stay out of bounds below."""
SECRET_KEY = "rollout:prometheusPassword"


def json_url(receiver: str) -> str:
    """Apprise's plain JSON POST to the receiver."""
    return receiver.replace("http://", "json://", 1) + "/notify"


@dataclass
class Shop:
    plane: DataPlane
    prometheus: Prometheus


@contextlib.contextmanager
def shop(release: Workspace, tmp_path: Path, **prometheus_options: Any) -> Iterator[Shop]:
    """The data plane with its load, and Prometheus scraping it, until stable's series are in."""
    with (
        DataPlane(namespace_of(release), APP, business_metrics=True) as plane,
        Prometheus([plane.metrics_target], tmp_path / "prometheus", **prometheus_options) as prometheus,
        LoadGenerator(plane.url, rate=LOAD_RATE),
    ):
        business = app_metrics(plane)
        business.set_queue_lag("v1", 5.0)
        business.set_queue_lag("v2", 5.0)
        # The preflight wants stable's series of every query: wait for the first scrapes.
        prometheus.wait_for('istio_requests_total{reporter="source",destination_version="v1"}')
        prometheus.wait_for('shop_checkouts_total{version="v1"}')
        yield Shop(plane, prometheus)


def app_metrics(plane: DataPlane) -> AppMetrics:
    assert plane.app_metrics is not None
    return plane.app_metrics


def configure(workspace: Workspace, prometheus: str, **rollout: Any) -> None:
    """The dev stack's config with `rollout` keys: nothing the program deploys changes."""
    workspace.use_shipped("dev", namespace=namespace_of(workspace), rollout={"prometheus": prometheus, **rollout})


def rollout(
    workspace: Workspace,
    plane: DataPlane,
    *flags: str,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] = lambda line: None,
) -> tuple[int, dict[str, Any], str]:
    """The command, its log read line by line as it is written (`on_line`, to act on what it says)."""
    process = subprocess.Popen(
        [
            str(workspace.root / "venv" / "bin" / "python"), "-m", "canary", "rollout", "--stack", workspace.stack,
            "--steps", STEPS, "--step-duration", "60s", "--analysis-interval", ANALYSIS_INTERVAL,
            "--url", plane.url, "--host", "nginx-app.example.com", "--requests", "100", "--json", *flags,
        ],
        cwd=workspace.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    log: list[str] = []

    def read_log(stream: Any) -> None:
        for line in stream:
            log.append(line)
            on_line(line)

    reader = threading.Thread(target=read_log, args=(process.stderr,), daemon=True)
    reader.start()
    try:
        out = process.stdout.read()
        process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=10)
    report = json.loads(out) if out.strip() else {}
    return process.returncode, report, "".join(log)


def assert_nowhere(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text, f"{secret!r} shown"


def notifications(received: list[Received]) -> list[dict[str, Any]]:
    """Apprise's `json://` bodies (title, message, type), in the order sent."""
    return [r.json() for r in received if r.method == "POST" and r.path.startswith("/notify")]


def assert_sent_nothing_secret(received: list[Received], *secrets_: str) -> None:
    """No secret in any header or body sent to the receiver: the notifications', the webhook's."""
    assert received, "nothing was sent out"
    for request in received:
        for secret in secrets_:
            assert secret not in request.sent(), f"{secret!r} sent to {request.method} {request.path}"


def test_a_canary_failing_checkouts_is_rolled_back_by_its_ratio_metric_while_its_5xx_are_clean(
    release: Workspace,
    tmp_path: Path,
) -> None:
    password = "pw-" + secrets.token_hex(8)
    ca, cert, key = tls_material(tmp_path / "tls")
    basic = "Basic " + base64.b64encode(f"rollout:{password}".encode()).decode()
    web = {
        "tls_server_config": {"cert_file": str(cert), "key_file": str(key)},
        "basic_auth_users": {"rollout": bcrypt_hash(password)},
    }
    with (
        shop(release, tmp_path, web_config=web, client_headers={"Authorization": basic}, ca_file=ca) as mesh,
        receiving() as (receiver, received),
    ):
        # Checkouts fail 1 % on stable, 25 % on the canary; no request fails with a 5xx.
        mesh.plane.behave("v1", checkout_failure_rate=0.01)
        mesh.plane.behave("v2", checkout_failure_rate=0.25)
        configure(
            release,
            mesh.prometheus.url,
            metrics=[CHECKOUTS],
            prometheusAuth={"basicAuth": {"username": "rollout", "passwordSecret": SECRET_KEY}, "caFile": str(ca)},
            notify=[json_url(receiver)],
        )
        release.pulumi("config", "set", "--secret", SECRET_KEY, password).check()
        assert password not in release.stack_file.read_text()  # encrypted in the stack file
        page = tmp_path / "rollout.html"
        code, report, log = rollout(release, mesh.plane, "--report", str(page))
    print(log)
    assert (code, report.get("outcome")) == (1, "rolled back"), log
    assert report["reason"].startswith("health gate failed at 10%: checkout-failures against stable: e-value"), report
    last = report["polls"][-1]
    assert last["versions"]["v2"]["errors"] == 0 and last["versions"]["v1"]["errors"] == 0
    mesh_tests = [test for test in last["tests"] if test["test"] != "checkout-failures against stable"]
    assert mesh_tests and all(test["e_value"] < test["threshold"] for test in mesh_tests)
    (metric,) = last["metrics"]
    assert metric["versions"]["v2"]["bad"] > 0 and metric["versions"]["v2"]["total"] > 0
    assert_all_agree(release, {"v1": 100}, "canary rollout: roll back v2")
    html = page.read_text()
    assert 'id="chart-metric-0"' in html and "checkout-failures" in html
    assert_nowhere(password, log, json.dumps(report), html)
    assert_nowhere(basic.split()[1], log, json.dumps(report), html)
    sent = notifications(received)
    assert [note["title"] for note in sent][-1] == f"{release.stack}: canary v2 rolled back to 0%"
    assert "checkout-failures against stable" in sent[-1]["message"]
    assert_sent_nothing_secret(received, password, basic.split()[1])


def test_a_canary_whose_queue_lags_is_stopped_by_its_threshold_metric_behind_a_bearer_token(
    release: Workspace,
    tmp_path: Path,
) -> None:
    token = "tok-" + secrets.token_hex(12)
    with (
        shop(release, tmp_path) as mesh,
        bearer_gateway(mesh.prometheus.url, token, {"X-Scope-OrgID": "shop"}) as (url, seen),
        receiving() as (receiver, received),
    ):
        auth = {"bearerTokenEnv": "E2E_PROMETHEUS_TOKEN", "headers": {"X-Scope-OrgID": "shop"}}
        # A query that does not parse is refused before anything changes, naming the metric.
        broken = {**QUEUE_LAG, "query": "max(shop_queue_lag_seconds"}
        configure(release, url, metrics=[broken], prometheusAuth=auth)
        code, _, log = rollout(release, mesh.plane, "--dry-run", env={"E2E_PROMETHEUS_TOKEN": token})
        assert code == 2 and log.startswith("canary rollout: error: rollout.metrics queue-lag: its query failed:"), log
        assert "parse error" in log and token not in log
        # Without the token, the gateway refuses, and the preflight says so.
        configure(release, url, metrics=[QUEUE_LAG], prometheusAuth=auth, notify=[json_url(receiver)])
        code, _, log = rollout(release, mesh.plane, "--dry-run", env={"E2E_PROMETHEUS_TOKEN": "wrong"})
        assert code == 2 and "answered 401 Unauthorized: check rollout.prometheusAuth" in log, log
        # The canary's queue falls behind: 300 s of lag against at most 60.
        app_metrics(mesh.plane).set_queue_lag("v2", 300.0)
        code, report, log = rollout(release, mesh.plane, env={"E2E_PROMETHEUS_TOKEN": token})
    print(log)
    assert (code, report.get("outcome")) == (1, "rolled back"), log
    assert "queue-lag: 300 above max 60, 2 consecutive polls out of bounds (failureLimit 2)" in report["reason"]
    assert [poll["metrics"][0]["bad_polls"] for poll in report["polls"]][-2:] == [1, 2]
    # The first bad poll held the step (failureLimit 2); the second rolled it back.
    assert report["holds"][-1]["reasons"] == [
        "queue-lag: 300 above max 60, 1 of 2 consecutive polls out of bounds (failureLimit 2)"
    ]
    assert f"Bearer {token}" in seen  # the gateway was asked with the token
    assert_all_agree(release, {"v1": 100}, "canary rollout: roll back v2")
    assert_nowhere(token, log, json.dumps(report))
    titles = [note["title"] for note in notifications(received)]
    assert titles[-2:] == [f"{release.stack}: canary v2 held", f"{release.stack}: canary v2 rolled back to 0%"]
    assert_sent_nothing_secret(received, token)


def test_a_canary_whose_queue_lags_for_a_while_is_held_by_its_threshold_metric_then_completes(
    release: Workspace,
    tmp_path: Path,
) -> None:
    """Prometheus reached with `user:password@` in its URL, the webhook a Pulumi secret whose query
    string holds a key: neither credential in the log, the report or anything sent out."""
    password = "pw-" + secrets.token_hex(8)
    hook_key = "hk-" + secrets.token_hex(8)
    ca, cert, key = tls_material(tmp_path / "tls")
    basic = "Basic " + base64.b64encode(f"rollout:{password}".encode()).decode()
    web = {
        "tls_server_config": {"cert_file": str(cert), "key_file": str(key)},
        "basic_auth_users": {"rollout": bcrypt_hash(password)},
    }
    lag = None
    held_lines: list[str] = []

    def lag_recovers_after_two_holds(line: str) -> None:
        # Out of bounds from the start, back within them once the rollout has said twice that it holds.
        if "held at 10%: queue-lag: 300 above max 60" in line:
            held_lines.append(line)
            if len(held_lines) == 2 and lag is not None:
                lag.set_queue_lag("v2", 5.0)

    with (
        shop(release, tmp_path, web_config=web, client_headers={"Authorization": basic}, ca_file=ca) as mesh,
        receiving() as (receiver, received),
    ):
        lag = app_metrics(mesh.plane)
        lag.set_queue_lag("v2", 300.0)
        guarded = mesh.prometheus.url.replace("https://", f"https://rollout:{password}@", 1)
        configure(
            release, guarded, metrics=[QUEUE_LAG_PATIENT], prometheusAuth={"caFile": str(ca)},
            notify=[json_url(receiver)],
        )  # fmt: skip
        hook = f"{receiver}/hook?key={hook_key}"
        release.pulumi("config", "set", "--secret", "--path", "rollout.webhook", hook).check()
        assert hook_key not in release.stack_file.read_text()
        page = tmp_path / "rollout.html"
        code, report, log = rollout(release, mesh.plane, "--report", str(page), on_line=lag_recovers_after_two_holds)
    print(log)
    assert (code, report.get("outcome")) == (0, "completed"), log
    assert len(held_lines) >= 2, log
    lag_holds = [h for h in report["holds"] if any(r.startswith("queue-lag: 300 above max 60, ") for r in h["reasons"])]
    assert lag_holds and all(h["weight"] == 10 for h in lag_holds), report["holds"]
    assert "(failureLimit 12)" in lag_holds[0]["reasons"][0]
    # The weight was not raised while held: 50 % came after the last hold, and after the lag came back.
    ten, fifty = report["steps"]
    assert (ten["weight"], fifty["weight"]) == (10, 50) and ten["ok"] and fifty["ok"]
    assert fifty["started_seconds"] > max(h["seconds"] for h in lag_holds)
    bad = [poll["metrics"][0]["bad_polls"] for poll in report["polls"]]
    assert max(bad) >= 2 and max(bad) < 12 and bad[-1] == 0
    assert_all_agree(release, {"v1": 50, "v2": 50}, "canary rollout: v2 at 50%")
    html = page.read_text()
    assert "queue-lag: 300 above max 60" in html
    sent = notifications(received)
    titles = [note["title"] for note in sent]
    assert f"{release.stack}: canary v2 held" in titles and titles[-1] == f"{release.stack}: canary v2 completed"
    held_note = sent[titles.index(f"{release.stack}: canary v2 held")]
    assert "queue-lag: 300 above max 60" in held_note["message"]
    hooked = [r for r in received if r.method == "POST" and r.path.startswith("/hook")]
    assert [r.json()["weight"] for r in hooked] == [10, 50]  # the webhook heard each step, over the secret URL
    for secret in (password, basic.split()[1], hook_key, f"rollout:{password}@"):
        assert_nowhere(secret, log, json.dumps(report), html)
    assert_sent_nothing_secret(received, password, basic.split()[1], hook_key)
