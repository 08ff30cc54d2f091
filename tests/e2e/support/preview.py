"""What a preview plans to change, read off `pulumi preview --json`."""

from __future__ import annotations

import json

from tests.support.stack import Workspace

VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"


def planned_steps(program: Workspace) -> list[tuple[str, str]]:
    preview = json.loads(program.preview("--json").check().stdout)
    return sorted(
        (step["op"], step["urn"].split("::")[2].rsplit("$", 1)[-1])
        for step in preview.get("steps", [])
        if step["op"] != "same"
    )
