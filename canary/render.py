"""`python -m canary render`: write the manifests a stack declares, one YAML file per object.

The release's plan runs on the collecting back end (`canary.plan`), the same plan the Pulumi
components register: no Pulumi engine, state, cluster or SDK is needed. The output feeds
`kubectl apply -f`, GitOps repositories and code review.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from canary.plan.backend import Collector
from canary.plan.release import plan_canary_release
from canary.settings import ConfigError, parse_settings
from canary.stack import RELEASE_NAME, release_args, stack_outputs
from canary.stack_file import StackFileError, stack_config

# libyaml's emitter, which PyYAML's wheels carry, writes the same text about 5 times faster; PyYAML
# built without it has no CSafeDumper.
_SafeDumper: type[yaml.SafeDumper | yaml.CSafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Namespace first so that `kubectl apply -f DIR`, which goes file by file in name order, finds
# it; then workloads before the rules that route to them.
KIND_ORDER = [
    "Namespace",
    "NetworkPolicy",
    "PeerAuthentication",
    "Deployment",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "Service",
    "Gateway",
    "DestinationRule",
    "VirtualService",
]
FIELD_ORDER = ["apiVersion", "kind", "metadata", "spec"]
HEADER = "# Rendered by `python -m canary render --stack {stack}`: change the stack config, not this file.\n"
HEADER_MARK = "# Rendered by `python -m canary render"


def ordered(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def rank(manifest: dict[str, Any]) -> tuple[int, str]:
        kind = manifest["kind"]
        return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), manifest["metadata"]["name"])

    return sorted(manifests, key=rank)


def file_name(index: int, manifest: dict[str, Any]) -> str:
    return f"{index:02d}-{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def to_yaml(manifest: dict[str, Any]) -> str:
    """The usual top-level order, then keys sorted as `kubectl get -o yaml` sorts them: stable diffs."""
    fields = {key: manifest[key] for key in FIELD_ORDER if key in manifest}
    fields.update({key: value for key, value in sorted(manifest.items()) if key not in fields})
    text: str = yaml.dump(_sorted(fields), Dumper=_SafeDumper, sort_keys=False, default_flow_style=False, width=1000)
    return text


def write_manifests(manifests: list[dict[str, Any]], out: Path, stack: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    # Files rendered before for objects the stack no longer declares would be applied again by
    # `kubectl apply -f`; remove them, but only files this command wrote.
    mark = HEADER_MARK.encode()
    for stale in out.glob("*.yaml"):
        # Read as bytes: a file of someone else's need not be UTF-8, nor a file at all.
        if stale.is_file() and not stale.is_symlink() and stale.read_bytes().startswith(mark):
            stale.unlink()
    written = []
    for index, manifest in enumerate(ordered(manifests)):
        path = out / file_name(index, manifest)
        path.write_text(HEADER.format(stack=stack) + to_yaml(manifest))
        written.append(path)
    return written


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def unwritable_folder(flag: str, path: Path) -> str | None:
    """Why `path` cannot be (made into) a folder to write in, or None: checked before any write."""
    existing = _nearest_existing(path)
    if existing == path and not path.is_dir():
        return f"{flag} {path}: is a file, not a folder"
    if not existing.is_dir():
        return f"{flag} {path}: {existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{flag} {path}: {existing} is not writable"
    return None


def unwritable_file(flag: str, path: Path) -> str | None:
    """Why `path` cannot be written as a file (its folder is created if missing), or None."""
    if path.is_dir():
        return f"{flag} {path}: is a folder, not a file"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{flag} {path}: is not writable"
    return unwritable_folder(flag, path.parent)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m canary render", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--out", required=True, type=Path, help="directory for the manifests (created if missing)")
    parser.add_argument("--outputs", type=Path, help="also write the stack outputs (routes, urls, ...) as JSON here")
    parser.add_argument("--project-dir", type=Path, default=Path("."), help="directory of Pulumi.yaml (default: .)")
    args = parser.parse_args(argv)

    problem = unwritable_folder("--out", args.out)
    if problem is None and args.outputs is not None:
        problem = unwritable_file("--outputs", args.outputs)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    try:
        settings = parse_settings(stack_config(args.project_dir, args.stack))
    except StackFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ConfigError as err:
        print(f"error: stack {args.stack}: {err}", file=sys.stderr)
        return 1

    collector = Collector()
    release = plan_canary_release(collector, RELEASE_NAME, release_args(settings))
    for warning in collector.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    written = write_manifests(collector.manifests, args.out, args.stack)
    if args.outputs:
        args.outputs.parent.mkdir(parents=True, exist_ok=True)
        outputs = stack_outputs(settings, release.outputs)
        args.outputs.write_text(json.dumps(outputs, indent=2) + "\n")
    print(f"wrote {len(written)} manifests for stack {args.stack} to {args.out}/")
    return 0
