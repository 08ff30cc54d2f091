"""pydantic's validation errors as the stack's users read them: `key.path: what is wrong, got value`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from canary.config.settings import PROJECT
from canary.config.value_types import NestedKeyError
from canary.plan.rules import checks

show = checks.show


TOO_MANY_DIGITS = "a whole number of more digits than any setting could use"
"""Past 4,300 decimal digits Python's int() refuses a number (sys.get_int_max_str_digits)."""


class ConfigError(ValueError):
    """The stack config is invalid; the message lists every offending key and value."""


def config_error(lines: Iterable[str]) -> ConfigError:
    """One error for every offending key, one line each."""
    return ConfigError(f"invalid stack config (keys under {PROJECT}:):\n  " + "\n  ".join(lines))


def describe(error: Mapping[str, Any]) -> str:
    """One pydantic error as `key.path: what is wrong, got value`."""
    loc = [part for part in error["loc"] if not _is_type_tag(part)]
    path = _path(loc)
    if error["type"] == "value_error" and isinstance(error.get("ctx", {}).get("error"), NestedKeyError):
        problem = error["ctx"]["error"]
        below = problem.key if problem.key.startswith("[") or not path or not problem.key else f".{problem.key}"
        return f"{path}{below}: {problem.reason}, got {show(problem.value)}"
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind == "extra_forbidden":
        parent = _path(loc[:-1])
        return f"{path}: unknown key in {parent or 'config'}, got {show(value)}"
    if kind == "value_error":
        reason = str(error["ctx"]["error"])
    elif kind == "literal_error":
        reason = f"must be one of {error['ctx']['expected']}"
    else:
        reason = _TYPE_REASONS.get(kind, error["msg"])
    return f"{path}: {reason}, got {show(value)}"


_TYPE_REASONS = {
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


def did_you_mean(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(sorted(known))})"


def _is_type_tag(part: Any) -> bool:
    # pydantic inserts the branch tried in a union (`str`, `literal[False]`, `function-after[...]`).
    return isinstance(part, str) and (part.endswith("]") or part in {"str", "int", "bool"})


def _path(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part.isprintable() or any(ch.isspace() for ch in part):
            # A key with a line break in it would split the message's one line: shown quoted.
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else str(part)
    return text


SECRET_KEYS = ("rollout", "secretEnv")
"""The keys that may hold secrets: `rollout`'s only `canary rollout` reads (a webhook's token,
Prometheus' credentials); `secretEnv`'s go into a Secret of the release's own and nowhere else."""
MUST_BE_SECRET = ("secretEnv",)
"""The keys whose every value must be stored as a secret: a plain one is refused."""


def refuse_secrets(keys: list[str]) -> str:
    """Why secret config is refused: every other key's values end up in plain text in objects and outputs."""
    allowed = " and ".join(f"{key}" for key in SECRET_KEYS)
    return str(
        config_error(
            f"{key}: stored as a secret; its values go into cluster objects and stack outputs in plain text, "
            f"so store it without --secret (only {allowed} keys may be secrets)"
            for key in keys
        )
    )
