"""Strict mutual TLS and the NetworkPolicy: optional, namespace-wide, before the workloads."""

from __future__ import annotations

import pytest

from tests.support.project import BASELINE


def config(**security):
    return {**BASELINE, "security": security}


def test_nothing_is_added_when_both_are_off(run):
    simulation = run(BASELINE)
    assert simulation.find("PeerAuthentication") == [] and simulation.find("NetworkPolicy") == []


@pytest.mark.parametrize(
    ("istio", "security_api"),
    [
        ("networking.istio.io/v1", "security.istio.io/v1"),
        ("networking.istio.io/v1beta1", "security.istio.io/v1beta1"),
        ("networking.istio.io/v1alpha3", "security.istio.io/v1beta1"),
    ],
)
def test_mtls_adds_a_strict_namespace_peer_authentication(run, istio, security_api):
    (policy,) = run({**config(mtls=True), "istioApiVersion": istio}).find("PeerAuthentication")
    assert policy["apiVersion"] == security_api
    assert policy["metadata"] == {"name": "default", "namespace": "shop"}
    assert policy["spec"] == {"mtls": {"mode": "STRICT"}}


def test_network_policy_admits_the_ingress_gateway_and_the_namespace_only(run):
    baseline = {**config(networkPolicy=True), "gateway": {"selector": {"app": "edge"}, "namespace": "edge-system"}}
    (policy,) = run(baseline).find("NetworkPolicy")
    assert policy["spec"]["podSelector"] == {}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge-system"}},
            "podSelector": {"matchLabels": {"app": "edge"}},
        },
        {"podSelector": {}},
    ]
    assert "ports" not in rule


def test_workloads_wait_for_the_namespace_security(run):
    simulation = run(config(mtls=True, networkPolicy=True))
    names = {r.name: r for r in simulation.registrations}
    # Depending on a component means depending on its children.
    policies = {names["canary-security-peerauthentication"].urn, names["canary-security-networkpolicy"].urn}
    for version in ("canary-v1", "canary-v2"):
        assert policies <= set(names[version].dependencies)
