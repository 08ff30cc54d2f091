"""The package schema (plugin/schema.json) is the one the Args give, and says what they say."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pulumi
import pytest

from canary.provider import schema as package_schema
from canary.provider.schema import COMMAND, SCHEMA_PATH, main, properties, schema
from tests.support.project import PROJECT_DIR

if TYPE_CHECKING:
    from collections.abc import Iterator


def test_committed_schema_is_the_one_the_args_give() -> None:
    assert SCHEMA_PATH == PROJECT_DIR / "plugin" / "schema.json"
    assert SCHEMA_PATH.read_text() == package_schema.schema_text(), f"plugin/schema.json is stale: run {COMMAND}"


def test_check_names_the_stale_file_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "schema.json"
    assert main(["--write", "--path", str(path)]) == 0
    assert main(["--check", "--path", str(path)]) == 0
    stale = json.loads(path.read_text())
    stale["types"]["canary:index:Canary"]["properties"]["weight"]["default"] = 5
    path.write_text(json.dumps(stale, indent=2) + "\n")
    assert main(["--check", "--path", str(path)]) == 1
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and COMMAND in message


@pytest.fixture(scope="module")
def package() -> Iterator[dict[str, Any]]:
    yield schema()


def test_the_package_serves_the_release_and_the_parts_whose_args_are_plain_data(package: dict[str, Any]) -> None:
    assert sorted(package["resources"]) == [
        "canary:index:AppService",
        "canary:index:AppVersion",
        "canary:index:CanaryRelease",
        "canary:index:IstioGateway",
        "canary:index:NamespaceSecurity",
    ]
    assert all(resource["isComponent"] for resource in package["resources"].values())


def test_each_served_token_is_the_one_its_component_registers(recorded: Any) -> None:
    import canary

    def program() -> Any:
        release = canary.CanaryRelease(
            "shop",
            canary.CanaryReleaseArgs(
                namespace="shop",
                app="web",
                hosts=["shop.example.org"],
                versions=[canary.Workload("v1", "nginx:1.27")],
                mtls=True,
            ),
        )
        return pulumi.Output.all(release.namespace, release.urls, release.routes)

    # The runtime waits for every registration before it returns.
    pulumi.runtime.test(program)()
    registered = {r.type for r in recorded.registrations}
    assert set(schema()["resources"]) <= registered


def test_release_properties_are_the_args_fields_in_camel_case(package: dict[str, Any]) -> None:
    release = package["resources"]["canary:index:CanaryRelease"]
    assert release["requiredInputs"] == ["namespace", "app", "hosts", "versions"]
    inputs = release["inputProperties"]
    for name in ("gatewaySelector", "gatewayNamespace", "istioApiVersion", "createNamespace", "routingApi"):
        assert name in inputs
    assert inputs["versions"] == {
        "type": "array",
        "items": {"$ref": "#/types/canary:index:Workload"},
        "description": "One Deployment per version.",
    }
    assert inputs["canary"]["$ref"] == "#/types/canary:index:Canary"
    assert inputs["gatewaySelector"]["additionalProperties"] == {"type": "string"}
    assert inputs["createNamespace"]["default"] is True
    assert sorted(release["properties"]) == ["namespace", "routes", "urls"]
    assert release["description"] == "Everything one canary release needs, composed from the smaller components."


def test_nested_types_carry_the_args_defaults_and_docstrings(package: dict[str, Any]) -> None:
    types = package["types"]
    for name in ("Workload", "Canary", "Sticky", "GatewayTls", "Probe", "Resources", "Compute", "Autoscaling"):
        assert f"canary:index:{name}" in types
    weight = types["canary:index:Canary"]["properties"]["weight"]
    assert weight == {
        "type": "integer",
        "default": 0,
        "description": "Percent (0-100) of the requests that `cookie` and `headers` do not select "
        "that go to `version`.",
    }
    assert types["canary:index:Canary"]["required"] == ["version"]
    assert types["canary:index:Canary"]["description"] == "Which requests the canary version receives."
    workload = types["canary:index:Workload"]["properties"]
    assert workload["securityProfile"]["type"] == "string"
    assert workload["securityProfile"]["default"] == "hardened"
    assert "`root`" in workload["securityProfile"]["description"]
    assert workload["imagePullPolicy"]["default"] == "IfNotPresent"
    assert '"cpu": "100m"' in workload["resources"]["description"]


@dataclass(frozen=True)
class Inner:
    """An inner object."""

    size: int = 3


@dataclass(frozen=True)
class Sample:
    name: pulumi.Input[str]
    """Its name. Required."""
    labels: Mapping[str, str] = field(default_factory=dict)
    mode: Literal["a", "b"] = "a"
    """Which one,
    on two lines. Default: `"a"`."""
    inner: Inner | None = None
    items: Sequence[Inner] = ()
    ratio: float = 0.5


def test_a_dataclass_becomes_properties_with_nested_types_collected() -> None:
    nested: dict[str, type] = {}
    found, required = properties(Sample, nested)
    assert required == ["name"]
    assert found == {
        "name": {"type": "string", "description": "Its name."},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Default: `{}`."},
        # The docstring's own default sentence, in Python's spelling, gives way to the schema's.
        "mode": {"type": "string", "default": "a", "description": "Which one, on two lines. One of `a`, `b`."},
        "inner": {"$ref": "#/types/canary:index:Inner"},
        "items": {"type": "array", "items": {"$ref": "#/types/canary:index:Inner"}, "description": "Default: `[]`."},
        "ratio": {"type": "number", "default": 0.5},
    }
    assert nested == {"Inner": Inner}


@dataclass(frozen=True)
class Unexpressible:
    either: int | str


def test_a_field_no_schema_type_can_carry_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match=re.escape("int | str")):
        properties(Unexpressible, {})


def test_every_input_property_has_a_description(package: dict[str, Any]) -> None:
    undescribed = [
        f"{token}.{name}"
        for token, spec in [*package["resources"].items(), *package["types"].items()]
        for name, prop in spec.get("inputProperties", spec.get("properties", {})).items()
        if not prop.get("description")
    ]
    assert undescribed == []


def test_the_kubernetes_blocks_are_typed_by_the_kubernetes_package_s_own_types(package: dict[str, Any]) -> None:
    release = package["resources"]["canary:index:CanaryRelease"]["inputProperties"]
    workload = package["types"]["canary:index:Workload"]["properties"]
    for inputs in (release, workload):
        assert inputs["container"]["$ref"] == "#/types/canary:index:ContainerFields"
        assert inputs["pod"]["$ref"] == "#/types/canary:index:PodFields"
        assert inputs["podMetadata"]["$ref"] == "#/types/canary:index:PodMetadata"
        assert inputs["deployment"]["$ref"] == "#/types/canary:index:DeploymentFields"
    assert release["servicePorts"]["items"]["$ref"].endswith("#/types/kubernetes:core/v1:ServicePort")
    pod = package["types"]["canary:index:PodFields"]["properties"]
    # The provider version the project pins, so the engine finds that very schema.
    assert pod["volumes"]["items"]["$ref"] == "/kubernetes/v4.25.0/schema.json#/types/kubernetes:core/v1:Volume"
    container = package["types"]["canary:index:ContainerFields"]["properties"]
    assert container["env"]["items"]["$ref"].endswith("#/types/kubernetes:core/v1:EnvVar")
    # What the release owns is no field of the types: a typed program cannot even spell it.
    assert not {"name", "image", "securityContext"} & set(container)
    assert not {"securityContext", "hostNetwork", "automountServiceAccountToken"} & set(pod)
    deployment = package["types"]["canary:index:DeploymentFields"]["properties"]
    # The release's own fields are not offered at all.
    assert set(deployment) == {
        "minReadySeconds",
        "paused",
        "progressDeadlineSeconds",
        "revisionHistoryLimit",
        "strategy",
    }
    assert deployment["strategy"]["$ref"].endswith("#/types/kubernetes:apps/v1:DeploymentStrategy")


def test_every_kubernetes_type_referenced_is_one_the_pinned_provider_has() -> None:
    text = SCHEMA_PATH.read_text()
    references = sorted(set(re.findall(r'schema\.json#/types/kubernetes:([a-z0-9./]+):(\w+)"', text)))
    assert len(references) > 10
    # The SDK of the pinned provider is generated from its schema: one Args class per type.
    missing = [
        f"{group_version}:{kind}"
        for group_version, kind in references
        if not hasattr(importlib.import_module(f"pulumi_kubernetes.{group_version.replace('/', '.')}"), f"{kind}Args")
    ]
    assert missing == []
