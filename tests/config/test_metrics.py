"""`rollout.metrics` and `rollout.prometheusAuth` validated as every input: exit 2, one line
naming the key and the value, and never a credential echoed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.rollout_cli import URL, project, run

RATIO = {
    "name": "checkouts",
    "kind": "ratio",
    "bad": 'f{version="{{ version }}"}',
    "total": 't{version="{{ version }}"}',
}
LAG = {"name": "lag", "kind": "threshold", "query": "max(lag)", "max": 100}


@pytest.mark.parametrize(
    ("rollout", "line"),
    [
        (
            {"metrics": [{**RATIO, "total": 't{version="{{ verison }}"}'}]},
            "rollout.metrics[0].total: names {{ verison }}, but only {{ namespace }}, {{ app }}, {{ version }} are "
            "filled in, got 't{version=\"{{ verison }}\"}'",
        ),
        (
            {"metrics": [{**RATIO, "bad": "sum(f)"}]},
            "rollout.metrics[0].bad: must select one version with {{ version }}: the canary's counts are compared "
            "with stable's, got 'sum(f)'",
        ),
        (
            {"metrics": [{**RATIO, "bad": 'sum(rate(f{version="{{ version }}"}[1m]))'}]},
            "rollout.metrics[0].bad: must read counters as they stand, without rate(): the rollout counts their "
            "increases itself, from its first poll, got 'sum(rate(f{version=\"{{ version }}\"}[1m]))'",
        ),
        (
            {"metrics": [{**RATIO, "kind": "gauge"}]},
            "rollout.metrics[0].kind: must be one of 'ratio' or 'threshold', got 'gauge'",
        ),
        ({"metrics": [{**LAG, "min": 200}]}, "rollout.metrics[0].max: must be at least min (200), got 100"),
        (
            {"metrics": [{**LAG, "failureLimit": 0}]},
            "rollout.metrics[0].failureLimit: must be an integer from 1 to 1000, got 0",
        ),
        (
            {"metrics": [{**LAG, "max": None}]},
            "rollout.metrics[0].max: a threshold metric needs min, max or both, got null",
        ),
        ({"metrics": [{**LAG, "bad": "x"}]}, "rollout.metrics[0].bad: must select one version with {{ version }}"),
        ({"metrics": [{**RATIO, "max": 3}]}, "rollout.metrics[0].max: is not read by a ratio metric, got 3"),
        ({"metrics": [LAG, LAG]}, "rollout.metrics[1].name: names another metric too, got 'lag'"),
        ({"metrics": [{**LAG, "name": "Queue Lag"}]}, "rollout.metrics[0].name: must be a metric name"),
        ({"metrics": [{**LAG, "query": "{{ version "}]}, "rollout.metrics[0].query: has a {{ with no matching }}"),
        (
            {"prometheusAuth": {"bearerTokenEnv": "A", "bearerTokenFile": "/t"}},
            "rollout.prometheusAuth.bearerTokenFile: give one credential, not bearerTokenEnv and bearerTokenFile, "
            "got '/t'",
        ),
        (
            {"prometheusAuth": {"basicAuth": {"username": "u"}}},
            "rollout.prometheusAuth.basicAuth.passwordEnv: give exactly one of passwordEnv and passwordSecret, "
            "got null",
        ),
        (
            {"prometheusAuth": {"basicAuth": {"username": "u", "passwordSecret": "istio-canary:pw"}}},
            "rollout.prometheusAuth.basicAuth.passwordSecret: must be in a namespace of its own",
        ),
        (
            {"prometheusAuth": {"headers": {"Authorization": "Bearer s3cret-value"}}},
            "rollout.prometheusAuth.headers.Authorization: is set by bearerTokenEnv, bearerTokenFile or basicAuth",
        ),
        (
            {"prometheusAuth": {"basicAuth": {"username": "u", "password": "s3cret-value"}}},
            "rollout.prometheusAuth.basicAuth.password: a credential is never a value of this key",
        ),
        (
            {"prometheusAuth": {"bearerTokenEnv": "MY-TOKEN"}},
            "rollout.prometheusAuth.bearerTokenEnv: must be an environment variable's name",
        ),
    ],
)
def test_a_bad_metric_or_auth_key_is_refused_naming_it(tmp_path, capsys, rollout: dict[str, Any], line: str) -> None:
    code, out, err = run(capsys, project(tmp_path, rollout=rollout), "--dry-run", "--url", URL)
    assert (code, out) == (2, "")
    assert f"\n  {line}" in err, err
    assert "s3cret-value" not in err
