"""Tests for canary/traffic/expected.py: reading and checking routes from files and stacks."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from canary.traffic import expected
from canary.traffic.expected import (
    UNSET,
    ExpectationError,
    from_outputs,
    load_file,
    load_stack,
    parse_routes,
)
from tests.support.traffic_fixtures import COOKIE_ROUTE, HEADER_ROUTE, plain_route, write_routes

ROUTES = [COOKIE_ROUTE, HEADER_ROUTE, plain_route({"v1": 90, "v2": 10})]


def test_routes_list_is_read_in_order_with_each_routes_kind_of_request(tmp_path: Path) -> None:
    expectation = load_file(write_routes(tmp_path, ROUTES))
    cookie, header, plain = expectation.routes
    assert (cookie.cookie, cookie.split) == ("version=v2", {"v2": 100})
    assert header.headers == (("x-canary", "always"),)
    assert (plain.cookie, plain.headers, plain.split) == (None, (), {"v1": 90, "v2": 10})
    assert expectation.version_header == UNSET and expectation.urls == ()


def test_cookie_is_sent_first_in_the_middle_and_last_among_other_cookies() -> None:
    (route,) = parse_routes([COOKIE_ROUTE], "test")
    cookie_headers = [dict(variant)["Cookie"] for variant in route.header_variants()]
    positions = {[c.strip() for c in h.split(";")].index("version=v2") for h in cookie_headers}
    assert positions == {0, 1, 2}
    assert all(len(h.split(";")) == 3 for h in cookie_headers)


def test_stack_outputs_object_gives_urls_and_version_header(tmp_path: Path) -> None:
    outputs = {
        "routes": ROUTES,
        "urls": ["http://nginx-app.example.com/"],
        "versionHeader": "x-served-by",
        "namespace": "canary-deployment",
    }
    expectation = load_file(write_routes(tmp_path, outputs))
    assert expectation.urls == ("http://nginx-app.example.com/",)
    assert expectation.version_header == "x-served-by"
    assert len(expectation.routes) == 3


@pytest.mark.parametrize("off", [False, None])
def test_version_header_turned_off_in_the_stack_is_none(off: object) -> None:
    expectation = from_outputs({"routes": ROUTES, "versionHeader": off}, "stack dev")
    assert expectation.version_header is None


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ([], "must be a non-empty list"),
        ([{"when": {}, "split": {"v1": 90, "v2": 20}}], "routes[0].split must add up to 100, got 110"),
        ([{"when": {}, "split": {"v1": 100.0}}], "split.v1 must be an integer from 0 to 100"),
        ([{"when": {}, "split": {"v1": True}}], "split.v1 must be an integer"),
        ([{"when": {}}], "routes[0].split must be a non-empty object, got null"),
        ([{"when": {"uri": "/x"}, "split": {"v1": 100}}], "unknown key 'uri'"),
        ([{"when": {"cookie": "version"}, "split": {"v2": 100}}], "must look like name=value"),
        ([{"when": {"cookie": "a=b; c=d"}, "split": {"v2": 100}}], "must look like name=value"),
        ([{"when": {"headers": {"Host": "x"}}, "split": {"v2": 100}}], "cannot be sent: 'Host'"),
        ([{"when": {"headers": {"x": "a\r\nb"}}, "split": {"v2": 100}}], "one-line string"),
        ([COOKIE_ROUTE, "plain"], "routes[1] must be an object"),
    ],
)
def test_bad_routes_are_refused_with_where_and_what(routes: list, message: str) -> None:
    with pytest.raises(ExpectationError) as caught:
        parse_routes(routes, "routes.json")
    assert message in str(caught.value)
    assert str(caught.value).startswith("routes.json: ")
    assert "\n" not in str(caught.value)


def test_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text("routes: [plain]")
    with pytest.raises(ExpectationError, match=r"routes\.json is not JSON"):
        load_file(str(path))


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ExpectationError, match=r"nope\.json: cannot read it \(No such file"):
        load_file(str(tmp_path / "nope.json"))


def _fake_pulumi(directory: Path, script: str) -> None:
    """Put an executable named ``pulumi`` in ``directory`` that runs ``script`` (sh)."""
    path = directory / "pulumi"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_stack_outputs_come_from_pulumi_stack_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = {"routes": ROUTES, "urls": ["http://a.example.com/"], "versionHeader": "x-v"}
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    # The fake CLI records its arguments, so the test sees what was asked of Pulumi.
    _fake_pulumi(tmp_path, f'echo "$@" > {tmp_path}/args\ncat {tmp_path}/outputs.json\n')
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    expectation = load_stack("dev")
    assert (tmp_path / "args").read_text().split() == [
        "stack", "output", "--json", "--stack", "dev"
    ]  # fmt: skip
    assert expectation.urls == ("http://a.example.com/",)
    assert expectation.source == "stack dev"


def test_pulumi_failure_reports_its_last_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_pulumi(tmp_path, "echo 'error: no stack named \"prod\" found' >&2\nexit 255\n")
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(ExpectationError) as caught:
        load_stack("prod")
    assert str(caught.value) == ('pulumi stack output --stack prod failed: error: no stack named "prod" found')


def test_stack_outputs_with_a_number_int_cannot_read_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_pulumi(tmp_path, f"echo '{{\"urls\": {'9' * 5000}}}'\n")
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(ExpectationError) as caught:
        load_stack("prod")
    assert str(caught.value) == (
        "pulumi stack output --stack prod: holds a number of more digits than any route could use"
    )


def test_pulumi_failing_outside_a_project_says_where_it_looked_and_how_to_point_at_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_pulumi(tmp_path, "echo 'error: no Pulumi.yaml project file found' >&2\nexit 255\n")
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(ExpectationError) as caught:
        load_stack("dev", cwd=elsewhere)
    assert str(caught.value) == (
        "pulumi stack output --stack dev failed: error: no Pulumi.yaml project file found; "
        f"no Pulumi.yaml in {elsewhere} or any folder above it: run in the project folder, "
        "or point at it with --cwd DIR"
    )


def test_a_pulumi_stack_output_that_hangs_is_stopped_naming_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_pulumi(tmp_path, "exec sleep 60\n")
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(expected, "OUTPUTS_TIMEOUT", 0.5)
    with pytest.raises(ExpectationError) as caught:
        load_stack("prod")
    assert str(caught.value) == "`pulumi stack output --json --stack prod` ran over 0.5 s, and was stopped"


def test_missing_pulumi_cli_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no pulumi anywhere
    assert not any((Path(p) / "pulumi").exists() for p in os.environ["PATH"].split(":"))
    with pytest.raises(ExpectationError, match=r"Pulumi CLI .* not on PATH.*--routes FILE"):
        load_stack("dev")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda folder: "/dev/zero", "is not a regular file"),
        (lambda folder: _fifo(folder), "is not a regular file"),
        (lambda folder: _write(folder, "[" * 100_000 + "]" * 100_000), "nested too deep"),
        (lambda folder: _write(folder, " " * (5 << 20) + "[]"), "is larger than"),
        # int() refuses more than 4,300 digits with a ValueError the JSON parser passes on.
        (lambda folder: _write(folder, "[" + "9" * 5000 + "]"), "holds a number of more digits than any route"),
    ],
    ids=["/dev/zero", "fifo", "nested 100k deep", "5 MiB", "5,000 digits"],
)
def test_a_routes_file_that_would_hang_or_crash_the_reader_is_one_line(tmp_path: Path, make, reason) -> None:
    path = make(tmp_path)
    with pytest.raises(ExpectationError) as raised:
        load_file(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and reason in message, message
    assert "\n" not in message


def _fifo(folder: Path) -> str:
    os.mkfifo(folder / "routes.fifo")
    return str(folder / "routes.fifo")


def _write(folder: Path, text: str) -> str:
    (folder / "routes.json").write_text(text)
    return str(folder / "routes.json")


def test_a_routes_path_with_a_line_break_is_quoted_in_its_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ExpectationError) as raised:
        load_file(str(tmp_path / "no\nsuch.json"))
    assert "\n" not in str(raised.value) and "no\\nsuch.json" in str(raised.value)
