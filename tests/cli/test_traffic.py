"""Tests for canary/cli/traffic.py: the ``verify`` command end to end, flags and exit codes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.support.fake_mesh import MeshConfig, canary_rules, serve_in_thread
from tests.support.traffic_fixtures import (
    COOKIE_ROUTE,
    LOOPBACK,
    TLS_HOST,
    closed_port,
    plain_route,
    scripted_server,
    tls_server_context,
    verify,
    write_routes,
)

ROUTES = [COOKIE_ROUTE, plain_route({"v1": 90, "v2": 10})]


@pytest.fixture
def routes_file(tmp_path: Path) -> str:
    return write_routes(tmp_path, ROUTES)


def _assert_one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_mesh_that_routes_as_expected_passes_with_exit_0(routes_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}))) as mesh:
        outcome = verify(["--routes", routes_file, "--url", mesh.url, "--requests", "500"], capsys)
    assert outcome.code == 0, outcome.err
    assert "all 2 routes hold at 99% confidence" in outcome.out
    assert outcome.out.count("holds") == 2


def test_mesh_with_the_wrong_weights_fails_with_exit_1(routes_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 50, "v2": 50}))) as mesh:
        outcome = verify(["--routes", routes_file, "--url", mesh.url], capsys)
    assert outcome.code == 1
    assert "FAILS" in outcome.out
    assert "plain: split differs from the expected one" in outcome.out


def test_json_output_is_one_object_with_the_verdicts(routes_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 50, "v2": 50}))) as mesh:
        argv = ["--routes", routes_file, "--url", mesh.url, "--requests", "400", "--json"]
        outcome = verify(argv, capsys)
    document = json.loads(outcome.out)
    assert outcome.code == 1 and document["ok"] is False
    cookie, plain = document["routes"]
    assert (cookie["ok"], plain["ok"]) == (True, False)
    assert plain["counts"] == {"v1": 200, "v2": 200}
    assert plain["split"] == {"v1": 50.0, "v2": 50.0}
    assert plain["p_value"] < 0.01


def test_version_read_from_the_body_when_the_mesh_sets_no_header(
    routes_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}), version_header=None)
    with serve_in_thread(config) as mesh:
        argv = ["--routes", routes_file, "--url", mesh.url, "--requests", "200", "--json"]
        by_header = verify(argv, capsys)
        by_body = verify([*argv, "--version-pattern", r"version: (\w+)"], capsys)
    assert by_header.code == 1
    assert json.loads(by_header.out)["routes"][1]["errors"] == {"no_version": 200}
    assert by_body.code == 0, by_body.out
    assert json.loads(by_body.out)["routes"][1]["counts"] == {"v1": 180, "v2": 20}


def test_https_gateway_gets_the_host_as_tls_server_name(
    routes_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names: list[str | None] = []
    tls = tls_server_context(tmp_path, names)
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 90, "v2": 10})), tls=tls) as mesh:
        argv = ["--routes", routes_file, "--url", mesh.url, "--host", TLS_HOST, "--requests", "100"]
        outcome = verify([*argv, "--insecure"], capsys)
    assert mesh.url.startswith("https://")
    assert outcome.code == 0, outcome.err
    assert names and set(names) == {TLS_HOST}


def test_untrusted_certificate_is_one_line_and_exit_2(
    routes_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tls = tls_server_context(tmp_path, [])
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 100})), tls=tls) as mesh:
        outcome = verify(["--routes", routes_file, "--url", mesh.url, "--host", TLS_HOST], capsys)
    assert outcome.code == 2
    line = _assert_one_line_error(outcome.err)
    assert line.startswith(f"canary verify: error: cannot reach {mesh.url}: TLS handshake or certificate failure")
    assert "certificate verify failed" in line


def test_stack_outputs_give_the_url_and_the_version_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}), version_header="x-served-by")
    with serve_in_thread(config) as mesh:
        outputs = {"routes": ROUTES, "urls": [mesh.url], "versionHeader": "x-served-by"}
        (tmp_path / "outputs.json").write_text(json.dumps(outputs))
        pulumi = tmp_path / "pulumi"
        pulumi.write_text(f"#!/bin/sh\ncat {tmp_path}/outputs.json\n")
        pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
        outcome = verify(["--stack", "dev", "--requests", "100", "--json"], capsys)
    assert outcome.code == 0, outcome.err
    assert json.loads(outcome.out)["routes"][0]["counts"] == {"v2": 100}


def test_stack_with_the_version_header_off_asks_for_a_pattern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_routes(tmp_path, {"routes": ROUTES, "urls": [], "versionHeader": False})
    outcome = verify(["--routes", path, "--url", f"http://{LOOPBACK}:1/"], capsys)
    assert outcome.code == 2
    assert "--version-pattern" in _assert_one_line_error(outcome.err)


def test_source_without_a_url_asks_for_one(routes_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = verify(["--routes", routes_file], capsys)
    assert outcome.code == 2
    assert _assert_one_line_error(outcome.err).endswith("names no URL to send to; pass --url")


def test_unreachable_target_is_one_line_and_exit_2(routes_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    outcome = verify(["--routes", routes_file, "--url", f"http://{LOOPBACK}:{port}/"], capsys)
    assert outcome.code == 2
    line = _assert_one_line_error(outcome.err)
    url = f"http://{LOOPBACK}:{port}/"
    assert line == f"canary verify: error: cannot reach {url}: connection refused"
    assert outcome.out == ""


def test_target_that_answers_only_the_first_request_is_exit_2(
    routes_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The reachability probe gets an answer; every later connection is closed unanswered.
    ok = b"HTTP/1.1 200 OK\r\nx-canary-version: v1\r\nContent-Length: 0\r\n\r\n"
    with scripted_server([ok]) as url:
        outcome = verify(["--routes", routes_file, "--url", url, "--requests", "20", "--json"], capsys)
    assert outcome.code == 2
    assert _assert_one_line_error(outcome.err) == f"canary verify: error: no request got an HTTP answer from {url}"
    assert [route["errors"] for route in outcome.json()["routes"]] == [{"reset": 20}, {"reset": 20}]


def test_unreadable_routes_file_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_routes(tmp_path, [{"when": {}, "split": {"v1": 90}}])
    outcome = verify(["--routes", bad, "--url", f"http://{LOOPBACK}:1/"], capsys)
    assert outcome.code == 2
    assert "routes[0].split must add up to 100, got 90" in _assert_one_line_error(outcome.err)


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--requests", "0"], ["--requests", "'0'"]),
        (["--requests", "ten"], ["--requests", "'ten'"]),
        (["--requests", "99999999999999999"], ["--requests", "from 1 to 1000000", "'99999999999999999'"]),
        (["--timeout", "10m"], ["--timeout", "at most 5m", "'10m'"]),
        (["--rate", "1e12"], ["--rate", "at most 100000", "'1e12'"]),
        (["--host", "evil.com\r\nX-Injected: 1"], ["--host", "'evil.com\\r\\nX-Injected: 1'"]),
        (["--concurrency", "0"], ["--concurrency", "'0'"]),
        (["--concurrency", "5000"], ["--concurrency", "'5000'"]),
        (["--rate", "-5"], ["--rate", "'-5'"]),
        (["--timeout", "nan"], ["--timeout", "'nan'"]),
        (["--confidence", "1.5"], ["--confidence", "'1.5'"]),
        (["--confidence", "99"], ["--confidence", "'99'"]),
        (["--max-error-rate", "150"], ["--max-error-rate", "must be a percentage above 0 and at most 100, got 150"]),
        (["--max-error-rate", "0"], ["--max-error-rate", "must be a percentage above 0 and at most 100, got 0"]),
        (["--max-error-rate", "ten"], ["--max-error-rate", "'ten'"]),
        (["--cwd", "."], ["--cwd", "only with --stack"]),
        (["--version-pattern", "version: ("], ["--version-pattern", "'version: ('"]),
        (["--version-header", "x canary"], ["--version-header", "'x canary'"]),
        (["--host", "a b"], ["--host", "'a b'"]),
        (["--url", "ftp://example.com/"], ["--url", "'ftp://example.com/'"]),
        (["--bogus", "1"], ["--bogus"]),
        (["--version-header", "x", "--version-pattern", "v"], ["--version-pattern"]),
    ],
)
def test_bad_flag_is_one_line_naming_flag_and_value(
    flags: list[str], named: list[str], routes_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--routes", routes_file, "--url", f"http://{LOOPBACK}:1/", *flags]
    outcome = verify(argv, capsys)
    assert outcome.code == 2
    line = _assert_one_line_error(outcome.err)
    assert line.startswith("canary verify: error: ")
    for word in named:
        assert word in line


def test_missing_routes_source_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = verify(["--url", f"http://{LOOPBACK}:1/"], capsys)
    assert outcome.code == 2
    assert "--stack --routes" in _assert_one_line_error(outcome.err)


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = verify(["--help"], capsys)
    assert outcome.code == 0
    assert "--version-pattern" in outcome.out


def test_max_error_rate_is_a_percent_as_in_rollout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # One answer in 50 names no version: 2 % of the requests fail.
    path = write_routes(tmp_path, [plain_route({"v1": 100})])
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 100}), unversioned_every=50)) as mesh:
        argv = ["--routes", path, "--url", mesh.url, "--requests", "500", "--json"]
        lenient = verify([*argv, "--max-error-rate", "5"], capsys)
        strict = verify([*argv, "--max-error-rate", "1.5"], capsys)
    assert lenient.code == 0, lenient.err
    assert json.loads(lenient.out)["max_error_rate"] == 5
    assert strict.code == 1
    assert (
        "2.0% of requests failed, most as no_version (10); at most 1.5% may"
        in json.loads(strict.out)["routes"][0]["problems"]
    )


@pytest.mark.parametrize("flags", [["--sticky-clients", "20"], ["--sticky-requests", "3"]])
def test_sticky_flags_without_a_sticky_cookie_are_reported(
    flags: list[str], routes_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}))) as mesh:
        outcome = verify(["--routes", routes_file, "--url", mesh.url, "--requests", "200", *flags], capsys)
    assert outcome.code == 0, outcome.err
    warnings = [line for line in outcome.err.splitlines() if "warning" in line]
    assert warnings == [
        f"canary verify: warning: {flags[0]} ignored: {routes_file} names no sticky cookie (canary.sticky),"
        " so there is no stickiness to check"
    ]


def test_without_sticky_flags_nothing_is_reported(routes_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}))) as mesh:
        outcome = verify(["--routes", routes_file, "--url", mesh.url, "--requests", "200"], capsys)
    assert outcome.code == 0
    assert "warning" not in outcome.err


@pytest.mark.parametrize("flag", ["--cwd", "-C"])
def test_cwd_runs_pulumi_stack_output_in_that_folder(
    flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 90, "v2": 10}))) as mesh:
        (tmp_path / "outputs.json").write_text(json.dumps({"routes": ROUTES, "urls": [mesh.url]}))
        pulumi = tmp_path / "pulumi"
        pulumi.write_text(f"#!/bin/sh\npwd > {tmp_path}/ran-in\ncat {tmp_path}/outputs.json\n")
        pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
        outcome = verify(["--stack", "acme/dev", flag, str(project), "--requests", "100"], capsys)
    assert outcome.code == 0, outcome.err
    assert (tmp_path / "ran-in").read_text().strip() == str(project)


def test_a_url_with_credentials_is_shown_redacted(routes_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    outcome = verify(["--routes", routes_file, "--url", f"http://tester:hunter2@{LOOPBACK}:{port}/?key=k3y"], capsys)
    assert outcome.code == 2
    line = _assert_one_line_error(outcome.err)
    assert line == f"canary verify: error: cannot reach http://***@{LOOPBACK}:{port}/?***: connection refused"


@pytest.mark.parametrize(("text", "seconds"), [("10m", 600), ("90s", 90), ("1h", 3600), ("45", 45), ("2.5", 2.5)])
def test_traffic_duration_reads_a_duration_as_rollout_does(text: str, seconds: float, routes_file: str) -> None:
    from canary.cli.traffic import traffic_parser

    args = traffic_parser().parse_args(["--routes", routes_file, "--duration", text])
    assert args.duration == seconds


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--duration", "0"], ["--duration", "must be more than zero, got '0'"]),
        (["--duration", "ten minutes"], ["--duration", "must be a duration such as 90s, 2m or 1h"]),
        (["--duration", "9999h"], ["--duration", "must be at most 168h"]),
        (["--interval", "2h"], ["--interval", "at most 1h"]),
    ],
)
def test_bad_traffic_flag_is_one_line_naming_flag_and_value(
    flags: list[str], named: list[str], routes_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from canary.cli.traffic import traffic_main

    code = traffic_main(["--routes", routes_file, "--url", f"http://{LOOPBACK}:1/", *flags])
    line = _assert_one_line_error(capsys.readouterr().err)
    assert code == 2 and line.startswith("canary traffic: error: ")
    for word in named:
        assert word in line, line


def test_a_pulumi_stack_output_that_never_ends_is_stopped_with_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pulumi = tmp_path / "pulumi"
    pulumi.write_text('#!/bin/sh\nwhile :; do echo \'{"routes": [], "padding": "xxxxxxxxxxxxxxxxxxxxxxxx"}\'; done\n')
    pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    outcome = verify(["--stack", "dev", "--requests", "100"], capsys)
    assert outcome.code == 2
    assert _assert_one_line_error(outcome.err) == (
        "canary verify: error: `pulumi stack output --json --stack dev` wrote more than 16 MiB, and was stopped"
    )
