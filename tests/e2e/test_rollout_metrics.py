"""`canary rollout` with the team's own metrics, against a Prometheus that wants credentials.

The data plane exports a business counter per version beside Istio's metrics (checkouts and failed
checkouts, `tests/support/app_metrics.py`), and a queue-lag gauge. Prometheus is reached as hosted ones
are: behind TLS from a CA of the test's own and basic auth (Prometheus' own `--web.config.file`),
the password a Pulumi secret of the stack; or behind a gateway that wants a bearer token (from an
environment variable) and a tenant header. No credential may appear in the log, `--json` or the
HTML report.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.support.rollout import ANALYSIS_INTERVAL, APP, LOAD_RATE, NAMESPACE, STEPS, assert_all_agree
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
SECRET_KEY = "rollout:prometheusPassword"


@dataclass
class Shop:
    plane: DataPlane
    prometheus: Prometheus


@contextlib.contextmanager
def shop(tmp_path: Path, **prometheus_options: Any) -> Iterator[Shop]:
    """The data plane with its load, and Prometheus scraping it, until stable's series are in."""
    with (
        DataPlane(NAMESPACE, APP, business_metrics=True) as plane,
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
    workspace.use_shipped("dev", rollout={"prometheus": prometheus, **rollout})


def rollout(
    workspace: Workspace, plane: DataPlane, *flags: str, env: Mapping[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [
            str(workspace.root / "venv" / "bin" / "python"), "-m", "canary", "rollout", "--stack", workspace.stack,
            "--steps", STEPS, "--step-duration", "60s", "--analysis-interval", ANALYSIS_INTERVAL,
            "--url", plane.url, "--host", "nginx-app.example.com", "--requests", "100", "--json", *flags,
        ],
        cwd=workspace.root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report, done.stderr


def assert_nowhere(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text, f"{secret!r} shown"


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
    with shop(tmp_path, web_config=web, client_headers={"Authorization": basic}, ca_file=ca) as mesh:
        # Checkouts fail 1 % on stable, 25 % on the canary; no request fails with a 5xx.
        mesh.plane.behave("v1", checkout_failure_rate=0.01)
        mesh.plane.behave("v2", checkout_failure_rate=0.25)
        configure(
            release,
            mesh.prometheus.url,
            metrics=[CHECKOUTS],
            prometheusAuth={"basicAuth": {"username": "rollout", "passwordSecret": SECRET_KEY}, "caFile": str(ca)},
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


def test_a_canary_whose_queue_lags_is_stopped_by_its_threshold_metric_behind_a_bearer_token(
    release: Workspace,
    tmp_path: Path,
) -> None:
    token = "tok-" + secrets.token_hex(12)
    with shop(tmp_path) as mesh, bearer_gateway(mesh.prometheus.url, token, {"X-Scope-OrgID": "shop"}) as (url, seen):
        auth = {"bearerTokenEnv": "E2E_PROMETHEUS_TOKEN", "headers": {"X-Scope-OrgID": "shop"}}
        # A query that does not parse is refused before anything changes, naming the metric.
        broken = {**QUEUE_LAG, "query": "max(shop_queue_lag_seconds"}
        configure(release, url, metrics=[broken], prometheusAuth=auth)
        code, _, log = rollout(release, mesh.plane, "--dry-run", env={"E2E_PROMETHEUS_TOKEN": token})
        assert code == 2 and log.startswith("canary rollout: error: rollout.metrics queue-lag: its query failed:"), log
        assert "parse error" in log and token not in log
        # Without the token, the gateway refuses, and the preflight says so.
        configure(release, url, metrics=[QUEUE_LAG], prometheusAuth=auth)
        code, _, log = rollout(release, mesh.plane, "--dry-run", env={"E2E_PROMETHEUS_TOKEN": "wrong"})
        assert code == 2 and "answered 401 Unauthorized: check rollout.prometheusAuth" in log, log
        # The canary's queue falls behind: 300 s of lag against at most 60.
        app_metrics(mesh.plane).set_queue_lag("v2", 300.0)
        code, report, log = rollout(release, mesh.plane, env={"E2E_PROMETHEUS_TOKEN": token})
    print(log)
    assert (code, report.get("outcome")) == (1, "rolled back"), log
    assert "queue-lag: 300 above max 60, 2 consecutive polls out of bounds (failureLimit 2)" in report["reason"]
    assert [poll["metrics"][0]["bad_polls"] for poll in report["polls"]][-2:] == [1, 2]
    assert f"Bearer {token}" in seen  # the gateway was asked with the token
    assert_all_agree(release, {"v1": 100}, "canary rollout: roll back v2")
    assert_nowhere(token, log, json.dumps(report))
