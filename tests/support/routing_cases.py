"""The routing cases tests share: a RoutingRules' args and VirtualService spec, the routes a user
reads each config to mean, and a request shaped like a route.

The expected routes in CASES are written out by hand from the config's meaning; nothing here
computes them with the code under test.
"""

from __future__ import annotations

from typing import Any

from canary.plan.canary_rules import Canary
from canary.plan.istio_routing import RoutingRulesArgs, virtual_service


def args(canary: Canary | None = None, **more: Any) -> RoutingRulesArgs:
    fields: dict[str, Any] = {
        "namespace": "shop",
        "app": "web",
        "hosts": ["web.example.com"],
        "service_host": "web-service",
        "gateway": "web-gateway",
        "subsets": {"v1": {"version": "v1"}, "v2": {"version": "v2"}},
        "stable": "v1",
        "canary": canary,
    }
    return RoutingRulesArgs(**{**fields, **more})


def spec(canary: Canary | None = None, **more: Any) -> dict[str, Any]:
    return virtual_service(args(canary, **more))["spec"]  # type: ignore[no-any-return]


def request_shaped_like(when: dict[str, Any]) -> dict[str, str]:
    """A realistic request for a route: the cookie among others, as a browser sends it."""
    headers = {"user-agent": "Mozilla/5.0", **when.get("headers", {})}
    if "cookie" in when:
        headers["cookie"] = f"_ga=GA1.2.1700000000; {when['cookie']}; theme=dark"
    return headers


# (canary, the routes a user reads the config to mean)
CASES: list[tuple[Canary | None, list[dict[str, Any]]]] = [
    (None, [{"when": {}, "split": {"v1": 100}}]),
    (Canary(version="v2"), [{"when": {}, "split": {"v1": 100}}]),
    (
        Canary(version="v2", cookie="version=v2"),
        [{"when": {"cookie": "version=v2"}, "split": {"v2": 100}}, {"when": {}, "split": {"v1": 100}}],
    ),
    (
        Canary(version="v2", cookie="version=v2", weight=10),
        [{"when": {"cookie": "version=v2"}, "split": {"v2": 100}}, {"when": {}, "split": {"v1": 90, "v2": 10}}],
    ),
    (
        Canary(version="v2", headers={"x-canary": "always", "x-team": "qa"}, weight=50),
        [
            {"when": {"headers": {"x-canary": "always", "x-team": "qa"}}, "split": {"v2": 100}},
            {"when": {}, "split": {"v1": 50, "v2": 50}},
        ],
    ),
    (
        Canary(version="v2", cookie="tester=yes", headers={"x-canary": "always"}, weight=100),
        [
            {"when": {"cookie": "tester=yes"}, "split": {"v2": 100}},
            {"when": {"headers": {"x-canary": "always"}}, "split": {"v2": 100}},
            {"when": {}, "split": {"v2": 100}},
        ],
    ),
]
