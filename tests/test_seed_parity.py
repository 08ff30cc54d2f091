"""The dev stack declares every field of the tutorial's seven manifests (tests/data/seed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.plan.cookie import cookie_regex

SEED = Path(__file__).parent / "data" / "seed"
SEED_FILES = sorted(SEED.glob("*.yml"))
# The one field the program deliberately declares differently: the tutorial's cookie regex
# misses the cookie whenever it is not the first one (see canary/plan/cookie.py).
CORRECTED_COOKIE_RULE = "spec.http[0].match[0].headers.cookie.regex"


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Paths of every field of `expected` that `actual` lacks or holds with another value."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [path]
        found: list[str] = []
        for key, value in expected.items():
            child = f"{path}.{key}" if path else key
            found += differences(value, actual[key], child) if key in actual else [child]
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) < len(expected):
            return [path]
        found = []
        for index, item in enumerate(expected):
            found += differences(item, actual[index], f"{path}[{index}]")
        return found
    return [] if expected == actual else [path]


def declared(dev_stack, kind: str, name: str) -> dict[str, Any]:
    matches = [m for m in dev_stack.find(kind) if m["metadata"]["name"] == name]
    assert len(matches) == 1, f"the dev stack declares {len(matches)} {kind} named {name}"
    return matches[0]


def test_differences_reports_a_missing_or_changed_field():
    assert differences({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1, {"c": 3}]}}) == ["a.b[1].c"]
    assert differences({"a": 1, "b": 2}, {"a": 1}) == ["b"]
    assert differences({"a": [1, 2]}, {"a": [1, 2, 3], "extra": True}) == []


@pytest.mark.parametrize("seed_file", SEED_FILES, ids=lambda p: p.name)
def test_dev_stack_declares_every_field_of_the_tutorial_manifest(dev_stack, seed_file):
    seed = yaml.safe_load(seed_file.read_text())
    actual = declared(dev_stack, seed["kind"], seed["metadata"]["name"])
    missing = differences(seed, actual)
    if seed["kind"] == "VirtualService":
        assert missing == [CORRECTED_COOKIE_RULE]
    else:
        assert missing == []


def test_dev_stack_uses_the_corrected_cookie_rule_for_the_tutorial_cookie(dev_stack):
    virtual_service = declared(dev_stack, "VirtualService", "nginx-virtualservice")
    rule = virtual_service["spec"]["http"][0]["match"][0]["headers"]["cookie"]["regex"]
    assert rule == cookie_regex("version=v2")


def test_dev_stack_declares_no_object_beyond_the_tutorial(dev_stack):
    seeds = {(m["kind"], m["metadata"]["name"]) for m in map(yaml.safe_load, map(Path.read_text, SEED_FILES))}
    assert {(m["kind"], m["metadata"]["name"]) for m in dev_stack.manifests()} == seeds
