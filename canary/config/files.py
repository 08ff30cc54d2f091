"""Read a stack's config from its files as the Pulumi CLI would pass it to the program.

`render` and `rollout` work from these files alone: no Pulumi CLI, engine or state. The project
folder is found as the CLI finds it (the nearest folder holding Pulumi.yaml, from the working
folder or `--cwd` up), the stack file by the stack's own name (`org/dev` reads Pulumi.dev.yaml).
Values come back as the CLI hands them over: strings, structured values as JSON. A file that
cannot be used is one `StackFileError` line naming it; a key the CLI would ignore that looks
meant for the project is a warning.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from canary.config.messages import MUST_BE_SECRET, SECRET_KEYS, TOO_MANY_DIGITS, refuse_secrets
from canary.config.settings import PROJECT, StackSettings
from canary.plan.secret_env import UNREAD_SECRET
from canary.support.bounded_read import MEBIBYTE, UnreadableFileError, read_text, shown
from canary.support.visible_text import say

PROJECT_FILE = "Pulumi.yaml"
# What a stack file may hold besides config; anything else at its top level the CLI does not
# read as config.
STACK_FILE_FIELDS = frozenset({"config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt"})
# A stack name as the CLI accepts it: letters, digits, `-`, `_` and `.`.
_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")
# How alike a namespace must be to the project's name to be taken for a misspelling of it
# (`istiocanary` is 0.96, `istio_canary` 0.92; `kubernetes` 0.18, `istio` 0.59).
_MISSPELT_PROJECT = 0.8
# Bounds far above any real project or stack file, far below what would hang or exhaust the
# reader: a file nested 100k deep overflows the stack, ten levels of ten aliases expand to 10**10
# values.
MAX_FILE_BYTES = 4 * MEBIBYTE
MAX_DEPTH = 64
MAX_VALUES = 100_000


class StackFileError(ValueError):
    """A stack or project file is missing or cannot be used."""


@dataclass(frozen=True)
class StackConfig:
    """A stack's config as the CLI would pass it, and what reading it had to say."""

    values: dict[str, str]
    path: Path
    """The stack file read."""
    warnings: list[str] = field(default_factory=list)
    secrets: tuple[str, ...] = ()
    """Paths of the values stored as secrets (`rollout.webhook`), left out of `values`: the Pulumi
    CLI decrypts them for whoever needs them (`pulumi config get --path`)."""


def _print_warning(message: str) -> None:
    say(f"warning: {message}", to=sys.stderr)


def stack_config(project_dir: Path, stack: str, warn: Callable[[str], None] = _print_warning) -> dict[str, str]:
    """The project config the Pulumi CLI would pass for `stack`: stack values over Pulumi.yaml defaults.

    Warnings (keys the CLI would ignore that look meant for the project) go to `warn`, by default
    one `warning:` line each on stderr.
    """
    read = read_stack(project_dir, stack)
    for message in read.warnings:
        warn(message)
    return read.values


def stack_name(stack: str) -> str:
    """The stack's own name in `stack`, `org/stack` or `org/project/stack`: what names its file."""
    parts = stack.split("/")
    # `.` and `..` would name a file outside the project folder.
    if len(parts) > 3 or not all(_STACK_NAME.fullmatch(part) and part.strip(".") for part in parts):
        # Quoted when it holds a line break or another control: the message stays one line.
        shown = stack if stack.isprintable() else repr(stack)
        raise StackFileError(f"--stack {shown}: must be a stack name, org/stack or org/project/stack")
    return parts[-1]


def find_project(start: Path) -> Path:
    """The folder holding Pulumi.yaml: `start` or the nearest above it, as the CLI searches."""
    if not start.is_dir():
        raise StackFileError(f"--cwd {shown(start)}: no such folder")
    for folder in (start, *start.absolute().parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise StackFileError(
        f"no {PROJECT_FILE} in {start.absolute()} or any folder above it: run in the project folder, "
        "or point at it with --cwd DIR"
    )


def stack_files(folder: Path) -> list[str]:
    """The stacks that have a file in `folder`, by name."""
    names = (path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in folder.glob("Pulumi.*.yaml"))
    return sorted(name for name in names if _STACK_NAME.fullmatch(name))


def read_stack(project_dir: Path, stack: str) -> StackConfig:
    """Read `stack`'s config, searching for the project from `project_dir` up; StackFileError if unusable."""
    name = stack_name(stack)
    project = find_project(project_dir)
    project_file = _read_yaml(project / PROJECT_FILE)
    qualified = stack.split("/")
    if len(qualified) == 3 and qualified[1] != project_file.get("name"):
        raise StackFileError(
            f"--stack {stack}: names project {qualified[1]}, but {project / PROJECT_FILE} is project "
            f"{project_file.get('name')}"
        )
    # Pulumi.yaml may keep the stack files in a folder of their own.
    config_dir = project / str(project_file.get("stackConfigDir") or ".")
    stack_file = config_dir / f"Pulumi.{name}.yaml"
    # A link to /dev/zero, a FIFO or a folder is there, but no stack file: `_read_yaml` says what it is.
    if not stack_file.exists() and not stack_file.is_symlink():
        known = stack_files(config_dir)
        there = f"stacks there: {', '.join(known)}" if known else "no stack has a file there (pulumi stack init NAME)"
        raise StackFileError(f"--stack {stack}: no stack file Pulumi.{name}.yaml in {config_dir}; {there}")
    declared = project_file.get("config") or {}
    values: dict[str, Any] = {
        key: spec["default"]
        for key, spec in (declared.items() if isinstance(declared, dict) else ())
        if isinstance(spec, dict) and "default" in spec
    }
    data = _read_yaml(stack_file)
    _refuse_top_level_config(stack_file, data)
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{stack_file}: config must be a mapping of keys to values, got {type(config).__name__}")
    read, warnings, secrets = _project_values(stack_file, config)
    values.update(read)
    return StackConfig(values=as_config_strings(values), path=stack_file, warnings=warnings, secrets=secrets)


def _project_keys() -> list[str]:
    return sorted(field.alias or name for name, field in StackSettings.model_fields.items())


def _refuse_top_level_config(stack_file: Path, data: dict[str, Any]) -> None:
    """Config keys written at the top level, where the CLI does not read them, are refused by name."""
    prefix = f"{PROJECT}:"
    keys = set(_project_keys())
    stray = [
        key
        for key in data
        if isinstance(key, str) and key not in STACK_FILE_FIELDS and (key.startswith(prefix) or key in keys)
    ]
    if stray:
        raise StackFileError(
            f"{stack_file}: {', '.join(stray)} sit at the top level, where the CLI reads no config: "
            "put them under `config:`"
        )


def _project_values(stack_file: Path, config: dict[Any, Any]) -> tuple[dict[str, Any], list[str], tuple[str, ...]]:
    """The project's keys in a stack file's `config:`, each read once, warnings for near misses, and
    the paths of the secrets left out."""
    prefix = f"{PROJECT}:"
    values: dict[str, Any] = {}
    spelling: dict[str, str] = {}
    secret = []
    warnings = []
    secrets: list[str] = []
    for key, value in config.items():
        if not isinstance(key, str):
            raise StackFileError(f"{stack_file}: config key {key!r} must be a string such as {prefix}app")
        namespace, colon, name = key.partition(":")
        # The CLI reads a key without a namespace as the project's own; keys of other namespaces
        # (a provider's kubeconfig, say) are not the program's to read.
        if not colon:
            name = key
        elif namespace != PROJECT:
            if _looks_like_project(namespace):
                warnings.append(f"{stack_file}: {key} is not read ({namespace} is not {PROJECT}); {_nearest(name)}")
            continue
        if name in spelling:
            # `app: shop` beside `istio-canary:app: nginx`: the CLI would keep one, silently.
            raise StackFileError(f"{stack_file}: {spelling[name]} and {key} both set {prefix}{name}: keep one")
        spelling[name] = key
        if name in MUST_BE_SECRET:
            value = _unread_secrets(stack_file, name, value)
        elif _holds_secret(value) and name in SECRET_KEYS:
            paths = list(_secret_paths(value, name))
            secrets.extend(paths)
            if name in paths:
                continue  # the whole value is one secret
            value = _without_secrets(value)
        elif _holds_secret(value):
            secret.append(name)
        values[name] = value
    if secret:
        raise StackFileError(f"{stack_file}: {refuse_secrets(secret)}")
    return values, warnings, tuple(secrets)


def _unread_secrets(stack_file: Path, key: str, value: Any) -> Any:
    """A key of secret values, each left encrypted: UNREAD_SECRET stands in for it."""
    if not isinstance(value, dict):
        # The key's check names the problem, without the value.
        return value
    plain = [name for name, item in value.items() if not (isinstance(item, dict) and set(item) == {"secure"})]
    if plain:
        raise StackFileError(
            f"{stack_file}: {key}.{plain[0]} is stored in plain text; store it as a secret: "
            f"pulumi config set --secret --path '{key}.{plain[0]}' VALUE"
        )
    return dict.fromkeys(value, UNREAD_SECRET)


def _looks_like_project(namespace: str) -> bool:
    return difflib.SequenceMatcher(None, namespace.lower(), PROJECT).ratio() >= _MISSPELT_PROJECT


def _nearest(name: str) -> str:
    # Cutoff 0: the closest key, however far, is the likeliest one meant.
    (match,) = difflib.get_close_matches(name, _project_keys(), n=1, cutoff=0)
    return f"did you mean {PROJECT}:{match}?"


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _secret_paths(value: Any, path: str) -> Iterator[str]:
    """The `pulumi config get --path` spelling of each secret in `value`, found at `path`."""
    if _is_secret(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _secret_paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_paths(item, f"{path}[{index}]")


def _without_secrets(value: Any) -> Any:
    """`value` with each secret left out (a mapping's key dropped, a list's item too)."""
    if isinstance(value, dict):
        return {key: _without_secrets(item) for key, item in value.items() if not _is_secret(item)}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value if not _is_secret(item)]
    return value


def _holds_secret(value: Any) -> bool:
    """Whether a stack-file value is, or contains, an encrypted `{secure: ...}` value."""
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_holds_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_secret(item) for item in value)
    return False


class _StrictConstructor(yaml.constructor.SafeConstructor):
    """Refuse a key given twice in one mapping (the CLI would keep only one of them), a key that
    is a list or a mapping, and a whole number Python will not read."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return int(super().construct_yaml_int(node))
        except ValueError:
            # PyYAML's own int() raised out of the loader as a traceback.
            raise yaml.constructor.ConstructorError(None, None, TOO_MANY_DIGITS, node.start_mark) from None

    # PyYAML looks its constructors up by tag in this table, not by method name.
    yaml_constructors: ClassVar[dict[Any, Any]] = {
        **yaml.constructor.SafeConstructor.yaml_constructors,
        "tag:yaml.org,2002:int": construct_yaml_int,
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key_node, yaml.ScalarNode):
                # `? [a, b] : x` is valid YAML, but no config key; as a Python key it cannot even be hashed.
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a single value, not a list or a mapping", key_node.start_mark
                )
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


class _UniqueKeyLoader(_StrictConstructor, yaml.SafeLoader):
    """PyYAML's own parser, which words errors best: it names the character it cannot read."""


# libyaml's parser, which PyYAML's wheels carry, reads a stack file about 8 times faster; PyYAML
# built without it has no CSafeLoader.
_FastUniqueKeyLoader: type[yaml.SafeLoader | yaml.CSafeLoader] = _UniqueKeyLoader
if hasattr(yaml, "CSafeLoader"):

    class _CUniqueKeyLoader(_StrictConstructor, yaml.CSafeLoader):
        """The same checks on libyaml's parser."""

    _FastUniqueKeyLoader = _CUniqueKeyLoader


class _TooLargeError(ValueError):
    """The document is nested too deep or expands to too many values; the message says which."""


def _refuse_oversized(events: Iterable[yaml.Event]) -> None:
    """Count the document's depth and its values as loading would expand them, from the parser's
    events alone: nothing is built, so neither a deep nesting nor an alias bomb costs more than
    its own text to refuse."""
    sizes: dict[str, int] = {}
    # One entry per open list or mapping: its anchor and the values counted in it so far.
    open_: list[tuple[str | None, int]] = [(None, 0)]
    total = 0
    for event in events:
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(open_) > MAX_DEPTH:
                raise _TooLargeError(f"nested more than {MAX_DEPTH} levels deep")
            open_.append((event.anchor, 1))
            total += 1
            continue
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            anchor, count = open_.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, count = event.anchor, 1
            total += 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, count = None, sizes.get(event.anchor or "", 1)
            total += count
        else:
            continue
        if anchor is not None:
            sizes[anchor] = count
        parent_anchor, parent_count = open_[-1]
        open_[-1] = (parent_anchor, parent_count + count)
        if total > MAX_VALUES:
            raise _TooLargeError(f"holds more than {MAX_VALUES:,} values once its aliases are expanded")


def _load(text: str) -> Any:
    try:
        _refuse_oversized(yaml.parse(text, Loader=_FastUniqueKeyLoader))
        return yaml.load(text, Loader=_FastUniqueKeyLoader)
    except yaml.MarkedYAMLError as err:
        if "cannot start any token" in (err.problem or "") and err.problem_mark is not None:
            # Parsed again for the error's wording: libyaml says "found character that cannot
            # start any token" where PyYAML's own parser says which character (a tab, most
            # often). Only up to that line, and only its events: PyYAML's parser is slow on deep
            # nesting, and composing could recurse without end.
            upto = "".join(text.splitlines(keepends=True)[: err.problem_mark.line + 1])
            for _ in yaml.parse(upto, Loader=_UniqueKeyLoader):
                pass
        if "maximum nesting depth" in (err.problem or ""):
            raise _TooLargeError(f"nested more than {MAX_DEPTH} levels deep") from None
        raise


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = read_text(path, MAX_FILE_BYTES)
    except UnreadableFileError as err:
        raise StackFileError(f"{shown(path)}: {err}") from None
    try:
        data = _load(text)
    except _TooLargeError as err:
        raise StackFileError(f"{shown(path)}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        reason = getattr(err, "problem", None) or str(err)
        raise StackFileError(f"{shown(path)}: not valid YAML{where}: {reason}") from None
    if data is not None and not isinstance(data, dict):
        raise StackFileError(f"{shown(path)}: must be a YAML mapping, got {type(data).__name__}")
    return data or {}


def as_config_strings(values: Mapping[str, Any]) -> dict[str, str]:
    """Config values as the Pulumi CLI hands them to the program: strings, structured ones as JSON."""
    return {key: _as_config_string(value) for key, value in values.items()}


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)
