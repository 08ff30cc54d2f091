"""The loopback data plane's Set-Cookie lines and mirrored requests, on the program's own specs.

Expected cookies, splits and counts are written out from the config's meaning (a sticky canary at
25 %, a 50 % mirror), not computed with the code under test.
"""

from __future__ import annotations

import http.client
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

import pytest

from canary.plan.canary_rules import Canary, Sticky
from tests.support.dataplane import DataPlane
from tests.support.dataplane_checks import SpecHolder, parse_exposition, series
from tests.support.routing_cases import spec as planned_spec

pytestmark = pytest.mark.istio

STICKY = Sticky(cookie="canary-pin", max_age=600)


@pytest.fixture
def plane() -> Iterator[DataPlane]:
    holder = SpecHolder(planned_spec(Canary(version="v2", cookie="version=v2", weight=25, sticky=STICKY)))
    with DataPlane("shop", "web", source=holder, refresh_seconds=0.1) as running:
        running.behave("v1", latency_ms=0)
        running.behave("v2", latency_ms=0)
        yield running


def get(connection: http.client.HTTPConnection, cookie: str | None = None) -> tuple[int, list[tuple[str, str]]]:
    """Status and every header line of one answer, repeated names kept apart."""
    connection.request("GET", "/", headers={"cookie": cookie} if cookie else {})
    response = connection.getresponse()
    response.read()
    return response.status, [(name.lower(), value) for name, value in response.getheaders()]


@pytest.fixture
def connection(plane: DataPlane) -> Iterator[http.client.HTTPConnection]:
    parts = urlsplit(plane.url)
    assert parts.hostname and parts.port
    opened = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    yield opened
    opened.close()


def test_each_answer_of_the_weighted_route_sets_the_cookie_of_its_version(
    plane: DataPlane, connection: http.client.HTTPConnection
) -> None:
    seen: Counter[tuple[str, str]] = Counter()
    for _ in range(100):
        status, lines = get(connection)
        assert status == 200
        (version,) = [value for name, value in lines if name == "x-canary-version"]
        (cookie,) = [value for name, value in lines if name == "set-cookie"]
        seen[(version, cookie)] += 1
    assert seen == {
        ("v1", "canary-pin=v1; Max-Age=600; Path=/; HttpOnly; SameSite=Lax"): 75,
        ("v2", "canary-pin=v2; Max-Age=600; Path=/; HttpOnly; SameSite=Lax"): 25,
    }


def test_a_pinned_client_stays_and_gets_no_new_cookie(plane: DataPlane, connection: http.client.HTTPConnection) -> None:
    for pinned in ("v1", "v2"):
        for _ in range(20):
            status, lines = get(connection, f"_ga=1; canary-pin={pinned}; theme=dark")
            assert status == 200
            assert [value for name, value in lines if name == "x-canary-version"] == [pinned]
            assert [value for name, value in lines if name == "set-cookie"] == []


def scraped(plane: DataPlane) -> list[tuple[str, dict[str, str], float]]:
    parts = urlsplit(plane.metrics_url)
    assert parts.hostname and parts.port
    scraper = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    scraper.request("GET", parts.path)
    text = scraper.getresponse().read().decode()
    scraper.close()
    return parse_exposition(text)[1]


def requests_total(plane: DataPlane) -> dict[str, float]:
    """istio_requests_total per destination version, as the destinations reported them."""
    samples = scraped(plane)
    return {
        version: sum(series(samples, "istio_requests_total", reporter="destination", destination_version=version))
        for version in ("v1", "v2")
    }


def wait_for(condition: Mapping[str, float], plane: DataPlane, timeout: float = 5.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        totals = requests_total(plane)
        if all(totals[version] >= n for version, n in condition.items()) or time.monotonic() > deadline:
            return totals
        time.sleep(0.05)


def test_mirrored_requests_reach_the_canarys_metrics_but_not_the_client(
    plane: DataPlane, connection: http.client.HTTPConnection
) -> None:
    assert isinstance(plane.source, SpecHolder)
    plane.source.spec = planned_spec(Canary(version="v2", weight=0, mirror=50))
    plane.refresh()
    answered: Counter[str] = Counter()
    for _ in range(400):
        _, lines = get(connection)
        answered.update(value for name, value in lines if name == "x-canary-version")
    # Every answer comes from stable: the mirror's answers are discarded.
    assert answered == {"v1": 400}
    # Half the requests, drawn at random: 200 expected, and 150 is over 7 standard deviations off.
    assert 150 <= plane.mirrored <= 250
    totals = wait_for({"v1": 400, "v2": plane.mirrored}, plane)
    assert totals == {"v1": 400, "v2": plane.mirrored}


def test_a_mirrored_canary_reports_its_own_errors(plane: DataPlane, connection: http.client.HTTPConnection) -> None:
    assert isinstance(plane.source, SpecHolder)
    plane.source.spec = planned_spec(Canary(version="v2", weight=0, mirror=100))
    plane.refresh()
    plane.behave("v2", error_rate=1.0)
    statuses = Counter(get(connection)[0] for _ in range(50))
    assert statuses == {200: 50}
    wait_for({"v2": 50}, plane)
    samples = scraped(plane)
    assert series(samples, "istio_requests_total", destination_version="v2", response_code="500") == [50.0]
    assert series(samples, "istio_requests_total", destination_version="v2", response_code="200") == []
