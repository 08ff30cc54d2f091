"""The component provider builds the component a Python program would, and refuses bad properties without a trace."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.errors import InputPropertiesError

from canary.provider.server import CanaryProvider
from tests.support.package_release import issue_release


def test_a_bad_property_is_refused_with_its_path_and_the_args_reason() -> None:
    with pytest.raises(InputPropertiesError) as raised:
        CanaryProvider().construct(
            "release", "canary:index:CanaryRelease", issue_release(canary={"version": "v2", "weight": 150.0})
        )
    assert raised.value.message == "canary.weight must be from 0 to 100, got 150"
    assert raised.value.errors == [{"property_path": "canary.weight", "reason": "must be from 0 to 100, got 150"}]
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_an_unknown_type_token_is_refused() -> None:
    with pytest.raises(InputPropertiesError, match="no component canary:index:RoutingRules"):
        CanaryProvider().construct("r", "canary:index:RoutingRules", {})


def test_construct_builds_the_release_and_returns_its_outputs(recorded: Any) -> None:
    results: dict[str, Any] = {}

    def program() -> Any:
        result = CanaryProvider().construct("release", "canary:index:CanaryRelease", issue_release())
        assert sorted(result.state) == ["namespace", "routes", "urls"]
        return pulumi.Output.all(**result.state).apply(results.update)

    pulumi.runtime.test(program)()
    assert results["namespace"] == "shop"
    assert results["urls"] == ["http://shop.example.org/"]
    assert results["routes"][-1]["split"] == {"v1": 90, "v2": 10}
    deployments = [r for r in recorded.registrations if r.type == "kubernetes:apps/v1:Deployment"]
    assert sorted(r.name for r in deployments) == ["release-v1-deployment", "release-v2-deployment"]
