"""Reaching a Prometheus that wants credentials: bearer token, basic auth, extra headers, a CA
bundle; and no credential in what is shown (errors, the plan, --json)."""

from __future__ import annotations

import base64
import json
import ssl
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from canary.config.prometheus_auth import BasicAuthSettings, PrometheusAuthSettings
from canary.rollout.prometheus import PrometheusAccess, PrometheusError, series_query
from canary.rollout.prometheus_auth import AccessError, prometheus_access
from tests.support.guarded_prometheus import tls_material
from tests.support.loopback_http import serving
from tests.support.rollout_cli import URL, project, run

EMPTY = {"status": "success", "data": {"resultType": "vector", "result": []}}
ONE_SERIES = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]}}


def guarded(expected_authorization: str, expected_headers: dict[str, str] | None = None) -> Any:
    """A Prometheus API that answers 401 unless the request carries these headers."""

    def handle(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        wanted = {"Authorization": expected_authorization, **(expected_headers or {})}
        if any(request.headers.get(name) != value for name, value in wanted.items()):
            return 401, {"status": "error", "error": "unauthorized"}
        return 200, ONE_SERIES

    return handle


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_user_and_password_in_the_url_become_basic_auth_and_leave_the_url() -> None:
    with serving(guarded(basic("bob", "p@ss/w:rd"))) as (url, _):
        authority = url.removeprefix("http://")
        access = PrometheusAccess.of(f"http://bob:p%40ss%2Fw%3Ard@{authority}")
        assert access.request_url == url
        assert series_query(access, "up") == [({}, 1.0)]
    assert "p%40ss" not in repr(access) and "***@" in access.shown


def test_a_refused_credential_is_named_without_echoing_it() -> None:
    with serving(guarded(basic("bob", "right"))) as (url, _):
        authority = url.removeprefix("http://")
        with pytest.raises(PrometheusError) as raised:
            series_query(f"http://bob:hunter2@{authority}", "up")
    message = str(raised.value)
    assert "hunter2" not in message and "bob" not in message
    assert message == f"Prometheus at http://***@{authority} answered 401 Unauthorized: check rollout.prometheusAuth"


def test_an_unreachable_prometheus_with_a_password_in_its_url_says_unreachable_and_hides_it() -> None:
    # Before, Python's client took `admin:hunter2@127.0.0.1` for a host name: "Name or service not known".
    with pytest.raises(PrometheusError) as raised:
        series_query("http://admin:hunter2@127.0.0.1:9/", "up", timeout=2)
    message = str(raised.value)
    assert message.startswith("Prometheus at http://***@127.0.0.1:9/ is unreachable: ")
    assert "hunter2" not in message and "Name or service not known" not in message


def test_a_bearer_token_from_an_environment_variable_and_extra_headers_are_sent() -> None:
    auth = PrometheusAuthSettings(bearer_token_env="PROM_TOKEN", headers={"X-Scope-OrgID": "tenant-1"})
    with serving(guarded("Bearer t0ken", {"X-Scope-OrgID": "tenant-1"})) as (url, _):
        access = prometheus_access(url, auth, environ={"PROM_TOKEN": "t0ken\n"})
        assert series_query(access, "up") == [({}, 1.0)]
        bare = prometheus_access(url, PrometheusAuthSettings(), environ={})
        with pytest.raises(PrometheusError, match="answered 401"):
            series_query(bare, "up")


def test_a_bearer_token_from_a_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("from-file\n")
    with serving(guarded("Bearer from-file")) as (url, _):
        access = prometheus_access(url, PrometheusAuthSettings(bearer_token_file=str(token)), environ={})
        assert series_query(access, "up") == [({}, 1.0)]


def test_basic_auth_from_a_pulumi_secret() -> None:
    auth = PrometheusAuthSettings(
        basic_auth=BasicAuthSettings(username="12345", password_secret="rollout:promPassword")
    )
    secrets = {"rollout:promPassword": ("glc_s3cret", True)}
    with serving(guarded(basic("12345", "glc_s3cret"))) as (url, _):
        access = prometheus_access(url, auth, environ={}, read_secret=secrets.get)
        assert series_query(access, "up") == [({}, 1.0)]


@pytest.mark.parametrize(
    ("auth", "environ", "secrets", "message"),
    [
        (
            PrometheusAuthSettings(bearer_token_env="PROM_TOKEN"),
            {},
            {},
            "rollout.prometheusAuth.bearerTokenEnv: environment variable PROM_TOKEN is not set or empty",
        ),
        (
            PrometheusAuthSettings(bearer_token_file="/nonexistent/token"),
            {},
            {},
            "rollout.prometheusAuth.bearerTokenFile: cannot read /nonexistent/token (No such file or directory)",
        ),
        (
            PrometheusAuthSettings(basic_auth=BasicAuthSettings(username="u", password_secret="rollout:pw")),
            {},
            {"rollout:pw": ("in-plain-text", False)},
            "rollout.prometheusAuth.basicAuth.passwordSecret: rollout:pw is stored in plain text; "
            "store it with pulumi config set --secret rollout:pw",
        ),
        (
            PrometheusAuthSettings(basic_auth=BasicAuthSettings(username="u", password_secret="rollout:pw")),
            {},
            {},
            "rollout.prometheusAuth.basicAuth.passwordSecret: the stack has no value for rollout:pw "
            "(pulumi config set --secret rollout:pw)",
        ),
        (
            PrometheusAuthSettings(ca_file="/nonexistent/ca.pem"),
            {},
            {},
            "rollout.prometheusAuth.caFile: cannot read /nonexistent/ca.pem (No such file or directory)",
        ),
    ],
)
def test_a_credential_that_cannot_be_had_is_one_line_naming_where_it_was_looked_for(
    auth: PrometheusAuthSettings, environ: dict[str, str], secrets: dict[str, Any], message: str
) -> None:
    with pytest.raises(AccessError) as raised:
        prometheus_access("http://127.0.0.1:9090", auth, environ=environ, read_secret=secrets.get)
    assert str(raised.value) == message
    assert "in-plain-text" not in str(raised.value)


def test_a_ca_file_that_holds_no_certificate_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    with pytest.raises(AccessError, match=r"rollout.prometheusAuth.caFile: .*ca.pem holds no PEM certificate"):
        prometheus_access("https://127.0.0.1:9090", PrometheusAuthSettings(ca_file=str(bundle)), environ={})


def test_the_dry_run_plan_and_its_json_show_no_credential(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PROM_PASSWORD", "hunter2")
    with serving(guarded(basic("tenant", "hunter2"))) as (prometheus, _):
        directory = project(
            tmp_path,
            rollout={
                "prometheus": prometheus,
                "prometheusAuth": {"basicAuth": {"username": "tenant", "passwordEnv": "PROM_PASSWORD"}},
                "webhook": f"{prometheus}/hook?token=wh-secret",
            },
        )
        code, out, err = run(capsys, directory, "--dry-run", "--json", "--url", URL)
        assert code == 0, err
        plan = json.loads(out)
        code, text, err = run(capsys, directory, "--dry-run", "--url", URL)
        assert code == 0, err
    for shown in (out, text):
        assert "hunter2" not in shown and "wh-secret" not in shown
    assert plan["gates"]["webhook"] == f"{prometheus}/hook?***"
    assert plan["gates"]["health"]["prometheus_auth"] == "basic auth as tenant, password from $PROM_PASSWORD"
    assert "Prometheus auth: basic auth as tenant, password from $PROM_PASSWORD" in text


def test_a_password_in_the_prometheus_flag_is_not_echoed_in_any_refusal(tmp_path, capsys):
    code, out, err = run(capsys, project(tmp_path), "--dry-run", "--prometheus", "ftp://admin:hunter2@x", "--url", URL)
    assert (code, out) == (2, "")
    assert "hunter2" not in err and "ftp://***@x" in err
    code, out, err = run(
        capsys, project(tmp_path), "--dry-run", "--prometheus", "http://admin:hunter2@127.0.0.1:9", "--url", URL
    )
    assert (code, out) == (2, "")
    assert err.startswith("canary rollout: error: Prometheus at http://***@127.0.0.1:9 is unreachable"), err
    assert "hunter2" not in err


def test_a_token_written_in_the_stack_file_is_refused_without_echoing_it(tmp_path, capsys):
    directory = project(
        tmp_path, rollout={"prometheus": "http://127.0.0.1:9", "prometheusAuth": {"bearerToken": "plain-t0ken"}}
    )
    code, out, err = run(capsys, directory, "--dry-run", "--url", URL)
    assert (code, out) == (2, "")
    assert "rollout.prometheusAuth.bearerToken: a credential is never a value of this key" in err
    assert "plain-t0ken" not in err


def test_a_ca_bundle_verifies_a_prometheus_whose_certificate_the_system_does_not_know(tmp_path: Path) -> None:
    ca, cert, key = tls_material(tmp_path / "tls")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serving(lambda _: (200, ONE_SERIES), tls=context) as (url, _):
        https = url.replace("http://", "https://")
        with pytest.raises(PrometheusError, match=r"is unreachable: .*CERTIFICATE_VERIFY_FAILED"):
            series_query(https, "up")
        access = prometheus_access(https, PrometheusAuthSettings(ca_file=str(ca)), environ={})
        assert series_query(access, "up") == [({}, 1.0)]


# --- CI's token in the environment -------------------------------------------------------------


def test_the_token_in_the_environment_is_sent_as_a_bearer_token(monkeypatch):
    monkeypatch.setenv("CANARY_PROMETHEUS_TOKEN", "s3cret")
    seen: list[Any] = []

    def answer(handler: Any) -> tuple[int, dict[str, Any]]:
        seen.append(handler.headers.get("Authorization"))
        return 200, EMPTY

    with serving(answer) as (url, _):
        assert series_query(url, "up") == []
    assert seen == ["Bearer s3cret"]


def test_without_the_variable_no_authorization_is_sent(monkeypatch):
    monkeypatch.delenv("CANARY_PROMETHEUS_TOKEN", raising=False)
    seen: list[Any] = []
    with serving(lambda handler: (seen.append(handler.headers.get("Authorization")) or 200, EMPTY)) as (url, _):
        series_query(url, "up")
    assert seen == [None]


def test_a_refused_token_is_reported_without_the_token(monkeypatch):
    monkeypatch.setenv("CANARY_PROMETHEUS_TOKEN", "s3cret")
    with serving(lambda handler: (401, {})) as (url, _), pytest.raises(PrometheusError) as refused:
        series_query(url, "up")
    assert "answered 401" in str(refused.value) and "s3cret" not in str(refused.value)
