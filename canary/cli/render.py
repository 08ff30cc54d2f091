"""`canary render`: write the manifests a stack declares, one YAML file per object.

The release's plan runs on the collecting back end (`canary.plan`), the same plan the Pulumi
components register: no Pulumi engine, state, cluster or SDK is needed. The output feeds
`kubectl apply -f`, GitOps repositories and code review.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from canary.cli.file_writes import write_replacing
from canary.cli.flags import CommandParser, UsageError, examples, parse_flags, path_flag
from canary.config import ConfigError, parse_settings
from canary.config.files import StackFileError, read_stack, stack_name
from canary.config.to_args import RELEASE_NAME, release_args, stack_outputs
from canary.plan.backend import Collector
from canary.plan.release import plan_canary_release
from canary.plan.rules.checks import ArgsError
from canary.plan.secret_env import secret_name
from canary.support import exit_status
from canary.support.bounded_read import shown
from canary.support.visible_text import say

# libyaml's emitter, which PyYAML's wheels carry, writes the same text about 5 times faster; PyYAML
# built without it has no CSafeDumper.
_SafeDumper: type[yaml.SafeDumper | yaml.CSafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Namespace first so that `kubectl apply -f DIR`, which goes file by file in name order, finds
# it; then workloads before the rules that route to them.
KIND_ORDER = [
    "Namespace",
    "NetworkPolicy",
    "PeerAuthentication",
    # What the pods need before they start: whom they run as, the values they read.
    "ServiceAccount",
    "Secret",
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


def without_secrets(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifests less the `secretEnv` Secret, whose values render cannot decrypt."""
    return [manifest for manifest in manifests if manifest["kind"] != "Secret"]


def unwritten_secret(app: str, names: list[str]) -> str:
    return (
        f"secretEnv: the Secret {secret_name(app)} ({', '.join(sorted(names))}) is not written: its values are "
        "stored encrypted, which render does not decrypt. `pulumi up` creates it; to apply these files without "
        f"Pulumi, create it first: kubectl create secret generic {secret_name(app)} --from-literal=NAME=VALUE ..."
    )


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


_RENDERED_FOR = re.compile(rb"# Rendered by `python -m canary render --stack ([^`\s]+)`")


def rendered_for(path: Path) -> str | None:
    """The stack this command wrote `path` for (its header names it), or None for any other file or a link."""
    if not path.is_file() or path.is_symlink():
        return None
    # Read as bytes, and one bounded line: a file of someone else's need not be UTF-8, nor short.
    with path.open("rb") as file:
        match = _RENDERED_FOR.match(file.readline(1024))
    return match.group(1).decode() if match else None


def rendered_by(path: Path, stack: str) -> bool:
    """Whether `path` is a file this command wrote for `stack`.

    The closing backtick ends the name, so `dev` does not claim the files of `dev-render`.
    """
    return rendered_for(path) == stack


def clash(out: Path, names: list[str], stack: str) -> str | None:
    """Why a file about to be written would replace something that is not this stack's, or None.

    Two stacks of one app name their objects alike: rendered into one folder, the second would
    silently overwrite the first's files. A hand-written file or a link of that name is no more
    render's to replace.
    """
    for name in names:
        path = out / name
        if path.is_symlink():
            return f"--out {shown(out)}: {name} is a link; render writes no file through a link, nor over one"
        if not path.exists():
            continue
        other = rendered_for(path)
        if other is None:
            return (
                f"--out {shown(out)}: {name} was not written by canary render; move it, or render into another folder"
            )
        if other != stack:
            return (
                f"--out {shown(out)}: {name} was rendered for stack {other}; render each stack into a folder of its own"
            )
    return None


def manifest_files(manifests: list[dict[str, Any]], stack: str) -> dict[str, str]:
    """File name -> text of each manifest, in the order `kubectl apply -f DIR` reads them."""
    return {
        file_name(index, manifest): HEADER.format(stack=stack) + to_yaml(manifest)
        for index, manifest in enumerate(ordered(manifests))
    }


def write_manifests(manifests: list[dict[str, Any]], out: Path, stack: str) -> list[Path]:
    return write_files(manifest_files(manifests, stack), out, stack)


def write_files(files: dict[str, str], out: Path, stack: str) -> list[Path]:
    """Write the rendered `files` into `out`, each whole, and remove this stack's files no longer rendered."""
    out.mkdir(parents=True, exist_ok=True)
    # Files rendered before for objects the stack no longer declares would be applied again by
    # `kubectl apply -f`; remove them, but only files this command wrote for this stack: another
    # stack rendered into the same folder keeps its own.
    for stale in out.glob("*.yaml"):
        if stale.name not in files and rendered_by(stale, stack):
            stale.unlink()
    written = []
    for name, text in files.items():
        write_replacing(out / name, text)
        written.append(out / name)
    return written


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def unwritable_folder(flag: str, path: Path, given: Path | None = None) -> str | None:
    """Why `path` cannot be (made into) a folder to write in, or None: checked before any write.

    The message names `given`, the path as the flag gave it (a file in that folder), if not the folder.
    """
    named = f"{flag} {shown(given if given is not None else path)}"
    existing = _nearest_existing(path)
    if existing == path and not path.is_dir():
        return f"{named}: {'' if given is None else f'{shown(path)} '}is a file, not a folder"
    if not existing.is_dir():
        return f"{named}: {shown(existing)} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{named}: {shown(existing)} is not writable"
    return None


def unwritable_file(flag: str, path: Path) -> str | None:
    """Why `path` cannot be written as a file (its folder is created if missing), or None."""
    if path.is_dir():
        return f"{flag} {shown(path)}: is a folder, not a file"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{flag} {shown(path)}: is not writable"
    return unwritable_folder(flag, path.parent, given=path)


def clashing_paths(out: Path, outputs: Path) -> str | None:
    """Why `--outputs` cannot go where it is asked to, given `--out`, or None.

    Inside the manifests' folder `kubectl apply -f` would read the JSON as one more object.
    """
    folder, file = out.resolve(), outputs.resolve()
    if file == folder or folder.is_relative_to(file):
        return (
            f"--outputs {shown(outputs)}: is the --out folder {shown(out)}, or above it; "
            "name a file beside it (outputs.json)"
        )
    if file.is_relative_to(folder):
        return (
            f"--outputs {shown(outputs)}: is inside the --out folder {shown(out)}, where kubectl apply -f would read it"
        )
    return None


def make_folders(flag: str, folder: Path, created: list[Path]) -> str | None:
    """Create `folder` and its missing parents, appending each to `created`; why not, or None."""
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    for path in reversed(missing):
        try:
            path.mkdir()
        except OSError as err:
            return f"{flag} {shown(folder)}: cannot create {shown(path)} ({err.strerror or err})"
        created.append(path)
    return None


def remove_folders(created: list[Path]) -> None:
    """Undo `make_folders`: the folders it made, deepest first, each still empty."""
    for path in reversed(created):
        path.rmdir()


def parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog="canary render",
        description=__doc__.splitlines()[0],
        examples=examples(
            (
                "The dev stack's manifests, and the outputs `canary verify --routes` reads",
                "canary render --stack dev --out manifests/ --outputs outputs.json",
            ),
            (
                "From another folder: Pulumi.yaml is found in DIR or above it",
                "canary render --stack prod -C deploy/ --out manifests/prod/",
            ),
        ),
    )
    p.add_argument(
        "--stack", required=True, help="stack name (or org/stack, org/project/stack): reads Pulumi.<stack>.yaml"
    )
    p.add_argument("--out", required=True, type=path_flag, help="directory for the manifests (created if missing)")
    p.add_argument("--outputs", type=path_flag, help="also write the stack outputs (routes, urls, ...) as JSON here")
    p.add_argument(
        "--cwd",
        "-C",
        "--project-dir",
        dest="project_dir",
        type=path_flag,
        default=Path("."),
        metavar="DIR",
        help="find Pulumi.yaml in DIR or above it, as `pulumi --cwd DIR` does (default: .)",
    )
    return p


def _error(message: str) -> int:
    say(f"error: {message}", to=sys.stderr)
    return exit_status.USAGE


def main(argv: list[str]) -> int:
    try:
        args = parse_flags(parser(), argv)
    except UsageError as err:
        return _error(str(err))
    if isinstance(args, int):
        return args

    # Every path is checked before the stack is read, and the stack before anything is written.
    problem = unwritable_folder("--out", args.out)
    if problem is None and args.outputs is not None:
        problem = clashing_paths(args.out, args.outputs) or unwritable_file("--outputs", args.outputs)
    if problem is not None:
        return _error(problem)

    try:
        stack = read_stack(args.project_dir, args.stack)
    except StackFileError as err:
        return _error(str(err))
    # First: a key under a misspelt prefix is likely why a key is missing or invalid below.
    for warning in stack.warnings:
        say(f"warning: {warning}", to=sys.stderr)
    try:
        settings = parse_settings(stack.values)
        collector = Collector()
        release = plan_canary_release(collector, RELEASE_NAME, release_args(settings))
    except ConfigError as err:
        return _error(f"stack {args.stack}: {err}")
    except ArgsError as err:
        # A rule of the components' Args that the stack's models missed: still one line, exit 2.
        return _error(f"stack {args.stack}: {err}")
    for warning in collector.warnings:
        say(f"warning: {warning}", to=sys.stderr)
    manifests = without_secrets(collector.manifests)
    if len(manifests) < len(collector.manifests):
        say(f"warning: {unwritten_secret(settings.app, list(settings.secret_env))}", to=sys.stderr)
    name = stack_name(args.stack)
    files = manifest_files(manifests, name)
    if (problem := clash(args.out, list(files), name)) is not None:
        return _error(problem)
    # Folders the checks could not prove creatable (`/proc/x`, a full or read-only file system
    # seen as writable by root) are made first; made or not, nothing else is written yet.
    created: list[Path] = []
    problem = make_folders("--out", args.out, created)
    if problem is None and args.outputs is not None:
        problem = make_folders("--outputs", args.outputs.parent, created)
    if problem is not None:
        remove_folders(created)
        return _error(problem)
    try:
        written = write_files(files, args.out, name)
        if args.outputs:
            outputs = stack_outputs(settings, release.outputs)
            write_replacing(args.outputs, json.dumps(outputs, indent=2) + "\n")
    except OSError as err:
        return _error(f"writing to {shown(err.filename or args.out)}: {err.strerror or err}")
    say(f"wrote {len(written)} manifests for stack {name} to {args.out}/")
    return exit_status.OK
