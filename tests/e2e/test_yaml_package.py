"""examples/yaml: a Pulumi YAML program using the component package in plugin/, with the real CLI.

The release it declares must be the one the Python program declares for the same values: the
same objects, as `render` writes them. Its lifecycle (no drift, a weight step, a refused weight,
destroy) is the Python program's too.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import canary
from tests.e2e.support.objects import assert_live_as_rendered, live_virtual_service, rendered_manifests
from tests.e2e.support.preview import VIRTUAL_SERVICE, planned_steps
from tests.support.dataplane import live_split
from tests.support.routing_cases import request_shaped_like
from tests.support.stack import PROJECT_DIR, Workspace, kubectl_json, live_object, run

EXAMPLE = PROJECT_DIR / "examples" / "yaml" / "Pulumi.yaml"
PLUGIN = PROJECT_DIR / "plugin"
RELEASE_KINDS = sorted(
    ["Namespace", "Deployment", "Deployment", "Service", "Gateway", "DestinationRule", "VirtualService"]
)

_counter = itertools.count()


class YamlProgram(Workspace):
    """The example in a temporary folder, its package pointing at this checkout's plugin/."""

    def __init__(self, root: Path, stack: str) -> None:
        self.root, self.stack = root, stack
        root.mkdir(parents=True, exist_ok=True)
        self.document = yaml.safe_load(EXAMPLE.read_text())
        self.document["packages"]["canary"] = str(PLUGIN)
        # A namespace of its own: another test's namespace may still be terminating.
        self.document["resources"]["release"]["properties"]["namespace"] = "e2e-yaml"
        self.save()

    @property
    def properties(self) -> dict[str, Any]:
        properties: dict[str, Any] = self.document["resources"]["release"]["properties"]
        return properties

    def save(self) -> None:
        (self.root / "Pulumi.yaml").write_text(yaml.safe_dump(self.document, sort_keys=False))


@pytest.fixture
def yaml_program(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], YamlProgram]]:
    made: list[YamlProgram] = []

    def make(label: str) -> YamlProgram:
        stack = f"{label}-{os.getpid()}-{next(_counter)}"
        program = YamlProgram(tmp_path_factory.mktemp(stack), stack)
        program.init()
        made.append(program)
        return program

    yield make
    for program in made:
        program.destroy()
        program.remove()


def stack_config_of(properties: dict[str, Any]) -> dict[str, Any]:
    """The same release as stack config of the Python program (its keys name a version `name`)."""
    return {
        "namespace": properties["namespace"],
        "app": properties["app"],
        "hosts": properties["hosts"],
        "versions": [
            {"name": v["version"], "image": v["image"], **({"container": v["container"]} if "container" in v else {})}
            for v in properties["versions"]
        ],
        "stable": properties["stable"],
        "canary": properties["canary"],
        # The Kubernetes blocks are spelled alike through both doors.
        "pod": properties["pod"],
        "container": properties["container"],
    }


def identity(manifest: dict[str, Any]) -> tuple[str, str, str, str]:
    metadata = manifest["metadata"]
    return manifest["apiVersion"], manifest["kind"], metadata.get("namespace", ""), metadata["name"]


def stack_objects(program: YamlProgram) -> list[tuple[str, str, str, str]]:
    """The Kubernetes objects the engine holds in the stack's state."""
    resources = program.exported_state()["deployment"].get("resources", [])
    return sorted(
        identity(resource["outputs"])
        for resource in resources
        if resource["type"].startswith("kubernetes:") and not resource["type"].startswith("pulumi:providers:")
    )


def assert_routes_hold(program: YamlProgram) -> None:
    # Where Istio would send each kind of request by the objects the API server holds (the oracle).
    namespace = program.properties["namespace"]
    for route in program.outputs()["routes"]:
        expected = {version: float(percent) for version, percent in route["split"].items() if percent}
        assert live_split(namespace, request_shaped_like(route["when"])) == expected, route


def test_the_yaml_program_creates_what_render_writes_and_lives_like_the_python_program(yaml_program, tmp_path):
    program = yaml_program("yaml")
    properties = program.properties
    namespace, app = properties["namespace"], properties["app"]
    program.up().check()

    # The Python program's render of the same release: the objects, field for field.
    python = Workspace(tmp_path / "python", program.stack)
    python.write_config(stack_config_of(properties))
    python.render(tmp_path / "manifests", tmp_path / "outputs.json").check()
    manifests = rendered_manifests(tmp_path / "manifests")
    assert sorted(m["kind"] for m in manifests) == RELEASE_KINDS
    assert stack_objects(program) == sorted(identity(m) for m in manifests)
    assert_live_as_rendered(manifests)
    # The blocks reached the cluster: v2's pods have its env var and every version the volume.
    for deployment in (m for m in manifests if m["kind"] == "Deployment"):
        pod = live_object("deployment", deployment["metadata"]["name"], namespace)["spec"]["template"]["spec"]
        assert {"name": "cache", "emptyDir": {}} in pod["volumes"]
        env = pod["containers"][0].get("env", [])
        assert (env == [{"name": "FEATURE_SEARCH", "value": "on"}]) == deployment["metadata"]["name"].endswith("-v2")
    rendered_outputs = json.loads((tmp_path / "outputs.json").read_text())
    outputs = program.outputs()
    assert outputs["routes"] == rendered_outputs["routes"]
    assert outputs == {"namespace": namespace, "urls": ["http://shop.example.org/"], "routes": outputs["routes"]}
    assert_routes_hold(program)

    program.preview("--expect-no-changes").check()

    # A traffic step is one in-place update of the VirtualService.
    properties["canary"]["weight"] = 20
    program.save()
    assert planned_steps(program) == [("update", VIRTUAL_SERVICE)]
    program.up().check()
    changes = program.last_update()["resourceChanges"]
    assert {op: n for op, n in changes.items() if op != "same"} == {"update": 1}
    assert_routes_hold(program)
    live_before = live_virtual_service(namespace, f"{app}-virtualservice")["spec"]
    objects_before = stack_objects(program)

    # A weight out of range: refused with the field and the value, by preview and by up, and
    # nothing changes.
    properties["canary"]["weight"] = 150
    program.save()
    for attempt in (program.preview(), program.up()):
        assert attempt.returncode != 0
        assert "canary.weight must be from 0 to 100, got 150" in attempt.output
        assert "Traceback" not in attempt.output and 'File "' not in attempt.output
    assert live_virtual_service(namespace, f"{app}-virtualservice")["spec"] == live_before
    assert stack_objects(program) == objects_before

    program.destroy().check()
    assert live_object("namespace", namespace) is None
    assert stack_objects(program) == []
    leftovers = kubectl_json("get", "all", "-A", "-l", f"app={app}")["items"]
    assert [item["metadata"]["name"] for item in leftovers] == []


def test_get_schema_lists_the_components_with_the_args_docstrings():
    listed = json.loads(run(["pulumi", "package", "get-schema", str(PLUGIN)]).check().stdout)
    resources = listed["resources"]
    assert sorted(resources) == [
        "canary:index:AppService",
        "canary:index:AppVersion",
        "canary:index:CanaryRelease",
        "canary:index:IstioGateway",
        "canary:index:NamespaceSecurity",
    ]
    for token, resource in resources.items():
        component = getattr(canary, token.rsplit(":", 1)[1])
        assert resource["description"] == component.__doc__, token
    release = resources["canary:index:CanaryRelease"]
    assert release["inputProperties"]["versions"]["description"] == "One Deployment per version."
    weight = listed["types"]["canary:index:Canary"]["properties"]["weight"]
    assert weight["description"] == (
        "Percent (0-100) of the requests that `cookie` and `headers` do not select that go to `version`."
    )
