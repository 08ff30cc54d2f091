"""Where `canary/schemas/kubernetes.json` comes from: Kubernetes 1.33's strict schema, as kubernetes-validate has it.

The program checks the `container`, `pod`, `deployment` and `service.ports` blocks of a release
against the schema of the object each lands in. kubernetes-validate (a test dependency) holds
every Kubernetes version's schema, over 100 MB; the program needs one version's definitions of a
handful of types. So the shipped file holds just the definitions reachable from those types,
descriptions left out, and `test_kubernetes_schema.py` holds it equal to what this module derives.
`python -m tests.support.kubernetes_schema_source --write` rewrites it, and `canary/schemas/istio.json`:
the parts of Istio's DestinationRule and VirtualService schemas that `trafficPolicy` and
`httpRoute` land in, from the CRDs the tests validate against.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate

KUBERNETES_VERSION = "1.33.0"
ROOTS = (
    "io.k8s.api.core.v1.Container",
    "io.k8s.api.core.v1.PodSpec",
    "io.k8s.api.apps.v1.DeploymentSpec",
    "io.k8s.api.core.v1.ServicePort",
)
SHIPPED = Path(__file__).resolve().parents[2] / "canary" / "schemas" / "kubernetes.json"


def _strip_descriptions(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _strip_descriptions(item) for key, item in value.items() if key != "description"}
    if isinstance(value, list):
        return [_strip_descriptions(item) for item in value]
    return value


def derived_schema() -> dict[str, Any]:
    folder = (
        Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}-local-strict"
    )
    definitions = json.loads((folder / "_definitions.json").read_text())["$defs"]
    reached: set[str] = set()
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending.extend(re.findall(r'"#/\$defs/([^"]+)"', json.dumps(definitions[name])))
    return {
        "kubernetesVersion": KUBERNETES_VERSION,
        "source": f"kubernetes-validate {kubernetes_validate.__version__}, v{KUBERNETES_VERSION}-local-strict",
        "$defs": {name: _strip_descriptions(definitions[name]) for name in sorted(reached)},
    }


def rendered() -> str:
    return json.dumps(derived_schema(), indent=1, sort_keys=True) + "\n"


ISTIO_CRDS = Path(__file__).parents[1] / "data" / "istio-networking-crds.yaml"
ISTIO_SHIPPED = SHIPPED.with_name("istio.json")
# The one CEL rule these parts of the Istio schema carry; the program checks it natively.
DURATION_RULE = "duration(self) >= duration('1ms')"
HTTP_ROUTE_FIELDS = ("timeout", "retries", "corsPolicy")


def _strict(node: Any) -> Any:
    """A CRD's structural schema read as `kubectl apply --validate=strict` reads it: unknown fields are errors."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    strict = {key: _strict(value) for key, value in node.items() if key not in ("description", "nullable")}
    preserved = strict.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in strict and "additionalProperties" not in strict and not preserved:
        strict["additionalProperties"] = False
    for rule in strict.get("x-kubernetes-validations", []):
        if rule["rule"] != DURATION_RULE:
            raise ValueError(f"a CEL rule the program does not check: {rule['rule']}")
    return strict


def derived_istio_schema() -> dict[str, Any]:
    import yaml

    specs = {}
    for document in yaml.safe_load_all(ISTIO_CRDS.read_text()):
        kind = (document or {}).get("spec", {}).get("names", {}).get("kind")
        for version in (document or {}).get("spec", {}).get("versions", []):
            if kind in ("DestinationRule", "VirtualService") and version["name"] == "v1":
                specs[kind] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    route = specs["VirtualService"]["http"]["items"]["properties"]
    return {
        "source": f"tests/data/{ISTIO_CRDS.name}, networking.istio.io/v1",
        "trafficPolicy": _strict(specs["DestinationRule"]["trafficPolicy"]),
        "httpRoute": _strict({"type": "object", "properties": {field: route[field] for field in HTTP_ROUTE_FIELDS}}),
    }


def rendered_istio() -> str:
    return json.dumps(derived_istio_schema(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        SHIPPED.write_text(rendered())
        ISTIO_SHIPPED.write_text(rendered_istio())
    else:
        sys.exit("usage: python -m tests.support.kubernetes_schema_source --write")
