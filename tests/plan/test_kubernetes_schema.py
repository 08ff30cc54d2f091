"""The Kubernetes schema the program ships is the one kubernetes-validate carries, cut down, and nothing else."""

from __future__ import annotations

from canary.plan import kubernetes_schema
from tests.support.kubernetes_schema_source import ISTIO_SHIPPED, KUBERNETES_VERSION, SHIPPED, rendered, rendered_istio
from tests.support.schema_check import KUBERNETES_VERSION as CHECKED_VERSION


def test_the_shipped_schema_is_what_kubernetes_validate_gives():
    # If this fails: python -m tests.support.kubernetes_schema_source --write
    assert SHIPPED.read_text() == rendered()


def test_the_program_checks_blocks_against_the_version_the_tests_validate_objects_with():
    assert kubernetes_schema.kubernetes_version() == KUBERNETES_VERSION == CHECKED_VERSION


def test_a_value_not_known_yet_is_left_to_the_api_server():
    class Later:
        def apply(self, func):  # the shape of a Pulumi output
            return self

    assert kubernetes_schema.schema_problems({"env": [{"name": "A", "value": Later()}]}, "Container") == []
    assert kubernetes_schema.schema_problems({"env": [{"name": "A", "value": 1}]}, "Container") == [
        ("env[0].value", 1, "must be a string")
    ]


def test_the_shipped_istio_schema_is_what_the_crds_give():
    # If this fails: python -m tests.support.kubernetes_schema_source --write
    assert ISTIO_SHIPPED.read_text() == rendered_istio()
