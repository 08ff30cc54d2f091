"""The preflight's checks one by one: each failure is one line naming what failed."""

from __future__ import annotations

import urllib.parse
from typing import Any

from canary.config.metrics import MetricSettings
from canary.policy import Policy
from canary.rollout import preflight
from tests.support.loopback_http import serving

RELEASE = preflight.Release("shop", "web", "v1", ("v1", "v2"))


def test_a_stack_never_deployed_has_no_outputs_to_take_the_url_from():
    assert preflight.url_problem(None, {}, "prod") == (
        "stack prod has no outputs (never deployed?): run `pulumi up` first, or pass --url"
    )


def test_outputs_without_a_url_ask_for_one():
    assert (
        preflight.url_problem(None, {"routes": []}, "prod")
        == "stack prod names no URL in its outputs (urls): pass --url"
    )


def test_the_stacks_first_url_is_used_and_must_resolve():
    assert preflight.url_problem(None, {"urls": ["http://127.0.0.1/", "http://x.invalid/"]}, "prod") is None
    problem = preflight.url_problem(None, {"urls": ["http://shop.invalid/"]}, "prod")
    assert problem is not None and problem.startswith("the URL's host shop.invalid does not resolve")


def test_the_outputs_are_read_only_without_url():
    def outputs() -> dict[str, object]:
        raise AssertionError("read though --url was given")

    assert preflight.problem(Policy(), RELEASE, url="http://127.0.0.1/", outputs=outputs, stack="prod") is None


def test_outputs_that_cannot_be_read_are_the_problem():
    def outputs() -> dict[str, object]:
        raise preflight.OutputsUnavailableError("cannot read the outputs of stack prod: no stack named 'prod' found")

    problem = preflight.problem(Policy(), RELEASE, url=None, outputs=outputs, stack="prod")
    assert problem == "cannot read the outputs of stack prod: no stack named 'prod' found"


def _api(request: Any) -> tuple[int, dict[str, Any]]:
    """A Prometheus API holding stable's mesh series and `checkouts_total` of v1 only; a query
    with a typo is refused as Prometheus refuses one (400, bad_data)."""
    query = urllib.parse.parse_qs(urllib.parse.urlparse(request.path).query)["query"][0]
    if "sum(" in query and ")" not in query.split("sum(", 1)[1]:
        return 400, {"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unclosed left parenthesis"}
    held = "istio_requests_total" in query or 'checkouts_total{version="v1"}' in query
    result = [{"metric": {}, "value": [0, "3"]}] if held else []
    return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}


def metric(**fields: Any) -> MetricSettings:
    base = {"name": "checkouts", "kind": "ratio", "bad": 'checkouts_total{version="{{ version }}"}'}
    return MetricSettings.model_validate({**base, "total": 'checkouts_total{version="{{ version }}"}', **fields})


def test_every_metric_query_is_run_for_stable_before_anything_changes():
    with serving(_api) as (url, received):
        policy = Policy(prometheus=url)
        assert (
            preflight.problem(policy, RELEASE, url="http://127.0.0.1/", outputs=dict, stack="p", metrics=[metric()])
            is None
        )
    asked = [urllib.parse.parse_qs(urllib.parse.urlparse(path).query)["query"][0] for path, _ in received]
    assert asked[1:] == ['checkouts_total{version="v1"}', 'checkouts_total{version="v1"}']


def test_a_metric_query_that_does_not_parse_is_refused_naming_the_metric():
    broken = metric(name="lag", kind="threshold", bad=None, total=None, query="sum(lag", max=5)
    with serving(_api) as (url, _):
        problem = preflight.metric_problem(url, RELEASE, [broken])
    assert problem == (
        f"rollout.metrics lag: its query failed: Prometheus at {url} answered 400 Bad Request: "
        "1:5: parse error: unclosed left parenthesis"
    )


def test_a_metric_query_without_series_for_stable_is_refused_naming_the_metric():
    typo = metric(bad='checkout_failures_total{version="{{ version }}"}')
    with serving(_api) as (url, _):
        problem = preflight.metric_problem(url, RELEASE, [typo])
    assert problem == (
        "rollout.metrics checkouts: its bad query returns no series for stable v1: "
        'checkout_failures_total{version="v1"}'
    )


def test_the_command_refuses_a_metric_without_series_for_stable_and_changes_nothing(tmp_path, capsys):
    from tests.support.rollout_cli import URL, project, run

    typo = {"name": "checkouts", "kind": "ratio", "bad": 'nope{version="{{ version }}"}'}
    with serving(_api) as (url, _):
        rollout = {"prometheus": url, "metrics": [{**typo, "total": 'checkouts_total{version="{{ version }}"}'}]}
        directory = project(tmp_path, rollout=rollout)
        before = (directory / "Pulumi.prod.yaml").read_text()
        code, out, err = run(capsys, directory, "--dry-run", "--url", URL)
    assert (code, out) == (2, "")
    assert err == (
        "canary rollout: error: rollout.metrics checkouts: its bad query returns no series for stable v1: "
        'nope{version="v1"}\n'
    )
    assert (directory / "Pulumi.prod.yaml").read_text() == before


def test_a_webhook_with_user_and_password_in_its_url_is_reached_without_them_in_the_host():
    heard = []

    def answer(request: Any) -> tuple[int, dict[str, Any]]:
        heard.append((request.command, request.headers.get("Authorization")))
        return (405, {})

    with serving(answer) as (url, _):
        assert preflight.webhook_problem(url.replace("http://", "http://bob:pw@") + "/gate?token=t") is None
    # bob:pw per RFC 7617, written out.
    assert heard == [("HEAD", "Basic Ym9iOnB3")]
