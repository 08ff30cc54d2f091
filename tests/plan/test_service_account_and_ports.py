"""`serviceAccount`, `service.ports` and `service.protocol`: whom the pods run as, what the Service exposes."""

from __future__ import annotations

import pytest

from canary.config import ConfigError, parse_settings
from canary.config.files import as_config_strings
from tests.support.project import BASELINE


def config(**more):
    return {**BASELINE, "canary": {}, **more}


def refusal(values) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_settings(as_config_strings(values))
    return str(raised.value)


def pod_specs(simulation):
    return [m["spec"]["template"]["spec"] for m in simulation.find("Deployment")]


def test_a_created_service_account_is_declared_and_every_version_runs_as_it(run):
    annotations = {"iam.gke.io/gcp-service-account": "web@project.iam.gserviceaccount.com"}
    simulation = run(config(serviceAccount={"name": "web", "annotations": annotations}))
    (account,) = simulation.find("ServiceAccount")
    assert account["metadata"] == {"name": "web", "namespace": "shop", "annotations": annotations}
    assert [pod["serviceAccountName"] for pod in pod_specs(simulation)] == ["web", "web"]
    # Still no token in the pods: the security profile's.
    assert all(pod["automountServiceAccountToken"] is False for pod in pod_specs(simulation))


def test_an_existing_service_account_is_used_and_never_declared(run):
    simulation = run(config(serviceAccount={"name": "shared", "existing": True}))
    # Not registered, so not the release's: `destroy` cannot delete it.
    assert simulation.find("ServiceAccount") == []
    assert [pod["serviceAccountName"] for pod in pod_specs(simulation)] == ["shared", "shared"]


def test_no_service_account_key_leaves_the_namespace_default(run):
    simulation = run(config())
    assert simulation.find("ServiceAccount") == []
    assert all("serviceAccountName" not in pod for pod in pod_specs(simulation))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            config(serviceAccount={"name": "web"}, pod={"serviceAccountName": "other"}),
            "pod.serviceAccountName: is set by serviceAccount too",
        ),
        (
            config(serviceAccount={"name": "web", "existing": True, "annotations": {"a": "b"}}),
            "serviceAccount.annotations: apply only to a ServiceAccount the release creates",
        ),
        (config(serviceAccount={"name": "Web_1"}), "serviceAccount.name: "),
        (config(service={"ports": [{"port": 9797}]}), "service.ports[0].name: required"),
        (config(service={"ports": [{"name": "metrics"}]}), "service.ports[0].port: required"),
        (config(service={"ports": [{"name": "metrics", "port": 80}]}), "service.ports[0].port: is the routed port"),
        (config(service={"ports": [{"name": "http", "port": 81}]}), "service.ports[0].name: is the routed port's name"),
        (
            config(service={"ports": [{"name": "a", "port": 81}, {"name": "a", "port": 82}]}),
            "service.ports[1].name: repeats the name of [0]",
        ),
        (config(service={"ports": [{"name": "a", "port": 81, "prot": "TCP"}]}), "service.ports[0].prot: unknown field"),
        (config(service={"protocol": "tcp"}), "service.protocol: must be one of"),
        (config(service={"ports": [{"name": "a", "port": 70000}]}), "service.ports[0].port: must be from 1 to 65535"),
        (
            config(service={"ports": [{"name": "a", "port": 81, "targetPort": 0}]}),
            "service.ports[0].targetPort: must be from 1 to 65535",
        ),
        (
            config(service={"protocol": "grpc"}, routing={"api": "gateway-api"}),
            "service.protocol: needs the istio routing API",
        ),
    ],
)
def test_refused_by_path(values, expected):
    assert expected in refusal(values)


def test_extra_ports_follow_the_routed_one_which_is_named_for_its_protocol(run):
    values = config(
        port=9898,
        service={"protocol": "grpc", "ports": [{"name": "http-metrics", "port": 9797, "targetPort": 9797}]},
    )
    (service,) = run(values).find("Service")
    assert service["spec"]["ports"] == [
        {"name": "grpc", "port": 9898, "targetPort": 9898},
        {"name": "http-metrics", "port": 9797, "targetPort": 9797},
    ]


def destinations(simulation):
    (service,) = simulation.find("VirtualService")
    return [d["destination"] for route in service["spec"]["http"] for d in route["route"]]


def test_with_ports_beside_the_routed_one_every_destination_names_the_routed_port(run):
    # Istio routes a destination without a port to the gateway's own port (80) once the Service
    # has more than one: a cluster that does not exist.
    canary = {"version": "v2", "cookie": "version=v2", "weight": 10}
    values = config(port=9898, canary=canary, service={"ports": [{"name": "http-metrics", "port": 9797}]})
    found = destinations(run(values))
    assert len(found) == 3
    assert all(destination["port"] == {"number": 9898} for destination in found)
    assert all("port" not in destination for destination in destinations(run(config(port=9898, canary=canary))))
