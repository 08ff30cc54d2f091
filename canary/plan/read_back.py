"""What a routing plan reads back off the object it generated, whichever API spells it.

Both routing plans (`canary.plan.istio_routing`, `canary.plan.gateway_api`) end here: the versions
some request reaches decide what the object waits for and whether the canary is unreachable,
and the `routes` output is the object's own answer for each kind of request the rules tell
apart, so neither can drift from what the data plane does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canary.plan.backend import Backend, Dependency
from canary.plan.canary_rules import Canary, request_kinds, rules, unreachable_canary
from canary.router import Router
from canary.router.contract import routes_through


@dataclass(frozen=True)
class RoutingReadBack:
    waits_for: list[Dependency]
    """The route targets of the versions some request reaches: the object waits for them."""
    routes: list[dict[str, Any]]
    """What each kind of request sees: `[{"when": ..., "split": {version: percent}}]` (`canary.router.contract`)."""


def read_back(
    backend: Backend, router: Router, stable: str, canary: Canary | None, route_targets: Mapping[str, Dependency]
) -> RoutingReadBack:
    """Read the generated routing object; warn when the canary gets no request at all."""
    reachable = router.reachable()
    if (warning := unreachable_canary(canary, reachable)) is not None:
        backend.warn(warning)
    # Make before break. No data links the routes to the pods, yet a route to pods that are not
    # ready sends users to a version that is not up. pulumi-kubernetes marks a Deployment created
    # only once its rollout is ready, so waiting on it is waiting on the pods. A version no request
    # can reach is not waited for: a broken dark version must not block an unrelated update.
    waits_for = [route_targets[version] for version in reachable if version in route_targets]
    return RoutingReadBack(waits_for=waits_for, routes=routes_through(router, request_kinds(rules(stable, canary))))
