"""The real API server accepts every object of every shipped stack and unit-test case.

A server-side dry run goes through the whole admission chain, Istio's CRD schemas and CEL rules
included, without storing anything. Namespaced objects need their namespace to exist, so the
namespaces are created for real first and removed afterwards.
"""

from __future__ import annotations

import json

import pytest

from canary.config.files import as_config_strings
from tests.support.project import SHIPPED_STACKS, shipped_stack
from tests.support.schema_cases import CASES
from tests.support.simulate import simulate
from tests.support.stack import kubectl

CONFIGS = {f"stack {name}": name for name in SHIPPED_STACKS} | {f"case {name}": name for name in CASES}


def manifests_of(label: str) -> list[dict]:
    if label.startswith("stack "):
        return shipped_stack(CONFIGS[label]).manifests()
    return simulate(as_config_strings(CASES[CONFIGS[label]])).manifests()


@pytest.fixture(scope="module")
def namespaces():
    """Namespaces created for the dry runs: kept across cases (a deleted one lingers while it
    terminates and refuses new content), removed once at the end."""
    created: list[str] = []
    yield created
    for name in created:
        kubectl("delete", "namespace", name, "--wait=false")


@pytest.mark.parametrize("label", sorted(CONFIGS))
def test_the_api_server_accepts_every_object(label, namespaces):
    manifests = manifests_of(label)
    for namespace in (m for m in manifests if m["kind"] == "Namespace"):
        name = namespace["metadata"]["name"]
        if kubectl("get", "namespace", name).returncode != 0:
            kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(namespace)).check()
            namespaces.append(name)
    others = [m for m in manifests if m["kind"] != "Namespace"]
    listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": others})
    result = kubectl("apply", "--server-side", "--dry-run=server", "--field-manager=e2e", "-f", "-", stdin=listing)
    assert result.returncode == 0, result.output
    assert result.output.count("(server dry run)") == len(others), result.output
