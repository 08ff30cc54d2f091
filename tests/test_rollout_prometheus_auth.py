"""Prometheus' bearer token comes from the environment and goes with every query, never printed."""

from __future__ import annotations

from typing import Any

import pytest

from canary.rollout.prometheus import PrometheusError, series_query
from tests.loopback_http import serving

EMPTY = {"status": "success", "data": {"resultType": "vector", "result": []}}


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
