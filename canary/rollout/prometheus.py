"""Istio's standard metrics for each version, as raw counters read from Prometheus' HTTP API.

What is asked, and why:

- `reporter="source"`: the report of the proxy that sent the request (the ingress gateway, or
  a calling sidecar). It sees what the canary's own sidecar never does: a 503 because no healthy
  upstream was left, a reset before the answer. The destination's reports are never added in: a
  request that reached its version is reported once by each side, and would count twice.
- The app's Service, by `destination_service_namespace` and `destination_service_name`
  (`<app>-service`, and `<app>-<version>` for the Gateway API's per-version Services); versions
  are told apart by `destination_version` (the pods' `version` label). When the source's proxy
  did not know the upstream (no endpoint was picked), Istio labels the version `unknown`: such
  5xx are *unattributed*, counted apart and on neither version.
- Raw counter values, each series on its own (no `sum`, no `increase()`): `increase()` drops the
  first increment of a series born inside its window (a canary's first 503 is a new series) and
  extrapolates to fractions, and a `sum` over series hides a reset of one behind the growth of
  the others. Per series, a value lower than the last one read is a reset (the process behind it
  restarted), and its whole value is new, as Prometheus' own `increase()` reads a decrease. A
  series first seen after the start is new since the start. A series that goes away keeps what
  it had counted.
"""

from __future__ import annotations

import json
import math
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from canary.plan.gateway_api import version_service_name
from canary.plan.service import service_name
from canary.rollout.url_credentials import basic_authorization, without_userinfo
from canary.support.redact import redact_text, redact_url

UNATTRIBUTED = ("", "unknown")
"""`destination_version` values that name no version."""

Series = tuple[tuple[str, str], ...]
"""A series' labels, sorted: its identity."""


MAX_ANSWER_BYTES = 16 << 20
"""The queries ask for a few series of one app: an answer past this is not one of theirs, and is
not read into memory."""


TOKEN_VARIABLE = "CANARY_PROMETHEUS_TOKEN"
"""A bearer token from the environment, sent when `rollout.prometheusAuth` names no credential."""


class PrometheusError(Exception):
    """Prometheus could not be asked, or did not answer a query; the message is one line, its URL
    redacted."""


@dataclass(frozen=True)
class PrometheusAccess:
    """How to reach one Prometheus: its base URL and what every request carries.

    `headers` hold the credentials (`Authorization`) and any extra header a hosted Prometheus
    wants (a tenant's `X-Scope-OrgID`); `ca_file` is a PEM bundle to verify its certificate with,
    instead of the system's. Shown only as `shown` (its URL redacted), never as its headers.
    """

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    ca_file: str | None = None

    @classmethod
    def of(cls, url: str, headers: Mapping[str, str] | None = None, ca_file: str | None = None) -> PrometheusAccess:
        """Access to `url`; a `user:password@` in it becomes basic auth (as curl reads one)
        unless `headers` authenticate otherwise; without either, `CANARY_PROMETHEUS_TOKEN` in the
        environment is sent as a bearer token."""
        extra = dict(headers or {})
        basic = basic_authorization(url)
        if basic is not None:
            extra.setdefault("Authorization", basic)
        # Without a credential of its own, CI's token in the environment (kept as its secret).
        token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if token:
            extra.setdefault("Authorization", f"Bearer {token}")
        return cls(url=url, headers=tuple(extra.items()), ca_file=ca_file)

    @property
    def request_url(self) -> str:
        """The base URL without its user information, which Python's HTTP client would take for
        part of the host name (and fail with "Name or service not known")."""
        return without_userinfo(self.url)

    @property
    def shown(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        return f"PrometheusAccess({self.shown!r})"

    def get(self, path_and_query: str, timeout: float) -> Any:
        """The JSON of a GET of `path_and_query` below the base URL; PrometheusError otherwise."""
        url = f"{self.request_url.rstrip('/')}{path_and_query}"
        request = urllib.request.Request(url, headers=dict(self.headers))
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                body = response.read(MAX_ANSWER_BYTES + 1)
            if len(body) > MAX_ANSWER_BYTES:
                raise PrometheusError(f"Prometheus at {self.shown} answered more than {MAX_ANSWER_BYTES >> 20} MiB")
            return json.loads(body)
        except urllib.error.HTTPError as err:
            hint = ": check rollout.prometheusAuth" if err.code in (401, 403) else _api_error(err)
            raise PrometheusError(f"Prometheus at {self.shown} answered {err.code} {err.reason}{hint}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = redact_text(str(getattr(err, "reason", err)))
            raise PrometheusError(f"Prometheus at {self.shown} is unreachable: {reason}") from None
        except (ValueError, RecursionError):
            raise PrometheusError(f"Prometheus at {self.shown} did not answer JSON") from None


def _api_error(err: urllib.error.HTTPError) -> str:
    """The API's own reason for a refusal (a query that does not parse is a 400 with one), one line."""
    try:
        document = json.loads(err.read(4096) or b"{}")
    except (ValueError, OSError):
        return ""
    reason = document.get("error") if isinstance(document, dict) else None
    return f": {' '.join(str(reason).split())}" if reason else ""


def as_access(prometheus: PrometheusAccess | str) -> PrometheusAccess:
    return prometheus if isinstance(prometheus, PrometheusAccess) else PrometheusAccess.of(prometheus)


def series_query(
    prometheus: PrometheusAccess | str, promql: str, timeout: float = 5.0
) -> list[tuple[dict[str, str], float]]:
    """Run an instant query; each series of its vector as (labels, value), NaN values left out."""
    access = as_access(prometheus)
    document = access.get(f"/api/v1/query?{urllib.parse.urlencode({'query': promql})}", timeout)
    if not isinstance(document, dict) or document.get("status") != "success":
        error = document.get("error", "no reason given") if isinstance(document, dict) else "not an API answer"
        raise PrometheusError(f"Prometheus at {access.shown} refused the query: {error}")
    samples = []
    try:
        for sample in document["data"]["result"]:
            value = float(sample["value"][1])
            if not math.isnan(value):
                samples.append((dict(sample["metric"]), value))
    except (KeyError, TypeError, ValueError, IndexError):
        raise PrometheusError(f"Prometheus at {access.shown} answered a result that is not a vector") from None
    return samples


def range_query(
    prometheus: PrometheusAccess | str, promql: str, start: float, end: float, step: float, timeout: float = 10.0
) -> list[float]:
    """Run a range query whose result is one series (a `sum`); its values, oldest first (none when
    the result is empty)."""
    access = as_access(prometheus)
    query = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    document = access.get(f"/api/v1/query_range?{urllib.parse.urlencode(query)}", timeout)
    if not isinstance(document, dict) or document.get("status") != "success":
        raise PrometheusError(f"Prometheus at {access.shown} refused the range query")
    try:
        result = document["data"]["result"]
        return [float(value) for _, value in result[0]["values"]] if result else []
    except (KeyError, TypeError, ValueError, IndexError):
        raise PrometheusError(f"Prometheus at {access.shown} answered a result that is not a matrix") from None


def selector(namespace: str, app: str, versions: Sequence[str]) -> str:
    """The label matchers of every query: the source's reports of requests to the app's Services."""
    services = "|".join([service_name(app), *(version_service_name(app, version) for version in versions)])
    return f'reporter="source",destination_service_namespace="{namespace}",destination_service_name=~"{services}"'


def queries(namespace: str, app: str, versions: Sequence[str]) -> dict[str, str]:
    """The PromQL of one poll, by what it reads: every series of each metric, raw."""
    where = selector(namespace, app, versions)
    return {
        "requests": f"istio_requests_total{{{where}}}",
        "buckets": f"istio_request_duration_milliseconds_bucket{{{where}}}",
    }


def series_of_version_query(namespace: str, app: str, versions: Sequence[str], version: str) -> str:
    """How many request series Prometheus holds for `version` (the preflight asks for stable's)."""
    where = selector(namespace, app, versions)
    return f'count(istio_requests_total{{{where},destination_version="{version}"}})'


class CounterIncreases:
    """Each series' increase since the first read, resets included (see the module docstring)."""

    def __init__(self) -> None:
        self._last: dict[Series, float] = {}
        self._increase: dict[Series, float] = {}
        self._started = False

    def update(self, samples: Iterable[tuple[Mapping[str, str], float]]) -> dict[Series, float]:
        """Take a read of every series; the increase of each since the first read."""
        for labels, value in samples:
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))
            last = self._last.get(key)
            if last is None:
                # At the first read, the baseline; later, a series new since the start.
                increase = 0.0 if not self._started else value
            elif value < last:
                increase = value  # reset: the counter started again from zero
            else:
                increase = value - last
            self._increase[key] = self._increase.get(key, 0.0) + increase
            self._last[key] = value
        self._started = True
        return dict(self._increase)


@dataclass(frozen=True)
class VersionCounters:
    """One version's requests since the start, as the source reported them."""

    requests: int = 0
    errors: int = 0
    """Requests answered with a 5xx."""
    buckets: Mapping[float, int] = field(default_factory=dict)
    """Histogram bucket upper edge `le` in ms -> requests at most that long (`+Inf` left out)."""


@dataclass(frozen=True)
class MeshCounters:
    versions: Mapping[str, VersionCounters]
    unattributed_errors: int = 0
    """5xx whose `destination_version` is absent or `unknown`."""


class MeshReader:
    """Reads the versions' counters since its first `read()`, which is the baseline."""

    def __init__(self, base_url: PrometheusAccess | str, namespace: str, app: str, versions: Sequence[str]) -> None:
        self.base_url = as_access(base_url)
        self.versions = tuple(versions)
        self.queries = queries(namespace, app, versions)
        self._where = selector(namespace, app, versions)
        self._requests = CounterIncreases()
        self._buckets = CounterIncreases()

    def read(self) -> MeshCounters:
        # Both queries are asked before either is taken in, so a failure leaves the state as it was.
        requests = series_query(self.base_url, self.queries["requests"])
        buckets = series_query(self.base_url, self.queries["buckets"])
        return tally(self._requests.update(requests), self._buckets.update(buckets), self.versions)

    def history(self, version: str, seconds: float, step: float, now: float) -> list[tuple[int, int]]:
        """`version`'s (5xx, requests) per `step` seconds over the `seconds` before `now` (Unix
        time), oldest first: what the analysis calibrates stable's dispersion on. Steps without
        requests are left out; `increase()` is fine here (an estimate of spread, not a count judged)."""
        where = f'{self._where},destination_version="{version}"'
        window = f"[{step:g}s]"
        start = now - seconds + step
        errors = range_query(
            self.base_url,
            f'sum(increase(istio_requests_total{{{where},response_code=~"5.."}}{window}))',
            start,
            now,
            step,
        )
        totals = range_query(self.base_url, f"sum(increase(istio_requests_total{{{where}}}{window}))", start, now, step)
        if errors and len(errors) != len(totals):
            return []  # the two ranges do not line up: no calibration rather than a wrong one
        errors = errors or [0.0] * len(totals)
        return [(round(e), round(n)) for e, n in zip(errors, totals, strict=True) if round(n) > 0]


def tally(requests: Mapping[Series, float], buckets: Mapping[Series, float], versions: Sequence[str]) -> MeshCounters:
    """Per-series increases summed per version; 5xx of no version counted apart."""
    totals = {version: 0.0 for version in versions}
    errors = {version: 0.0 for version in versions}
    unattributed = 0.0
    for key, increase in requests.items():
        labels = dict(key)
        version = labels.get("destination_version", "")
        failed = labels.get("response_code", "").startswith("5")
        if version in totals:
            totals[version] += increase
            errors[version] += increase if failed else 0.0
        elif version in UNATTRIBUTED and failed:
            unattributed += increase
    edges: dict[str, dict[float, float]] = {version: {} for version in versions}
    for key, increase in buckets.items():
        labels = dict(key)
        version = labels.get("destination_version", "")
        le = float(labels.get("le", "nan"))
        if version in edges and math.isfinite(le):
            edges[version][le] = edges[version].get(le, 0.0) + increase
    return MeshCounters(
        versions={
            version: VersionCounters(
                requests=round(totals[version]),
                errors=round(errors[version]),
                buckets={le: round(n) for le, n in sorted(edges[version].items())},
            )
            for version in versions
        },
        unattributed_errors=round(unattributed),
    )
