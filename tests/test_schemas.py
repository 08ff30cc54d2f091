"""Every object of every shipped stack and test case validates against the real schemas."""

from __future__ import annotations

import pytest

from tests.support.project import SHIPPED_STACKS, shipped_stack
from tests.support.schema_cases import CASES, variant
from tests.support.schema_check import SchemaError, validate


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_object_of_a_shipped_stack_validates(stack):
    manifests = shipped_stack(stack).manifests()
    assert manifests
    for manifest in manifests:
        validate(manifest)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_every_object_of_a_test_case_validates(run, case):
    manifests = run(CASES[case]).manifests()
    assert manifests
    for manifest in manifests:
        validate(manifest)


def test_istio_objects_use_the_configured_api_version(run):
    manifests = run(variant(istioApiVersion="networking.istio.io/v1beta1")).manifests()
    istio = [m for m in manifests if m["apiVersion"].startswith("networking.istio.io")]
    assert {m["kind"] for m in istio} == {"Gateway", "DestinationRule", "VirtualService"}
    assert {m["apiVersion"] for m in istio} == {"networking.istio.io/v1beta1"}


# The checker itself: each of these must be refused, or the tests above prove nothing.
def _virtual_service(run):
    return next(m for m in run(variant()).manifests() if m["kind"] == "VirtualService")


def test_checker_refuses_an_unknown_field_in_an_istio_spec(run):
    manifest = _virtual_service(run)
    manifest["spec"]["http"][0]["route"][0]["destination"]["subsett"] = "v2"
    with pytest.raises(SchemaError, match="subsett"):
        validate(manifest)


def test_checker_evaluates_the_crd_validation_rules(run):
    manifest = _virtual_service(run)
    manifest["spec"]["http"][0]["timeout"] = "0s"
    with pytest.raises(SchemaError, match="duration"):
        validate(manifest)


def test_checker_refuses_an_unknown_field_in_a_kubernetes_object(run):
    deployment = next(m for m in run(variant()).manifests() if m["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(SchemaError, match="imagePullPolicyy"):
        validate(deployment)


def _http_route(run):
    config = variant(routing={"api": "gateway-api"}, canary={"version": "v2", "weight": 10, "mirror": 5})
    return next(m for m in run(config).manifests() if m["kind"] == "HTTPRoute")


def test_checker_refuses_an_unknown_field_in_a_gateway_api_spec(run):
    manifest = _http_route(run)
    manifest["spec"]["rules"][0]["backendRefs"][0]["wieght"] = 5
    with pytest.raises(SchemaError, match="wieght"):
        validate(manifest)


def test_checker_evaluates_the_gateway_api_validation_rules(run):
    manifest = _http_route(run)
    mirror = manifest["spec"]["rules"][0]["filters"][0]["requestMirror"]
    mirror["fraction"] = {"numerator": 1}
    with pytest.raises(SchemaError, match="Only one of percent or fraction"):
        validate(manifest)


def test_checker_applies_the_schema_defaults_before_the_validation_rules(run):
    # `group` and `kind` default to the core Service, and a Service reference needs a port: the
    # rule reads the defaulted fields, so without the defaults it could not hold or fail.
    manifest = _http_route(run)
    del manifest["spec"]["rules"][0]["backendRefs"][0]["port"]
    with pytest.raises(SchemaError, match="Must have port for Service reference"):
        validate(manifest)


def test_checker_refuses_bad_metadata_on_a_custom_resource(run):
    manifest = _virtual_service(run)
    manifest["metadata"]["labelz"] = {"app": "web"}
    with pytest.raises(SchemaError, match="labelz"):
        validate(manifest)
