"""What must work before a rollout moves any traffic: checked first, in a real run and a dry run.

A rollout that learns only at its first step that its URL does not resolve or its Prometheus is
down has already moved users onto the canary. So before any weight changes: the split gate's URL
resolves (or `--url` is given), Prometheus answers and holds series of stable (the analysis
compares the canary with them), every query of `rollout.metrics` parses and returns series of
stable, the webhook answers (any HTTP answer: only its POSTs are judged),
and, for a real run, the Pulumi CLI is on PATH (checked by the command before it opens the stack).
Each check gives one line naming what failed.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canary.config.metrics import MetricSettings
from canary.policy import Policy
from canary.rollout.metric_queries import for_version
from canary.rollout.prometheus import (
    PrometheusAccess,
    PrometheusError,
    as_access,
    series_of_version_query,
    series_query,
)
from canary.rollout.url_credentials import basic_authorization, without_userinfo
from canary.support.redact import redact_text, redact_url

TIMEOUT = 5.0


class OutputsUnavailableError(Exception):
    """The stack's outputs could not be read; the message is one line."""


@dataclass(frozen=True)
class Release:
    """What the checks need to know of the stack."""

    namespace: str
    app: str
    stable: str
    versions: tuple[str, ...]


def url_problem(url: str | None, outputs: Mapping[str, Any] | None, stack: str) -> str | None:
    """The split gate's URL (`--url`, else the stack's first) must resolve."""
    if url is None:
        if outputs is None or not outputs:
            return f"stack {stack} has no outputs (never deployed?): run `pulumi up` first, or pass --url"
        urls = outputs.get("urls") or []
        if not isinstance(urls, list) or not urls or not isinstance(urls[0], str):
            return f"stack {stack} names no URL in its outputs (urls): pass --url"
        url = urls[0]
    host = urllib.parse.urlsplit(url).hostname
    if not host:
        return f"URL {redact_url(url)} names no host"
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError) as err:
        return f"the URL's host {host} does not resolve ({err}): pass --url (and --host) to reach it otherwise"
    return None


def prometheus_problem(prometheus: PrometheusAccess | str, release: Release) -> str | None:
    """Prometheus answers and holds request series of stable as the analysis queries them."""
    access = as_access(prometheus)
    query = series_of_version_query(release.namespace, release.app, release.versions, release.stable)
    try:
        found = series_query(access, query, timeout=TIMEOUT)
    except PrometheusError as err:
        return str(err)
    if not found or found[0][1] <= 0:
        return (
            f"Prometheus at {access.shown} has no istio_requests_total series of stable {release.stable} "
            f'(reporter="source", service of {release.app} in {release.namespace}): does it scrape the mesh?'
        )
    return None


def metric_problem(
    prometheus: PrometheusAccess | str, release: Release, metrics: Sequence[MetricSettings]
) -> str | None:
    """Every query of `rollout.metrics`, filled in for stable, parses and returns series: a query
    with a typo, or a counter stable does not export, would otherwise be found at the first poll,
    with users on the canary (or never, for a ratio that reads nothing and so never rolls back)."""
    access = as_access(prometheus)
    for metric in metrics:
        parts = {"bad": metric.bad, "total": metric.total, "query": metric.query}
        for part, template in parts.items():
            if template is None:
                continue
            promql = for_version(template, release.namespace, release.app, release.stable)
            label = "query" if part == "query" else f"{part} query"
            try:
                found = series_query(access, promql, timeout=TIMEOUT)
            except PrometheusError as err:
                return f"rollout.metrics {metric.name}: its {label} failed: {err}"
            if not found:
                return (
                    f"rollout.metrics {metric.name}: its {label} returns no series for stable "
                    f"{release.stable}: {promql}"
                )
    return None


def webhook_problem(url: str) -> str | None:
    """Any HTTP answer to a HEAD counts: the webhook judges only the steps' POSTs. Asked as the
    gate asks it: a `user:password@` in `url` sent as basic auth."""
    basic = basic_authorization(url)
    request = urllib.request.Request(
        without_userinfo(url), headers={"Authorization": basic} if basic else {}, method="HEAD"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT):
            return None
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError) as err:
        return f"webhook {redact_url(url)} is unreachable: {redact_text(str(getattr(err, 'reason', err)))}"


def problem(
    policy: Policy,
    release: Release,
    *,
    url: str | None,
    outputs: Callable[[], Mapping[str, Any] | None],
    stack: str,
    prometheus: PrometheusAccess | None = None,
    metrics: Sequence[MetricSettings] = (),
) -> str | None:
    """The first check that fails, as one line; None when every one passes.

    `outputs` is called only when the URL must come from the stack (no `--url`); it may raise
    `OutputsUnavailableError`. `prometheus` is how to reach `policy.prometheus` (its credentials),
    when it needs any.
    """
    try:
        stack_outputs = outputs() if url is None else None
    except OutputsUnavailableError as err:
        return str(err)
    if (found := url_problem(url, stack_outputs, stack)) is not None:
        return found
    if policy.prometheus and (found := prometheus_problem(prometheus or policy.prometheus, release)) is not None:
        return found
    if policy.prometheus and (found := metric_problem(prometheus or policy.prometheus, release, metrics)):
        return found
    if policy.webhook and (found := webhook_problem(policy.webhook)) is not None:
        return found
    return None
