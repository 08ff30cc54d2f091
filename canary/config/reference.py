"""The stack config reference, generated from the settings models: `Pulumi.yaml`'s `config:` block, the doc's tables.

The models in `canary.config` are the one place where keys, defaults and descriptions are
written; this module only reads them. `python -m canary.config.reference --write` rewrites both
files (CONFIG_DOC between its markers), `--check` exits 1 when either differs from what the models
give.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel

from canary.config import StackSettings
from canary.config.annotations import is_model as _is_model
from canary.config.annotations import json_type as _json_type
from canary.config.annotations import json_type_of as _json_type_of
from canary.config.annotations import kinds as _kinds
from canary.support import exit_status
from canary.support.visible_text import say

COMMAND = "python -m canary.config.reference --write"
START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
# The doc that holds the reference tables, between START and END; relative to the project folder.
CONFIG_DOC = "docs/config.md"

_DOC_TYPES = {
    "boolean": "boolean",
    "integer": "integer",
    "number": "number",
    "string": "string",
    "object": "mapping",
}
# The Pulumi CLI makes a declared key without a default required, so an optional key needs one:
# the empty value of its type, which parse_settings reads as "not set".
_EMPTY: dict[str, Any] = {"string": "", "object": {}, "array": []}


class LayoutError(ValueError):
    """A file has no single place for the generated reference."""


@dataclass(frozen=True)
class Key:
    """One config key of a model, as users write it."""

    name: str
    attribute: str  # the model's own field name
    annotation: Any
    required: bool
    default: Any  # the value when the key is left out; None means unset
    description: str


def keys(model: type[BaseModel]) -> list[Key]:
    """The keys of `model`, named by their aliases, with their own defaults (default factories called)."""
    found: list[Key] = []
    for name, field in model.model_fields.items():
        if not field.description:
            raise TypeError(f"{model.__name__}.{name}: every key needs a description, for the reference")
        required = field.is_required()
        default = None if required else field.get_default(call_default_factory=True)
        found.append(Key(field.alias or name, name, field.annotation, required, default, field.description))
    return found


def _model(annotation: Any) -> type[BaseModel] | None:
    """The model of a key holding a mapping of known keys."""
    kinds = _kinds(annotation)
    return kinds[0] if len(kinds) == 1 and _is_model(kinds[0]) else None


def _item(annotation: Any) -> Any:
    """The item type of a key holding a list, else None."""
    kinds = _kinds(annotation)
    return get_args(kinds[0])[0] if len(kinds) == 1 and get_origin(kinds[0]) is list else None


def _either(names: Iterable[str]) -> str:
    listed = list(names)
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " or " + listed[-1]


def _type_name(annotation: Any) -> str:
    """The type as the reference tables spell it: `string or \\`false\\``, `list of mappings`."""
    names: list[str] = []
    kinds = _kinds(annotation)
    if set(kinds) == {int, float}:
        # An integer or a decimal: one number to the reader.
        kinds = [float]
    for kind in kinds:
        if get_origin(kind) is Literal:
            names.extend(f"`{_flow(value)}`" for value in get_args(kind))
        elif get_origin(kind) is list:
            names.append(f"list of {_type_name(get_args(kind)[0])}s")
        else:
            names.append(_DOC_TYPES[_json_type_of(kind)])
    return _either(names)


def _flow(value: Any) -> str:
    """A value as YAML's flow style writes it, as a stack file would: `{istio: ingressgateway}`, `true`."""
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True, exclude_none=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    # Quote only what YAML would read as something else: "", "true", "80".
    return text if isinstance(value, int) or (text and yaml.safe_load(text) == text) else json.dumps(text)


def _shape(model: type[BaseModel], defaults: BaseModel | None = None) -> str:
    """`{version, cookie?, weight=0}`: required, optional and defaulted keys, nested ones inline.

    `defaults` is the instance a parent key defaults to: `resources` gives `requests` values that
    the request model itself does not have.
    """
    parts: list[str] = []
    for key in keys(model):
        value = getattr(defaults, key.attribute) if defaults is not None else key.default
        name = key.name if key.required or value is not None else f"{key.name}?"
        if (nested := _model(key.annotation)) is not None:
            parts.append(f"{name}={_shape(nested, value)}")
        else:
            parts.append(name if value is None else f"{name}={_flow(value)}")
    return "{" + ", ".join(parts) + "}"


def _declared_default(key: Key, json_type: str) -> Any:
    if key.default is None:
        return _EMPTY[json_type]
    if isinstance(key.default, BaseModel):
        # null is not a value the CLI takes: unset nested keys are left out.
        return key.default.model_dump(by_alias=True, exclude_none=True)
    return key.default


def pulumi_config() -> dict[str, dict[str, Any]]:
    """Pulumi.yaml's `config:` declarations: only the fields the CLI accepts (type, items, description, default)."""
    config: dict[str, dict[str, Any]] = {}
    for key in keys(StackSettings):
        json_type = _json_type(key.annotation)
        declaration: dict[str, Any] = {"type": json_type}
        description = key.description
        if json_type == "array":
            item = _item(key.annotation)
            declaration["items"] = {"type": _json_type(item)}
            if (entry := _model(item)) is not None:
                description += f" Each entry: {_shape(entry)}."
        elif (nested := _model(key.annotation)) is not None:
            description += f" Keys: {_shape(nested, key.default)}."
        if any(get_origin(kind) is Literal for kind in _kinds(key.annotation)):
            description += f" One of {_type_name(key.annotation)}."
        declaration["description"] = description
        if not key.required:
            declaration["default"] = _declared_default(key, json_type)
        config[key.name] = declaration
    return config


def config_block() -> str:
    # One line per description (no folding), so that a changed key is a one-line diff.
    text = yaml.safe_dump({"config": pulumi_config()}, sort_keys=False, allow_unicode=True, width=1_000_000)
    notice = (
        f"  # Generated from the models in canary/config/ by `{COMMAND}`: edit the models, not this block.\n"
        f"  # {CONFIG_DOC} describes every nested key.\n"
    )
    return text.replace("config:\n", "config:\n" + notice, 1)


def _rows(model: type[BaseModel], prefix: str = "", *, top_level: bool = False) -> Iterator[str]:
    for key in keys(model):
        path = prefix + key.name
        kind = _type_name(key.annotation)
        if key.required:
            default = "required"
        elif key.default is None:
            # A top-level key shows the empty value Pulumi.yaml declares for "unset".
            default = f"none (`{_flow(_EMPTY[_json_type(key.annotation)])}`)" if top_level else "none"
        else:
            default = f"`{_flow(key.default)}`"
        if _model(_item(key.annotation)) is not None:
            kind += " (keys below)"
        meaning = key.description.replace("|", "\\|")
        yield f"| `{path}` | {kind} | {default} | {meaning} |"
        if (nested := _model(key.annotation)) is not None:
            yield from _rows(nested, path + ".")


def _table(rows: Iterable[str]) -> str:
    return "\n".join(["| key | type | default | meaning |", "|---|---|---|---|", *rows]) + "\n"


def config_doc_tables() -> str:
    """The reference tables of CONFIG_DOC: the top-level keys, then one table per list of mappings (`versions`)."""
    parts = [
        f"<!-- Generated from the models in canary/config/ by `{COMMAND}`: edit the models, not these tables. -->\n",
        "Nested keys are written as `pulumi config set --path` takes them. In a mapping you set, a key marked "
        "required must be given and the others take their defaults.\n",
        _table(_rows(StackSettings, top_level=True)),
    ]
    for key in keys(StackSettings):
        if (item := _model(_item(key.annotation))) is not None:
            parts += [f"Keys of each entry of `{key.name}`:\n", _table(_rows(item))]
    return "\n".join(parts)


def _replace_once(text: str, pattern: re.Pattern[str], replacement: str, where: str) -> str:
    found = pattern.findall(text)
    if len(found) != 1:
        raise LayoutError(f"expected one {where}, found {len(found)}")
    return pattern.sub(lambda _: replacement, text)


# `config:` and every indented line after it: the block ends at the next top-level line.
_CONFIG_BLOCK = re.compile(r"^config:[ \t]*\n(?:[ \t].*\n)*", re.MULTILINE)
_DOC_SECTION = re.compile(re.escape(START) + r"\n.*?" + re.escape(END), re.DOTALL)


def pulumi_yaml(current: str) -> str:
    """`current` (Pulumi.yaml's text) with its `config:` block regenerated; the rest is kept as written."""
    return _replace_once(current, _CONFIG_BLOCK, config_block(), "top-level `config:` block")


def config_doc(current: str) -> str:
    """`current` (CONFIG_DOC's text) with the tables between the markers regenerated."""
    section = f"{START}\n{config_doc_tables()}\n{END}"
    return _replace_once(current, _DOC_SECTION, section, f"{START} ... {END} section")


GENERATED: dict[str, Callable[[str], str]] = {"Pulumi.yaml": pulumi_yaml, CONFIG_DOC: config_doc}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m canary.config.reference", description="Generate the config reference from the settings models."
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--write", action="store_true", help=f"rewrite Pulumi.yaml's config block and the tables of {CONFIG_DOC}"
    )
    mode.add_argument("--check", action="store_true", help="exit 1 if either file differs from what the models give")
    parser.add_argument("--project-dir", type=Path, default=Path("."), help="directory of Pulumi.yaml (default: .)")
    args = parser.parse_args(argv)

    stale: dict[str, str] = {}
    # Every file is read and regenerated before any is written: a bad one leaves both untouched.
    for name, regenerate in GENERATED.items():
        path = args.project_dir / name
        try:
            current = path.read_text(encoding="utf-8")
            wanted = regenerate(current)
        except (OSError, UnicodeDecodeError, LayoutError) as err:
            say(f"{path}: {err.strerror if isinstance(err, OSError) else err}", to=sys.stderr)
            return exit_status.USAGE
        if wanted != current:
            stale[name] = wanted
    if args.write:
        for name, wanted in stale.items():
            (args.project_dir / name).write_text(wanted, encoding="utf-8")
            say(f"rewrote {args.project_dir / name}")
    elif stale:
        say(f"{' and '.join(stale)} out of date with the models in canary/config/: run {COMMAND}", to=sys.stderr)
        return exit_status.FAILED
    return exit_status.OK


if __name__ == "__main__":
    sys.exit(main())
