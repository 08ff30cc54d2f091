"""`trafficPolicy` and `httpRoute`: Istio's own fields beside the routing, in both routing APIs, or refused by name."""

from __future__ import annotations

import pytest

from canary.config import ConfigError, parse_settings
from canary.config.files import as_config_strings
from canary.plan.istio_blocks import go_duration_nanoseconds
from canary.plan.rules import checks
from tests.support.project import BASELINE
from tests.support.schema_check import validate

POLICY = {
    "connectionPool": {"http": {"http1MaxPendingRequests": 100, "maxRequestsPerConnection": 10}},
    "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"},
    "loadBalancer": {"simple": "LEAST_REQUEST"},
}
ROUTE = {"timeout": "3s", "retries": {"attempts": 2, "perTryTimeout": "1s", "retryOn": "5xx,reset"}}


def config(**more):
    return {**BASELINE, **more}


def refusal(values) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_settings(as_config_strings(values))
    return str(raised.value)


def test_the_traffic_policy_lands_in_the_destination_rule_and_the_route_fields_on_every_route(run):
    values = config(
        canary={"version": "v2", "cookie": "version=v2", "weight": 10}, trafficPolicy=POLICY, httpRoute=ROUTE
    )
    simulation = run(values)
    (rule,) = simulation.find("DestinationRule")
    assert rule["spec"]["trafficPolicy"] == POLICY
    (service,) = simulation.find("VirtualService")
    routes = service["spec"]["http"]
    assert len(routes) == 2
    for route in routes:
        assert route["timeout"] == "3s" and route["retries"] == ROUTE["retries"]
    validate(rule)
    validate(service)


def test_the_routes_are_the_same_with_or_without_them(run):
    canary = {"version": "v2", "cookie": "version=v2", "weight": 10}
    plain = run(config(canary=canary)).outputs["routes"]
    assert run(config(canary=canary, trafficPolicy=POLICY, httpRoute=ROUTE)).outputs["routes"] == plain


def test_under_the_gateway_api_the_timeout_and_the_policy_land_where_that_api_and_istio_take_them(run):
    values = config(routing={"api": "gateway-api"}, trafficPolicy=POLICY, httpRoute={"timeout": "3s"})
    simulation = run(values)
    (route,) = simulation.find("HTTPRoute")
    assert all(rule["timeouts"] == {"request": "3s"} for rule in route["spec"]["rules"])
    rules = {m["spec"]["host"]: m["spec"] for m in simulation.find("DestinationRule")}
    assert rules == {
        "web-v1": {"host": "web-v1", "trafficPolicy": POLICY},
        "web-v2": {"host": "web-v2", "trafficPolicy": POLICY},
    }
    validate(route)
    for manifest in simulation.find("DestinationRule"):
        validate(manifest)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (config(trafficPolicy={"connPool": {}}), "trafficPolicy.connPool: unknown field"),
        (
            config(trafficPolicy={"connectionPool": {"tcp": {"maxConnections": "many"}}}),
            "trafficPolicy.connectionPool.tcp.maxConnections: must be of type integer",
        ),
        (
            config(trafficPolicy={"outlierDetection": {"interval": "0.5ms"}}),
            "trafficPolicy.outlierDetection.interval: must be a duration of at least 1ms",
        ),
        (config(trafficPolicy={"tls": {"mode": "DISABLE"}}), "trafficPolicy.tls: would override the mesh's"),
        (
            config(
                canary={"version": "v2", "weight": 10, "sticky": {"cookie": "pin"}},
                trafficPolicy={"loadBalancer": {"consistentHash": {"httpCookie": {"name": "pin", "ttl": "0s"}}}},
            ),
            "trafficPolicy.loadBalancer.consistentHash.httpCookie.name: is a cookie the release routes by",
        ),
        (
            config(trafficPolicy={"loadBalancer": {"simple": "RANDOM", "consistentHash": {"useSourceIp": True}}}),
            "trafficPolicy.loadBalancer: must set exactly one of",
        ),
        (config(httpRoute={"match": [{"uri": {"prefix": "/"}}]}), "httpRoute.match: unknown field: httpRoute takes"),
        (config(httpRoute={"timeout": "soon"}), "httpRoute.timeout: must be a duration of at least 1ms"),
        (
            config(httpRoute={"retries": {"attempts": 2}}, routing={"api": "gateway-api"}),
            "httpRoute.retries: has no place in the Gateway API's standard channel",
        ),
        (
            config(httpRoute={"timeout": "1.5s"}, routing={"api": "gateway-api"}),
            "httpRoute.timeout: must be a Gateway API duration",
        ),
    ],
)
def test_refused_by_path(values, expected):
    assert expected in refusal(values)


def test_the_args_refuse_with_the_same_reason():
    from canary.plan.release import CanaryReleaseArgs
    from canary.plan.workload import Workload

    with pytest.raises(checks.ArgsError, match=r"CanaryReleaseArgs\.traffic_policy\.tls would override"):
        CanaryReleaseArgs(
            namespace="shop",
            app="web",
            hosts=["web.example.com"],
            versions=[Workload(version="v1", image="registry.example.com/web:1.0")],
            traffic_policy={"tls": {"mode": "DISABLE"}},
        )


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [("1ms", 1e6), ("1.5s", 1.5e9), ("1m30s", 90e9), ("2h", 7200e9), ("500us", 5e5), ("0", 0.0)],
)
def test_go_durations_read_as_go_reads_them(text, nanoseconds):
    assert go_duration_nanoseconds(text) == nanoseconds


@pytest.mark.parametrize("text", ["", "1", "s", "1.5", "1x", "1s2", "--1s", ".s"])
def test_what_is_no_go_duration(text):
    assert go_duration_nanoseconds(text) is None
