"""Where `canary/schemas/kubernetes.json` comes from: Kubernetes 1.33's strict schema, as kubernetes-validate has it.

The program checks the `container`, `pod`, `deployment` and `service.ports` blocks of a release
against the schema of the object each lands in. kubernetes-validate (a test dependency) holds
every Kubernetes version's schema, over 100 MB; the program needs one version's definitions of a
handful of types. So the shipped file holds just the definitions reachable from those types,
descriptions left out, and `test_kubernetes_schema.py` holds it equal to what this module derives.
`python -m tests.kubernetes_schema_source --write` rewrites it.
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
SHIPPED = Path(__file__).resolve().parent.parent / "canary" / "schemas" / "kubernetes.json"


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


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        SHIPPED.write_text(rendered())
    else:
        sys.exit("usage: python -m tests.kubernetes_schema_source --write")
