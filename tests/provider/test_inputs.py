"""A component's properties, as any language sends them, become its Args; a bad one is named by its path."""

from __future__ import annotations

from typing import Any

import pytest

import canary
from canary.plan.security_profiles import HARDENED, ROOT
from canary.provider.inputs import PropertyError, args_from_properties
from tests.support.package_release import issue_release


def refused(properties: dict[str, Any]) -> PropertyError:
    with pytest.raises(PropertyError) as raised:
        args_from_properties(canary.CanaryReleaseArgs, properties)
    return raised.value


def test_the_yaml_programs_properties_build_the_args_a_python_program_would() -> None:
    assert args_from_properties(canary.CanaryReleaseArgs, issue_release()) == canary.CanaryReleaseArgs(
        namespace="shop",
        app="web",
        hosts=["shop.example.org"],
        versions=[canary.Workload("v1", "nginx:1.27"), canary.Workload("v2", "nginx:1.28")],
        stable="v1",
        canary=canary.Canary(version="v2", cookie="version=v2", weight=10),
    )


def test_camel_case_properties_reach_their_snake_case_fields() -> None:
    args = args_from_properties(
        canary.CanaryReleaseArgs,
        issue_release(
            gatewaySelector={"app": "edge"},
            createNamespace=False,
            versions=[{"version": "v1", "image": "nginx:1.27", "imagePullPolicy": "Always", "runAsUser": 2000.0}],
            canary=None,
        ),
    )
    assert args.gateway_selector == {"app": "edge"}
    assert args.create_namespace is False
    assert args.versions[0].image_pull_policy == "Always"
    assert args.versions[0].run_as_user == 2000


def test_a_security_profile_is_given_by_its_name() -> None:
    args = args_from_properties(
        canary.CanaryReleaseArgs,
        issue_release(versions=[{"version": "v1", "image": "nginx:1.27", "securityProfile": "root"}], canary=None),
    )
    assert args.versions[0].security_profile is ROOT
    default = args_from_properties(canary.CanaryReleaseArgs, issue_release(canary=None))
    assert default.versions[0].security_profile is HARDENED


def test_a_weight_out_of_range_is_refused_by_the_args_rule_under_the_property_path() -> None:
    error = refused(issue_release(canary={"version": "v2", "weight": 150.0}))
    assert error.path == "canary.weight"
    assert str(error) == "canary.weight must be from 0 to 100, got 150"


def test_a_fractional_number_for_an_integer_is_left_to_the_args_to_refuse() -> None:
    assert str(refused(issue_release(canary={"version": "v2", "weight": 10.5}))) == (
        "canary.weight must be an integer, got 10.5"
    )


def test_a_cross_field_rule_names_the_path_from_the_component() -> None:
    error = refused(issue_release(canary={"version": "v1"}))
    assert error.path == "canary.version"
    assert str(error).startswith("canary.version must differ from the stable version")


def test_a_nested_field_is_named_in_camel_case_with_its_list_index() -> None:
    versions = [
        {"version": "v1", "image": "nginx:1.27"},
        {"version": "v2", "image": "nginx:1.28", "resources": {"requests": {"cpu": "1", "memory": "64Mi"}}},
    ]
    error = refused(issue_release(versions=versions))
    assert str(error) == "versions[1].resources.requests.cpu must not be more than the limit 500m, got '1'"
    versions = [{"version": "v1", "image": "nginx:1.27", "imagePullPolicy": "Sometimes"}]
    assert refused(issue_release(versions=versions, canary=None)).path == "versions[0].imagePullPolicy"


def test_an_unknown_profile_name_is_refused_with_the_names_there_are() -> None:
    versions = [{"version": "v1", "image": "nginx:1.27", "securityProfile": "admin"}]
    error = refused(issue_release(versions=versions, canary=None))
    assert str(error) == "versions[0].securityProfile must be one of hardened, root, got 'admin'"


def test_an_unknown_property_is_refused_rather_than_ignored() -> None:
    error = refused(issue_release(canary={"version": "v2", "wieght": 10.0}))
    assert error.path == "canary.wieght"
    assert "is not a property of Canary" in str(error) and "weight" in str(error)


def test_an_object_property_given_a_scalar_is_refused() -> None:
    assert str(refused(issue_release(canary="v2"))) == "canary must be an object, got 'v2'"


def test_the_kubernetes_blocks_arrive_as_the_program_wrote_them() -> None:
    volumes = [{"name": "cache", "emptyDir": {}}]
    env = [{"name": "LEVEL", "value": "debug"}]
    args = args_from_properties(
        canary.CanaryReleaseArgs,
        issue_release(
            pod={"volumes": volumes},
            container={"volumeMounts": [{"name": "cache", "mountPath": "/cache"}]},
            versions=[
                {"version": "v1", "image": "nginx:1.27", "container": {"env": env}},
                {"version": "v2", "image": "nginx:1.28"},
            ],
        ),
    )
    assert args.pod == {"volumes": volumes}
    assert args.versions[0].container == {"env": env}


def test_a_bad_block_is_named_by_the_path_the_program_wrote() -> None:
    error = refused(
        issue_release(
            versions=[
                {"version": "v1", "image": "nginx:1.27", "container": {"env": [{"value": "x"}]}},
                {"version": "v2", "image": "nginx:1.28"},
            ]
        )
    )
    assert str(error).startswith('versions[0].container.env[0].name required, got {"value": "x"}')
    assert str(refused(issue_release(podMetadata={"labels": {"app": "x"}}))).startswith(
        "podMetadata.labels['app'] is the release's"
    )
