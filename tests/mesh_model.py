"""A small interpreter of the VirtualService fields the program uses, as Istio applies them.

Given a VirtualService spec and a request (its headers), it returns the traffic split the
request gets: the first HTTP route whose match list has an entry that matches (entries are ORed,
the conditions inside one entry ANDed; no match list matches everything), then that route's
destination weights (a lone destination gets everything). Header regexes are RE2, full match,
as Envoy evaluates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import re2


def _condition_holds(condition: Mapping[str, str], value: str | None) -> bool:
    if value is None:
        return False
    if "exact" in condition:
        return value == condition["exact"]
    if "regex" in condition:
        return re2.compile(condition["regex"]).fullmatch(value) is not None
    if "prefix" in condition:
        return value.startswith(condition["prefix"])
    raise ValueError(f"condition kind not modelled: {condition}")


def _entry_matches(entry: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    unmodelled = set(entry) - {"headers", "name"}
    if unmodelled:
        raise ValueError(f"match fields not modelled: {unmodelled}")
    return all(_condition_holds(cond, headers.get(name)) for name, cond in entry.get("headers", {}).items())


def route_for(spec: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
    """The first HTTP route that takes the request (header names lower-case)."""
    for route in spec["http"]:
        matches = route.get("match")
        if not matches or any(_entry_matches(entry, headers) for entry in matches):
            return route
    raise LookupError("no route takes the request: Istio answers 404")


def split_for(spec: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, int]:
    """Percent of such requests per subset."""
    destinations = route_for(spec, headers)["route"]
    if len(destinations) == 1:
        return {destinations[0]["destination"]["subset"]: 100}
    split = {d["destination"]["subset"]: d.get("weight", 0) for d in destinations}
    if sum(split.values()) != 100:
        raise ValueError(f"weights must add up to 100: {split}")
    return split


def response_header_for(spec: Mapping[str, Any], headers: Mapping[str, str], subset: str) -> dict[str, str]:
    """The response headers the mesh sets when the request goes to `subset`."""
    for destination in route_for(spec, headers)["route"]:
        if destination["destination"]["subset"] == subset:
            return destination.get("headers", {}).get("response", {}).get("set", {})
    raise LookupError(subset)
