"""The routing table: one row per routing API, the plan that writes the routing and the router that reads it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, get_args

import pytest

from canary.config import parse_settings
from canary.config.files import read_stack
from canary.config.to_args import RELEASE_NAME, release_args
from canary.plan.backend import Collector
from canary.plan.release import RoutingApi, plan_canary_release
from canary.plan.routing_apis import ROUTING_APIS

ROOT = Path(__file__).resolve().parents[2]


def planned(routing_api: str) -> tuple[Collector, Any]:
    args = dataclasses.replace(release_args(parse_settings(read_stack(ROOT, "dev").values)), routing_api=routing_api)
    collector = Collector()
    return collector, plan_canary_release(collector, RELEASE_NAME, args)


def test_every_routing_api_the_release_accepts_has_a_row() -> None:
    assert sorted(ROUTING_APIS) == sorted(get_args(RoutingApi))


@pytest.mark.parametrize("routing_api", sorted(ROUTING_APIS))
def test_a_row_writes_its_routing_with_its_plan(routing_api: str) -> None:
    collector, release = planned(routing_api)
    routing_kinds = {m["kind"] for m in collector.manifests} & {"VirtualService", "HTTPRoute"}
    assert routing_kinds == {"istio": {"VirtualService"}, "gateway-api": {"HTTPRoute"}}[routing_api]
    assert release.routes


@pytest.mark.parametrize("routing_api", sorted(ROUTING_APIS))
def test_a_row_reads_its_routing_back_with_its_router(routing_api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The routes output is what the row's router says of the generated object: swap a row's
    # router for the other API's and this fails.
    router = ROUTING_APIS[routing_api].router
    built = []
    original = router.__init__  # type: ignore[misc]

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(type(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(router, "__init__", spy)
    planned(routing_api)
    assert built == [router]
