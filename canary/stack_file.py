"""Read a stack's config from its files as the Pulumi CLI would pass it to the program.

`render` works from these files alone: no Pulumi CLI, engine or state. Values come back as the
CLI hands them over: strings, structured values as JSON. Malformed files are one-line
`StackFileError`s naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from canary.settings import PROJECT, refuse_secrets


class StackFileError(ValueError):
    """A stack or project file is missing or cannot be used."""


def stack_config(project_dir: Path, stack: str) -> dict[str, str]:
    """The project config the Pulumi CLI would pass for `stack`: stack values over Pulumi.yaml defaults."""
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise StackFileError(f"--stack {stack}: no stack file {stack_file}")
    declared = (
        (_read_yaml(project_dir / "Pulumi.yaml").get("config") or {}) if (project_dir / "Pulumi.yaml").is_file() else {}
    )
    values: dict[str, Any] = {
        key: spec["default"] for key, spec in declared.items() if isinstance(spec, dict) and "default" in spec
    }
    prefix = f"{PROJECT}:"
    secret = []
    config = _read_yaml(stack_file).get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{stack_file}: config must be a mapping of keys to values, got {type(config).__name__}")
    for key, value in config.items():
        if not isinstance(key, str):
            raise StackFileError(f"{stack_file}: config key {key!r} must be a string such as {prefix}app")
        # The CLI reads a key without a namespace as the project's own; keys of other namespaces
        # (a provider's kubeconfig, say) are not the program's to read.
        if ":" in key and not key.startswith(prefix):
            continue
        name = key.removeprefix(prefix)
        if _holds_secret(value):
            secret.append(name)
        values[name] = value
    if secret:
        raise StackFileError(f"{stack_file}: {refuse_secrets(secret)}")
    return as_config_strings(values)


def _holds_secret(value: Any) -> bool:
    """Whether a stack-file value is, or contains, an encrypted `{secure: ...}` value."""
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_holds_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_secret(item) for item in value)
    return False


class _RefuseDuplicateKeys(yaml.constructor.SafeConstructor):
    """Refuse a key given twice in one mapping: the CLI would keep only one of them."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


class _UniqueKeyLoader(_RefuseDuplicateKeys, yaml.SafeLoader):
    """PyYAML's own parser, which words errors best: it names the character it cannot read."""


# libyaml's parser, which PyYAML's wheels carry, reads a stack file about 8 times faster; PyYAML
# built without it has no CSafeLoader.
_FastUniqueKeyLoader: type[yaml.SafeLoader | yaml.CSafeLoader] = _UniqueKeyLoader
if hasattr(yaml, "CSafeLoader"):

    class _CUniqueKeyLoader(_RefuseDuplicateKeys, yaml.CSafeLoader):
        """The same checks on libyaml's parser."""

    _FastUniqueKeyLoader = _CUniqueKeyLoader


def _load(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_FastUniqueKeyLoader)
    except yaml.YAMLError:
        # Parsed again for the error's wording: libyaml says "found character that cannot start
        # any token" where PyYAML's own parser says which character (a tab, most often).
        return yaml.load(text, Loader=_UniqueKeyLoader)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise StackFileError(f"{path}: not UTF-8 text") from None
    except OSError as err:
        raise StackFileError(f"{path}: cannot read it ({err.strerror})") from None
    try:
        data = _load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        reason = getattr(err, "problem", None) or str(err)
        raise StackFileError(f"{path}: not valid YAML{where}: {reason}") from None
    if data is not None and not isinstance(data, dict):
        raise StackFileError(f"{path}: must be a YAML mapping, got {type(data).__name__}")
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
