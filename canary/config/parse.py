"""Raw config values (strings, as Pulumi hands them over) -> validated `StackSettings`, or one `ConfigError`.

How a key's string is read (as JSON, an integer, a boolean or as it is) follows from the type
its field declares: the models are the only table of keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pydantic

from canary.config.annotations import json_type
from canary.config.messages import (
    MUST_BE_SECRET,
    TOO_MANY_DIGITS,
    ConfigError,
    config_error,
    describe,
    did_you_mean,
    show,
)
from canary.config.settings import StackSettings

_TYPES = {field.alias or name: json_type(field.annotation) for name, field in StackSettings.model_fields.items()}
_KEYS = set(_TYPES)
# "" (Pulumi.yaml's default for a string key that has no default of its own) means "not set".
_OPTIONAL_EMPTY = {
    field.alias or name
    for name, field in StackSettings.model_fields.items()
    if _TYPES[field.alias or name] == "string" and not field.is_required() and field.default is None
}


def _read(key: str, text: str) -> tuple[Any, str | None]:
    """The value of one key's string, or why it cannot be read as its type."""
    kind = _TYPES[key]
    if kind in ("object", "array"):
        try:
            return json.loads(text), None
        except (json.JSONDecodeError, RecursionError):
            return None, f"{key}: must be a structured value (a YAML list or mapping), got {show(text)}"
        except ValueError:  # a number int() refuses
            return None, f"{key}: {TOO_MANY_DIGITS}, got {show(text)}"
    if kind == "integer":
        if re.fullmatch(r"\s*-?[0-9]+\s*", text):
            try:
                return int(text), None
            except ValueError:
                return None, f"{key}: {TOO_MANY_DIGITS}, got {show(text)}"
        return None, f"{key}: must be an integer, got {show(text)}"
    if kind == "boolean":
        if text.strip() in ("true", "false"):
            return text.strip() == "true", None
        return None, f"{key}: must be true or false, got {show(text)}"
    if kind == "string":
        return text, None
    raise TypeError(f"{key}: no reading for config type {kind}")


def parse_settings(raw: Mapping[str, str]) -> StackSettings:
    """Validate raw config values (strings, as Pulumi hands them over) keyed without the project prefix."""
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key, text in raw.items():
        if key not in _KEYS:
            errors.append(f"{key}: unknown key{did_you_mean(key, _KEYS)}, got {show(text)}")
            continue
        if key in _OPTIONAL_EMPTY and text == "":
            continue
        value, error = _read(key, text)
        if error is not None and key in MUST_BE_SECRET:
            # The text is a secret's: the message names the key alone.
            errors.append(f"{key}: must be a mapping of names to secret values")
        elif error is not None:
            errors.append(error)
        else:
            values[key] = value
    if not errors:
        try:
            return StackSettings.model_validate(values)
        except pydantic.ValidationError as err:
            errors.extend(describe(error) for error in err.errors())
    raise config_error(errors)


__all__ = ["ConfigError", "parse_settings"]
